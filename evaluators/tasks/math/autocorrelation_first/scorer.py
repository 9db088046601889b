"""Trusted scorer for the first autocorrelation inequality: the candidate's step function is
checked (n finite, non-negative heights, not all zero) and its bound on C1 computed exactly
from the grid sums, rounded against the candidate (see _shared/step_functions.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`
from step_functions import autoconvolution_max_ratio, nonnegative_heights, ratio_score

from evaluators.scoring import Metrics

ALPHAEVOLVE = 1.5052939684401607
"""The bound of AlphaEvolve's 600-step function (results notebook, section B.1), as this scorer
computes it: score 1. Before it: Matolcsi and Vinuesa (2010), a step function: C1 <= 1.5098."""


def score(stage, case, outputs, oracle):
    """Score = ALPHAEVOLVE / bound: lower bounds on max(f*f) / (integral f)^2 score higher."""
    n = case.inputs["n"]
    a = nonnegative_heights(outputs, n)
    bound = autoconvolution_max_ratio(a)
    return Metrics(ratio_score(bound, ALPHAEVOLVE, minimise=True),
                   {"c1_bound": bound, "n": n})
