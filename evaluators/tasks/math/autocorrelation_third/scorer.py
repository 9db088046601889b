"""Trusted scorer for the third autocorrelation inequality: the candidate's step function is
checked (n finite heights, not all zero, of any sign) and its bound on C3 computed exactly from
the grid sums, rounded against the candidate: with signed heights the sums can cancel, so the
rounding error is bounded and added, not assumed small (see _shared/step_functions.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`
from step_functions import autoconvolution_max_ratio, heights, ratio_score

from evaluators.scoring import Metrics

ALPHAEVOLVE = 1.455642795374541
"""The bound of AlphaEvolve's 400-step function (results notebook, section B.3), as this scorer
computes it: score 1. Before it: Vinuesa's thesis (2009), p. 75, a step function: C3 <=
1.4581."""


def score(stage, case, outputs, oracle):
    """Score = ALPHAEVOLVE / bound. The bound is |max_t (f*f)(t)| / (integral f)^2: the
    maximum (not the largest absolute value, which is the variant C3' of the notebook) is
    positive for any f with a non-zero integral, since f*f integrates to (integral f)^2."""
    n = case.inputs["n"]
    bound = autoconvolution_max_ratio(heights(outputs, n))
    return Metrics(ratio_score(bound, ALPHAEVOLVE, minimise=True), {"c3_bound": bound, "n": n})
