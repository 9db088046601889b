"""Baseline: SHOR-PSRO, Smoothed Hybrid Optimistic Regret PSRO (Li, Schultz, Hennes, Lanctot
2026, "Discovering Multiagent Learning Algorithms with Large Language Models", arXiv
2602.16928), the meta-solvers AlphaEvolve found in this task's search space, with the paper's
constants.

Each call runs ROUNDS rounds of a hybrid solver on the meta-game, the players updating in turn.
On its turn player p sees v, each member's payoff against the others' current mixtures; its
cumulative regret Q gains the regret r = v - sigma_p . v of the mixture it played, floored at
zero (regret matching plus), and it then plays

    sigma_p = (1 - lam) * ORM+(Q, r) + lam * softmax((v + bonus * (1 - sigma_p)) / temperature)

where ORM+ is optimistic regret matching plus (Q plus r once more, normalised) and the softmax
is the smoothed, temperature-controlled distribution over the best pure strategies, with a
diversity bonus for the members the mixture plays little.

- Training time (`meta_solver`, whose meta-strategy the best responses answer): lam 0.3 -> 0.05,
  diversity bonus 0.05 -> 0.001 and temperature 0.5 -> 0.01, annealed linearly over the first
  75 PSRO iterations; it returns the average of the rounds' mixtures: diversity early,
  equilibrium finding later.
- Evaluation time (`eval_solver`, whose meta-strategy is scored): lam 0.01, temperature 0.001,
  no bonus, and the last round's mixture (last iterate).

Our reading where the paper's text leaves a detail open (its listing is not reproduced here):
the form of the diversity bonus (in the softmax only), linear schedules, each call starting
from the uniform mixture, and the round structure above (the regret of the mixture actually
played, players in turn). The round structure decides the result: a first version that built
each round's mixture from the payoffs against the others' previous mixtures and then credited
it with the regret against those payoffs never converged in its last iterate (more rounds made
it worse: Leduc at PSRO iteration 100, 0.36 at 1000 rounds, 0.90 at 5000) and lost to Uniform
on 2-player Kuhn (the PSRO README has the comparison).
"""
import numpy as np
from psro_loop import member_payoff, run

# EVOLVE-BLOCK-START
ROUNDS, ANNEAL = 1000, 75
TRAIN_START = {"lam": 0.3, "bonus": 0.05, "temperature": 0.5}
TRAIN_END = {"lam": 0.05, "bonus": 0.001, "temperature": 0.01}
EVAL = {"lam": 0.01, "bonus": 0.0, "temperature": 0.001}


def hybrid(payoffs, lam, bonus, temperature, rounds=ROUNDS):
    """(average mixture, last mixture) per player after `rounds` rounds of the blend."""
    sizes = payoffs.shape[1:]
    regret = [np.zeros(k) for k in sizes]
    sigma = [np.full(k, 1.0 / k) for k in sizes]
    total = [np.zeros(k) for k in sizes]
    for _ in range(rounds):
        for p in range(len(sizes)):
            v = member_payoff(payoffs, sigma, p)
            last = v - sigma[p] @ v
            regret[p] = np.maximum(regret[p] + last, 0.0)
            optimistic = np.maximum(regret[p] + last, 0.0)
            orm = optimistic / optimistic.sum() if optimistic.sum() > 0 \
                else np.full(len(v), 1.0 / len(v))
            bonused = v + bonus * (1.0 - sigma[p])  # the diversity bonus, in the softmax only
            smooth = np.exp((bonused - bonused.max()) / temperature)
            sigma[p] = (1 - lam) * orm + lam * smooth / smooth.sum()
            total[p] += sigma[p]
    return [s / s.sum() for s in total], sigma


def meta_solver(state, t, payoffs):
    progress = min(1.0, (t - 1) / ANNEAL)
    knobs = {key: TRAIN_START[key] + (TRAIN_END[key] - TRAIN_START[key]) * progress
             for key in TRAIN_START}
    average, _ = hybrid(payoffs, **knobs)
    return average


def eval_solver(state, t, payoffs, train):
    _, last = hybrid(payoffs, **EVAL)
    return last
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro, eval_solver)
