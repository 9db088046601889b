"""Baseline: SHOR-PSRO, Smoothed Hybrid Optimistic Regret PSRO (Li, Schultz, Hennes, Lanctot
2026, "Discovering Multiagent Learning Algorithms with Large Language Models", arXiv
2602.16928), the meta-solvers AlphaEvolve found in this task's search space, as the paper's
Listing 6 gives them: its constants, its order of operations, its counters.

Each call runs a hybrid solver for `iterations` rounds from the uniform mixtures. In a round
the players update in turn (player p sees the mixtures players < p already chose this round).
Player p's turn, with v its members' payoffs against the others' current mixtures:

    g   = v - mean(v)                               centred gains (the plain mean, not sigma_p . v)
    o   = (1 + beta) g - beta g_prev                optimistic (momentum) gains, g_prev: p's last g
    o  += bonus * (1 - sigma_p)                     diversity bonus on the gains
    o  /= max|o|            (when max|o| > 1e-8)    per-round gain normalisation
    Q   = max(Q + o, 0)                             regret matching plus
    sigma_p = (1 - lam) * Q / sum(Q) + lam * softmax(v / temperature)

(Q / sum(Q) is uniform when sum(Q) <= 1e-12.) After every player's turn the round's mixtures
join the running sum.

- Training time (`meta_solver`, whose meta-strategy the best responses answer): at the k-th
  call (k = t, PSRO's iteration, from 1) progress = min(1, k / 75); lam 0.3 -> 0.05, temperature
  0.5 -> 0.01, bonus 0.05 -> 0.001 interpolated as start * (1 - progress) + end * progress and
  clipped to their range; beta 0.5; 1000 + 20 (K - 1) rounds clipped to [1000, 5000], K player
  0's population; it returns the average of the rounds' mixtures.
- Evaluation time (`eval_solver`, whose meta-strategy is scored): lam 0.01, temperature 0.001,
  beta 0.2, no bonus; 8000 + 50 (K - 1) rounds clipped to [8000, 15000]; it returns the last
  round's mixtures (last iterate).

The reading this task shipped before the listing was read (the regret of the mixture played,
no momentum, no normalisation, the bonus in the softmax, 1000 rounds) is kept beside it as
`shor_mixture_regret.py`; the README compares the two.
"""
import numpy as np
from psro_loop import member_payoff, run

# EVOLVE-BLOCK-START
ANNEAL = 75
TRAIN = {"rounds": (1000, 20, 5000), "beta": 0.5,
         "start": {"lam": 0.3, "temperature": 0.5, "bonus": 0.05},
         "end": {"lam": 0.05, "temperature": 0.01, "bonus": 0.001}}
EVAL = {"rounds": (8000, 50, 15000), "beta": 0.2, "lam": 0.01, "temperature": 0.001,
        "bonus": 0.0}


def rounds(payoffs, base, per_member, most):
    """base + per_member * (K - 1) clipped to [base, most], K player 0's population."""
    return int(np.clip(int(base + per_member * (payoffs.shape[1] - 1)), base, most))


def softmax(v, temperature):
    """The smoothed best pure strategy: softmax(v / temperature), uniform if it underflows."""
    weights = np.exp((v - v.max()) / temperature)
    total = weights.sum()
    return weights / total if total > 1e-12 else np.ones_like(v) / len(v)


def hybrid(payoffs, rounds, lam, temperature, beta, bonus):
    """(average mixture, last mixture) per player after `rounds` rounds of the hybrid solver."""
    sizes = payoffs.shape[1:]
    sigma = [np.ones(k) / k for k in sizes]
    regret = [np.zeros(k) for k in sizes]
    total = [np.zeros(k) for k in sizes]
    previous = [np.zeros(k) for k in sizes]
    for _ in range(rounds):
        for p in range(len(sizes)):
            v = member_payoff(payoffs, sigma, p)
            centred = v - v.mean()
            gains = (1 + beta) * centred - beta * previous[p] + bonus * (1.0 - sigma[p])
            scale = np.abs(gains).max()
            if scale > 1e-8:
                gains /= scale
            regret[p] = np.maximum(0, regret[p] + gains)
            positive = regret[p].sum()
            orm = regret[p] / positive if positive > 1e-12 else np.ones(len(v)) / len(v)
            sigma[p] = (1 - lam) * orm + lam * softmax(v, temperature)
            previous[p] = centred
        for p in range(len(sizes)):
            total[p] += sigma[p]
    average = [s / s.sum() if s.sum() > 0 else np.ones(len(s)) / len(s) for s in total]
    return average, sigma


def meta_solver(state, t, payoffs):
    progress = min(1.0, t / ANNEAL)
    knobs = {key: float(np.clip(start * (1.0 - progress) + TRAIN["end"][key] * progress,
                                TRAIN["end"][key], start))
             for key, start in TRAIN["start"].items()}
    average, _ = hybrid(payoffs, rounds(payoffs, *TRAIN["rounds"]), beta=TRAIN["beta"], **knobs)
    return average


def eval_solver(state, t, payoffs, train):
    _, last = hybrid(payoffs, rounds(payoffs, *EVAL["rounds"]), EVAL["lam"],
                     EVAL["temperature"], EVAL["beta"], EVAL["bonus"])
    return last
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro, eval_solver)
