"""Baseline: Predictive CFR+ (Farina et al. 2021): regret matching plus on the accumulated regrets
plus the latest instantaneous regret as the prediction; quadratic averaging."""
import numpy as np
from cfr_engine import run


# EVOLVE-BLOCK-START
def regret_matching(cumulative, mask):
    positive = np.maximum(cumulative, 0.0) * mask
    total = positive.sum(axis=1, keepdims=True)
    uniform = mask / mask.sum(axis=1, keepdims=True)
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), uniform)


def step(state, t, regret, policy, mask):
    cumulative = np.maximum(state.get("regret", 0.0) + regret, 0.0)
    state["regret"] = cumulative
    return regret_matching(cumulative + regret, mask), float(t) ** 2
# EVOLVE-BLOCK-END


def solve(game, checkpoints, alternating):
    return run(game, step, checkpoints, alternating)
