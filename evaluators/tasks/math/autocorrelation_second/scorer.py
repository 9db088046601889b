"""Trusted scorer for the second autocorrelation inequality: the candidate's step function is
checked (n finite, non-negative heights, not all zero) and its lower bound on C2 computed
exactly from the grid sums of its autoconvolution, then rounded down by more than float64's
worst-case error (every term is non-negative: no cancellation, relative error at most a few
gamma(2n + 2), see _shared/step_functions.py)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`
from step_functions import autoconvolution, gamma, nonnegative_heights, ratio_score

from evaluators.scoring import Metrics

ALPHAEVOLVE = 0.8962799441554076
"""The bound of AlphaEvolve's 50-step function (results notebook, section B.2), as this scorer
computes it: score 1. Before it: Matolcsi and Vinuesa (2010), a step function: C2 >=
0.88922."""
ROUNDING = 10
"""The bound is multiplied by 1 - ROUNDING * gamma(2n + 2): the L2 sum, the L1 sum and the
maximum each carry at most a few gamma of relative error, so the figure reported is never
above the exact ratio."""


def c2_bound(a: np.ndarray) -> float:
    """||g||_2^2 / (||g||_1 ||g||_inf) for g = f*f, f the step function with non-negative
    heights a. g is piecewise linear: y_k = conv[k] at the 2n - 1 interior knots, 0 at the
    ends, equal spacing w; so ||g||_2^2 = w/3 sum (y_k^2 + y_k y_k+1 + y_k+1^2),
    ||g||_1 = w sum y_k and ||g||_inf = max y_k, and w cancels out."""
    conv, _ = autoconvolution(a)
    y = np.concatenate(([0.0], conv, [0.0]))
    left, right = y[:-1], y[1:]
    l2_squared = float((left * left + left * right + right * right).sum()) / 3
    exact = l2_squared / (float(conv.sum()) * float(conv.max()))
    return exact * (1 - ROUNDING * gamma(2 * a.size + 2))


def score(stage, case, outputs, oracle):
    """Score = bound / ALPHAEVOLVE: higher lower bounds score higher."""
    n = case.inputs["n"]
    a = nonnegative_heights(outputs, n)
    bound = c2_bound(a)
    return Metrics(ratio_score(bound, ALPHAEVOLVE, minimise=False), {"c2_bound": bound, "n": n})
