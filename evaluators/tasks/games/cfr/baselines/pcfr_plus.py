"""Baseline: Predictive CFR+ (Farina et al. 2021): regret matching plus on the accumulated regrets
plus the latest instantaneous regret as the prediction; quadratic averaging."""
import numpy as np
from cfr_loop import regret_matching, run


# EVOLVE-BLOCK-START
def step(state, t, regret, policy, mask):
    cumulative = np.maximum(state.get("regret", 0.0) + regret, 0.0)
    state["regret"] = cumulative
    return regret_matching(cumulative + regret, mask), float(t) ** 2
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
