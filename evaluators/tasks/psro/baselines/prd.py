"""PSRO with projected replicator dynamics (Lanctot et al. 2017): replicator dynamics on the
meta-game, each probability projected back above a floor gamma / K so no member is ever
dropped for good; warm-started from the last iteration's meta-strategy."""
import numpy as np
from psro_loop import member_payoffs, run


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs, steps=1000, dt=0.01, gamma=1e-6):
    sizes = payoffs.shape[1:]
    sigma = [np.r_[old, np.full(k - len(old), 1.0 / k)] for old, k in
             zip(state.get("sigma", [np.zeros(0)] * len(sizes)), sizes, strict=True)]
    sigma = [s / s.sum() for s in sigma]
    for _ in range(steps):
        values = member_payoffs(payoffs, sigma)
        sigma = [project(s + dt * s * (v - s @ v), gamma / len(s))
                 for s, v in zip(sigma, values, strict=True)]
    state["sigma"] = sigma
    return sigma


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
