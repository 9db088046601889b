"""PSRO with projected replicator dynamics (Lanctot et al. 2017): replicator dynamics on the
meta-game from the uniform distribution, each probability projected back above a floor
gamma / K so no member is ever dropped for good. Replicator dynamics cycle in zero-sum games;
the average over the second half of the trajectory is the meta-strategy (as OpenSpiel's
average_over_last_n_strategies)."""
import numpy as np
from psro_loop import member_payoffs, run


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs, steps=1000, dt=0.01, gamma=1e-6):
    sigma = [np.full(k, 1.0 / k) for k in payoffs.shape[1:]]
    total = [np.zeros_like(s) for s in sigma]
    for step in range(steps):
        values = member_payoffs(payoffs, sigma)
        sigma = [project(s + dt * s * (v - np.sum(s * v)), gamma / len(s))
                 for s, v in zip(sigma, values, strict=True)]
        if step >= steps // 2:
            total = [a + s for a, s in zip(total, sigma, strict=True)]
    return [a / a.sum() for a in total]


def project(x, floor):
    """Euclidean projection onto {x : sum x = 1, x >= floor} (sort-based simplex projection)."""
    y = x - floor
    budget = 1.0 - floor * len(x)
    u = np.sort(y)[::-1]
    cumulative = np.cumsum(u) - budget
    k = np.flatnonzero(u - cumulative / np.arange(1, len(u) + 1) > 0)[-1]
    return np.maximum(y - cumulative[k] / (k + 1), 0.0) + floor
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro)
