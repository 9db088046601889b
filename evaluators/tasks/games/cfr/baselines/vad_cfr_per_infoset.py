"""Baseline: VAD-CFR with one moving average per information set: our reading, a named variant
beside `vad_cfr.py` (the paper's Listing 5 exactly; its docstring gives the steps). Everything
is the listing's but the volatility's moving average: the listing keeps ONE running value,
updated at every information set in the order the solver visits them, so the volatility an
information set sees depends on the regrets of the sets visited just before it (and on the
traversal order). Here each information set keeps its own average, over iterations, of its own
largest |instantaneous regret| (0.1 new, at iteration 0 its own): order-free, vectorised, and
what the task's figures used before the listing was followed (README, "Reproducing the paper").
"""
import numpy as np
from cfr_loop import regret_matching, run

# EVOLVE-BLOCK-START
EWMA_DECAY, MAX_REGRET, SENSITIVITY = 0.1, 2.0, 0.5
BASE_ALPHA, BASE_BETA, BOOST, FLOOR = 1.5, -0.1, 1.1, -20.0
OPTIMISM, OPTIMISM_DECAY, POWER = 1.0, 100.0, 1.5
BASE_GAMMA, GAMMA_MAX, GAMMA_SENSITIVITY = 2.0, 4.0, 1.5
STABILITY, MAGNITUDE = 1.5, 0.5
WARM_START = 500  # iterations the average skips


def moving_average(state, biggest, n):
    """Each row's own moving average, over iterations, of its largest |regret|."""
    ewma = biggest if n == 0 else EWMA_DECAY * biggest + (1.0 - EWMA_DECAY) * state["ewma"]
    state["ewma"] = ewma
    return ewma


def average_weight(biggest, n):
    """The weight of the policy just played: nothing in the warm-up, then temporal x stability
    x magnitude, all from this iteration's largest |regret| at the row."""
    if n < WARM_START:
        return 0.0
    gamma = np.minimum(GAMMA_MAX, BASE_GAMMA + GAMMA_SENSITIVITY
                       * np.minimum(1.0, biggest / MAX_REGRET))
    stability = 1.0 / (1.0 + biggest**STABILITY)
    magnitude = np.maximum(0.1, (1.0 + biggest / MAX_REGRET) ** MAGNITUDE)
    return (float(n) + 1.0) ** gamma * stability * magnitude


def step(state, t, regret, policy, mask):
    n = t - 1  # the listing's 0-based iteration
    biggest = np.abs(regret).max(axis=1)
    vol = np.minimum(1.0, moving_average(state, biggest, n) / MAX_REGRET)[:, None]
    alpha = np.maximum(0.1, BASE_ALPHA - SENSITIVITY * vol)
    beta = np.minimum(alpha, BASE_BETA - SENSITIVITY * vol)
    plus, minus = (float(t) ** e / (float(t) ** e + 1.0) for e in (alpha, beta))
    boosted = np.where(regret > 0, regret * BOOST, regret)
    cumulative = state.get("regret", np.zeros_like(regret))
    cumulative = np.maximum(FLOOR, np.where(cumulative >= 0, plus, minus) * cumulative + boosted)
    state["regret"] = cumulative

    optimism = OPTIMISM / (1.0 + float(n) / OPTIMISM_DECAY) * np.maximum(0.0, 1.0 - SENSITIVITY
                                                                         * vol)
    projected = np.where(cumulative >= 0, plus, minus) * cumulative + optimism * boosted
    return regret_matching(projected, mask, POWER), average_weight(biggest, n)
# EVOLVE-BLOCK-END


def solve(cfr):
    return run(step, cfr)
