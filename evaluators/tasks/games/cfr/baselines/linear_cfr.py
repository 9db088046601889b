"""Baseline: Linear CFR (Brown & Sandholm 2019): iteration t's regret and policy weighted by t."""
from cfr_loop import regret_matching, run


# EVOLVE-BLOCK-START
def step(state, t, regret, policy, mask):
    state["regret"] = state.get("regret", 0.0) + t * regret
    return regret_matching(state["regret"], mask), float(t)
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
