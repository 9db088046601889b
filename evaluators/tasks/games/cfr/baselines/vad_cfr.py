"""Baseline: VAD-CFR, Volatility-Adaptive Discounted CFR (Li, Schultz, Hennes, Lanctot 2026,
"Discovering Multiagent Learning Algorithms with Large Language Models", arXiv 2602.16928), as
the paper's Listing 5 gives it (its RegretAccumulator, PolicyFromRegretAccumulator and
PolicyAccumulator, called in that order at each information set), vectorised over the rows.
The listing counts iterations from 0: its iteration n is this task's t = n + 1.

At each information set, with m the largest |instantaneous regret| there:

1. the moving average: ONE running value for the whole solver, updated at every information set
   in the order they are visited, ewma = 0.1 m + 0.9 ewma (at iteration 0: ewma = m); vol =
   min(1, ewma / 2); alpha = max(0.1, 1.5 - 0.5 vol), beta = min(alpha, -0.1 - 0.5 vol);
   discount d+ = (n+1)^alpha / ((n+1)^alpha + 1), d- likewise with beta;
2. the cumulative regret R = max(-20, d R + r'), d = d+ where R >= 0 else d-, r' the regret
   with its positive entries x1.1;
3. the weight of the policy just played: 0 while n < 500, then (n+1)^gamma x 1 / (1 + m^1.5) x
   max(0.1, (1 + m/2)^0.5), gamma = min(4, 2 + 1.5 min(1, m/2)) (this iteration's m, not the
   moving average); the oracle multiplies it by the player's own reach, as the listing does;
4. the next policy: regret matching on max(0, P)^1.5 of P = d R + (1 / (1 + n/100)) max(0,
   1 - 0.5 vol) r', discounting the UPDATED R once more (the policy accumulator keeps its own
   moving average, fed the same regrets in the same order, so it equals step 1's).

Order of the running value: the listing's accumulators are shared by all players, so the value
runs through the information sets in the order the rule receives them: each player's rows in
the engine's order (information sets numbered as a breadth-first walk of the tree first meets
them), the players in turn, iteration after iteration. It lives in the module (`RUNNING`)
because `state` is per player. The listing's own walk (OpenSpiel's recursive CFR) is
depth-first and updates after the children, at every history; a rule that sees only rows cannot
take that order (README, "Reproducing the paper"). `vad_cfr_per_infoset.py` is our reading
with one moving average per information set instead.

One departure, the engine's and not the rule's: regret_matching counts projected regrets within
1e-12 of zero as zero (before the power), as it does for every baseline (cfr_loop.py says why).
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
RUNNING = {"ewma": 0.0}  # the listing's one moving average, shared by every player's rows


def moving_average(biggest, n):
    """Each row's moving average of the largest |regret|, the one running value carried from
    row to row in order (and from call to call): at iteration 0 a row's is its own."""
    if n == 0:
        ewma = biggest.copy()
    else:
        ewma, value = np.empty_like(biggest), RUNNING["ewma"]
        for row, magnitude in enumerate(biggest.tolist()):
            value = EWMA_DECAY * magnitude + (1.0 - EWMA_DECAY) * value
            ewma[row] = value
    if len(ewma):
        RUNNING["ewma"] = float(ewma[-1])
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
    vol = np.minimum(1.0, moving_average(biggest, n) / MAX_REGRET)[:, None]
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
