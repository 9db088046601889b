"""Baseline: Predictive Discounted CFR+ (Xu et al. 2024), alpha=2.3, gamma=5: the accumulated
regrets discounted by (t-1)^a/((t-1)^a+1) and floored at zero (CFR+), the policy from them
discounted once more plus the latest instantaneous regret as the prediction (PCFR+), the
average weighted by t^gamma."""
import numpy as np
from cfr_loop import regret_matching, run

# EVOLVE-BLOCK-START
ALPHA, GAMMA = 2.3, 5.0


def step(state, t, regret, policy, mask):
    kept = (t - 1) ** ALPHA / ((t - 1) ** ALPHA + 1)
    cumulative = np.maximum(state.get("regret", 0.0) * kept + regret, 0.0)
    state["regret"] = cumulative
    predicted = np.maximum(cumulative * t**ALPHA / (t**ALPHA + 1) + regret, 0.0)
    return regret_matching(predicted, mask), float(t) ** GAMMA
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
