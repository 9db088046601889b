"""Trusted helpers for the AlphaEvolve step-function problems (autocorrelation inequalities,
Erdős's minimum overlap): the candidate's heights checked, and the sums the bounds need
computed in float64 together with a bound on their rounding error, so that a scorer can round
every figure against the candidate instead of trusting float64's luck.

Why the error bound: a step function's autoconvolution (or cross-correlation) is piecewise
linear with its knots on the grid, so its maximum and its norms are exact finite sums of
products of heights. Computed in float64, a sum of m products is off by at most
gamma(m) * (the same sum over absolute values), gamma(m) = m * u / (1 - m * u), u = 2**-53
(Higham, Accuracy and Stability of Numerical Algorithms, section 3.1), whatever order numpy
adds in. With signed heights (the third inequality) cancellation can make that error large
compared with the result, so it must be accounted for rather than assumed away.
"""

import numpy as np

from evaluators.scoring import InvalidOutput, finite_array

UNIT_ROUNDOFF = 2.0 ** -53


def gamma(m: int) -> float:
    """Higham's gamma(m): the relative error bound of a float64 sum of m rounded products."""
    return m * UNIT_ROUNDOFF / (1 - m * UNIT_ROUNDOFF)


def heights(value, n: int, name: str = "the heights") -> np.ndarray:
    """n finite heights, divided by the largest absolute one: every bound these tasks compute
    is unchanged by scaling f, and the division keeps products of huge heights from
    overflowing. InvalidOutput for a wrong shape, a non-finite value or all zeros."""
    array = finite_array(value, name, (n,))
    scale = np.abs(array).max()
    if not (scale > 0):
        raise InvalidOutput(f"{name} are all zero: f must not vanish")
    return array / scale


def nonnegative_heights(value, n: int) -> np.ndarray:
    """`heights`, each of them >= 0 (C1 and C2 are bounds over non-negative f): InvalidOutput
    naming the first negative one otherwise."""
    a = heights(value, n)
    negative = np.flatnonzero(~(a >= 0))
    if negative.size:
        raise InvalidOutput(f"f must be non-negative (height {negative[0]} is "
                            f"{value[negative[0]]})")
    return a


def autoconvolution(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The discrete autoconvolution of the heights and, entry by entry, a bound on its float64
    rounding error. On a grid of step w, (f*f)(t) at the k-th interior knot is w * conv[k] and
    is linear between knots (zero at both ends), so these sums are the whole function."""
    conv = np.convolve(a, a)
    error = gamma(a.size + 2) * np.convolve(np.abs(a), np.abs(a))
    return conv, error


def autoconvolution_max_ratio(a: np.ndarray) -> float:
    """An upper bound, rounded against the candidate, on max_t (f*f)(t) / (integral of f)^2
    for the step function with heights a on n equal steps over [-1/4, 1/4]:
    2n * max(conv) / (sum a)^2 (steps of width 1/(2n)). The maximum over [-1/2, 1/2] is at a
    knot (f*f is piecewise linear) or at the ends, where it is 0."""
    n = a.size
    conv, error = autoconvolution(a)
    peak = max(float((conv + error).max()), 0.0)
    total = abs(float(a.sum())) - gamma(n) * float(np.abs(a).sum())
    if not (total > 0):
        raise InvalidOutput("the integral of f is 0 (or too close to 0 to be measured in "
                            "float64): the bound divides by it")
    return 2 * n * peak / total ** 2


def ratio_score(value: float, reference: float, minimise: bool) -> float:
    """The score normalised so that the reference (AlphaEvolve's value) scores 1: the
    reference over the value for a bound to push down, the value over it for one to push
    up."""
    return reference / value if minimise else value / reference
