"""Baseline: Linear CFR (Brown & Sandholm 2019): iteration t's regret and policy weighted by t."""
import numpy as np
from cfr_engine import run


# EVOLVE-BLOCK-START
def regret_matching(cumulative, mask):
    positive = np.maximum(cumulative, 0.0) * mask
    total = positive.sum(axis=1, keepdims=True)
    uniform = mask / mask.sum(axis=1, keepdims=True)
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), uniform)


def step(state, t, regret, policy, mask):
    state["regret"] = state.get("regret", 0.0) + t * regret
    return regret_matching(state["regret"], mask), float(t)
# EVOLVE-BLOCK-END


def solve(game, checkpoints, alternating):
    return run(game, step, checkpoints, alternating)
