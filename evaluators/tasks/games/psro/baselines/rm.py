"""PSRO with a regret-matching meta-solver: every player runs regret matching (Hart &
Mas-Colell 2000) on the meta-game for a fixed number of rounds; the average strategies, which
approach a coarse correlated equilibrium (a Nash equilibrium in two-player zero-sum games), are
the meta-strategy."""
import numpy as np
from psro_loop import member_payoffs, run


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs, rounds=1000):
    sizes = payoffs.shape[1:]
    regret = [np.zeros(k) for k in sizes]
    total = [np.zeros(k) for k in sizes]
    for _ in range(rounds):
        sigma = []
        for r in regret:
            positive = np.maximum(r, 0.0)
            sigma.append(positive / positive.sum() if positive.sum() > 0
                         else np.full(len(r), 1.0 / len(r)))
        values = member_payoffs(payoffs, sigma)
        for p, (s, v) in enumerate(zip(sigma, values, strict=True)):
            regret[p] += v - np.sum(s * v)  # a fixed-order sum: no BLAS dot
            total[p] += s
    return [s / s.sum() for s in total]
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro)
