"""Trusted scorer for the uncertainty inequality (AlphaEvolve B.4), in the form of Gonçalves,
Oliveira e Silva and Steinerberger (2017): f(x) = P(sqrt(2 pi) x) exp(-pi x^2) with P an even
combination of Hermite polynomials H_0, H_4, ..., H_4m, each an eigenfunction of the Fourier
transform with eigenvalue 1, so f is its own transform and A(f) A(f^) = A(f)^2 = r^2 / (2 pi),
r the largest positive sign change of P. The candidate gives the first m coefficients; the
scorer sets the last so that P(0) = 0 (f(0) = 0, the limit of f(0) < 0, as in the paper), then
finds r exactly: rational coefficients, square-free factors of odd multiplicity, root isolation
(sympy). Nothing is sampled, so a sign change cannot hide between grid points."""

import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`
from step_functions import ratio_score

from evaluators.scoring import InvalidOutput, Metrics, finite_array

ALPHAEVOLVE = 0.35209910442252773
"""The bound of AlphaEvolve's three coefficients (results notebook, section B.4), as this
scorer computes it: score 1. Before it: Gonçalves et al. (2017), Theorem 2 (stated as 0.353;
their coefficients give 0.3523)."""
FRACTION_BITS = 64
"""Each coefficient, divided by the largest absolute one, is rounded to a multiple of
2^-FRACTION_BITS before the exact computation: that bounds the size of the rationals (and so
the cost of root isolation) whatever floats the candidate sends (a subnormal is a 1074-bit
fraction). The rounded polynomial is itself a valid construction, scored exactly; the rounding
moves the bound by about 1e-19 relative."""
X = sympy.Symbol("x")


def polynomial(coefficients: np.ndarray) -> sympy.Poly:
    """P = sum c_k H_4k + c_m H_4m with c_m chosen so that P(0) = 0, sign flipped so that P is
    positive for large x (f must be non-negative far out), over the rationals."""
    scale = np.abs(coefficients).max()
    if not (scale > 0):
        raise InvalidOutput("the coefficients are all zero: P must not vanish")
    exact = [Fraction(round(c / scale * 2 ** FRACTION_BITS), 2 ** FRACTION_BITS)
             for c in coefficients]
    m = len(exact)
    hermite = [sympy.Poly(sympy.hermite_poly(4 * k, X), X, domain="QQ") for k in range(m + 1)]
    partial = sum((hermite[k] * sympy.Rational(c.numerator, c.denominator)
                   for k, c in enumerate(exact)), sympy.Poly(0, X, domain="QQ"))
    last = -partial.eval(0) / hermite[m].eval(0)
    p = partial + hermite[m] * last
    if p.is_zero:
        raise InvalidOutput("P is identically zero")
    return -p if p.LC() < 0 else p


def largest_sign_change(p: sympy.Poly) -> float:
    """r: the largest positive real root of P / x^2 of odd multiplicity, or InvalidOutput when
    P / x^2 is not negative at 0 (then f is not negative next to 0, and the construction
    proves nothing)."""
    q = sympy.Poly(sympy.quo(p.as_expr(), X ** 2, X), X, domain="QQ")
    if not (q.eval(0) < 0):
        raise InvalidOutput("P(x) / x^2 must be negative at x = 0 (f must dip below 0 next to "
                            "the origin); with the leading coefficient made positive it is "
                            f"{float(q.eval(0)):.3g}")
    roots = [root for factor, multiplicity in q.sqf_list()[1] if multiplicity % 2
             for root in sympy.real_roots(factor)]
    return max(float(root.evalf(30)) for root in roots)  # q(0) < 0 < q(inf): one exists


def score(stage, case, outputs, oracle):
    """Score = ALPHAEVOLVE / bound, bound = r^2 / (2 pi)."""
    m = case.inputs["m"]
    r = largest_sign_change(polynomial(finite_array(outputs, "the coefficients", (m,))))
    bound = r * r / (2 * math.pi)
    return Metrics(ratio_score(bound, ALPHAEVOLVE, minimise=True),
                   {"c4_bound": bound, "largest_root": r, "m": m})
