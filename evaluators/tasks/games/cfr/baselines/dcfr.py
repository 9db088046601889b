"""Baseline: Discounted CFR (Brown & Sandholm 2019), alpha=1.5, beta=0, gamma=2: positive regrets
scaled by t^a/(t^a+1), negative by 1/2, the average by (t/(t+1))^2 each iteration."""
import numpy as np
from cfr_loop import regret_matching, run

# EVOLVE-BLOCK-START
ALPHA, BETA, GAMMA = 1.5, 0.0, 2.0


def step(state, t, regret, policy, mask):
    cumulative = state.get("regret", 0.0) + regret
    positive = t**ALPHA / (t**ALPHA + 1)
    negative = t**BETA / (t**BETA + 1)
    cumulative = np.where(cumulative > 0, cumulative * positive, cumulative * negative)
    state["regret"] = cumulative
    # the average is discounted by (t / (t + 1)) ** gamma each iteration: weight t ** gamma
    return regret_matching(cumulative, mask), float(t) ** GAMMA
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
