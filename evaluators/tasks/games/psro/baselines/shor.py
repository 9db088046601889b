"""Baseline: SHOR-PSRO, Smoothed Hybrid Optimistic Regret PSRO (Li, Schultz, Hennes, Lanctot
2026, "Discovering Multiagent Learning Algorithms with Large Language Models", arXiv
2602.16928), the meta-solvers AlphaEvolve found in this task's search space, with the paper's
constants.

Each call runs ROUNDS rounds of a hybrid solver on the meta-game. Every round each player plays

    sigma = (1 - lam) * ORM+(Q, r) + lam * softmax(v / temperature)

where ORM+ is optimistic regret matching plus (the floored cumulative regret Q plus the last
round's regret r once more, normalised) and v is each member's payoff against the others'
current mixtures plus a diversity bonus. Q then gains the regret of v against sigma.

- Training time (`meta_solver`, whose meta-strategy the best responses answer): lam 0.3 -> 0.05,
  diversity bonus 0.05 -> 0.001 and temperature 0.5 -> 0.01, annealed linearly over the first
  75 PSRO iterations; it returns the average of the rounds' mixtures: diversity early,
  equilibrium finding later.
- Evaluation time (`eval_solver`, whose meta-strategy is scored): lam 0.01, temperature 0.001,
  no bonus, and the last round's mixture (last iterate).

Our reading where the paper's text leaves a detail open (its listing is not reproduced here):
the diversity bonus adds bonus * (1 - sigma_k) to member k's payoff (members the mixture plays
little look better), the schedules are linear in the PSRO iteration, and each call starts its
rounds afresh from the uniform mixture.
"""
import numpy as np
from psro_loop import member_payoffs, run

# EVOLVE-BLOCK-START
ROUNDS, ANNEAL = 1000, 75
TRAIN_START = {"lam": 0.3, "bonus": 0.05, "temperature": 0.5}
TRAIN_END = {"lam": 0.05, "bonus": 0.001, "temperature": 0.01}
EVAL = {"lam": 0.01, "bonus": 0.0, "temperature": 0.001}


def hybrid(payoffs, lam, bonus, temperature, rounds=ROUNDS):
    """(average mixture, last mixture) per player after `rounds` rounds of the blend."""
    sizes = payoffs.shape[1:]
    regret = [np.zeros(k) for k in sizes]
    last = [np.zeros(k) for k in sizes]
    sigma = [np.full(k, 1.0 / k) for k in sizes]
    total = [np.zeros(k) for k in sizes]
    for _ in range(rounds):
        values = [v + bonus * (1.0 - s) for v, s in
                  zip(member_payoffs(payoffs, sigma), sigma, strict=True)]
        mixed = []
        for q, r, v in zip(regret, last, values, strict=True):
            optimistic = np.maximum(q + r, 0.0)
            orm = optimistic / optimistic.sum() if optimistic.sum() > 0 \
                else np.full(len(q), 1.0 / len(q))
            logits = (v - v.max()) / temperature
            smooth = np.exp(logits) / np.exp(logits).sum()
            mixed.append((1 - lam) * orm + lam * smooth)
        for p, (s, v) in enumerate(zip(mixed, values, strict=True)):
            last[p] = v - s @ v
            regret[p] = np.maximum(regret[p] + last[p], 0.0)
            total[p] += s
        sigma = mixed
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
