"""Trusted scorer for Erdős's minimum overlap problem in Haugland's form: the candidate's step
function h on [0, 2] is checked (n finite values in [0, 1], integral 1 up to MASS_TOLERANCE)
and its largest overlap max_k integral h(x) (1 - h(x + k)) dx computed exactly from the grid
sums, rounded against the candidate."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`
from step_functions import gamma, ratio_score

from evaluators.scoring import InvalidOutput, Metrics, finite_array

ALPHAEVOLVE = 0.38092303510845016
"""The bound of AlphaEvolve's 95-step function (results notebook, section B.5), as this scorer
computes it: score 1. Before it: Haugland (2016), a step function: M <= 0.380927 (White
(2023) proved M >= 0.379005)."""
MASS_TOLERANCE = 1e-9
"""|integral of h - 1| allowed: a float64 sum of n values cannot always hit n / 2 exactly, and
a mass short by delta lowers the overlap by at most about delta, far below the 3e-6 that
separates AlphaEvolve's bound from Haugland's."""


def overlap_bound(h: np.ndarray) -> float:
    """max over shifts k of integral h(x) (1 - h(x + k)) dx, h and 1 - h zero outside [0, 2].
    The cross-correlation of two step functions on one grid of width w = 2/n is piecewise
    linear in k with knots at multiples of w, where it is w times the discrete correlation:
    its maximum is exactly w * max(correlate(h, 1 - h)). All terms are non-negative, so the
    float64 value is raised by gamma(n + 3) (1 - h adds one rounding) to be never below the
    exact one."""
    n = h.size
    correlation = np.correlate(h, 1 - h, mode="full")
    return 2 / n * float(correlation.max()) * (1 + gamma(n + 3))


def score(stage, case, outputs, oracle):
    """Score = ALPHAEVOLVE / bound: lower overlaps score higher."""
    n = case.inputs["n"]
    h = finite_array(outputs, "the heights", (n,))
    outside = np.flatnonzero(~((h >= 0) & (h <= 1)))
    if outside.size:
        raise InvalidOutput(f"every height must be in [0, 1] (height {outside[0]} is "
                            f"{h[outside[0]]})")
    mass = 2 * float(h.sum()) / n
    if not (abs(mass - 1) <= MASS_TOLERANCE):
        raise InvalidOutput(f"the integral of h is {mass!r}, not 1: make the heights sum to "
                            f"n / 2 = {n / 2} (to within {MASS_TOLERANCE * n / 2:.2g})")
    bound = overlap_bound(h)
    return Metrics(ratio_score(bound, ALPHAEVOLVE, minimise=True),
                   {"overlap_bound": bound, "n": n})
