"""A counterfactual regret minimisation update rule. The seed is CFR+ (Tammelin 2014): regrets
accumulated and floored at zero (regret matching plus), linear averaging. cfr_loop (trusted,
next to this file) calls `step` with the regrets the evaluator's CFR sends; the rule never sees
the game or the number of iterations."""
import numpy as np
from cfr_loop import regret_matching, run


# EVOLVE-BLOCK-START
def step(state, t, regret, policy, mask):
    """One update of a set of information sets (rows) at iteration t.

    regret: this iteration's instantaneous counterfactual regret of each (row, action);
    policy: the rows' policy just played; mask: their legal actions (bool); state: a dict kept
    between calls. Returns (next policy: rows x actions, non-negative, summing to 1 over the
    legal actions; weight of the policy just played in the average: a number or one per row).
    """
    cumulative = np.maximum(state.get("regret", 0.0) + regret, 0.0)  # regret matching plus
    state["regret"] = cumulative
    return regret_matching(cumulative, mask), float(t)  # linear averaging
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
