"""Baseline: Vanilla CFR (Zinkevich et al. 2007): regrets summed, uniform averaging."""
from cfr_loop import regret_matching, run


# EVOLVE-BLOCK-START
def step(state, t, regret, policy, mask):
    state["regret"] = state.get("regret", 0.0) + regret
    return regret_matching(state["regret"], mask), 1.0
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
