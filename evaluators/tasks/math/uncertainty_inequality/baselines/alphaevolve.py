"""AlphaEvolve's coefficients for the uncertainty inequality (C4 <= 0.3521), from
google-deepmind/alphaevolve_results, mathematical_results.ipynb, section B.4: H_0, H_4, H_8
(H_12's is set by P(0) = 0). For m = 4 the H_12 coefficient that makes P(0) = 0 is given too,
so the scorer's H_16 coefficient is (nearly) 0 and the polynomial is the same."""
from numpy.polynomial import hermite

COEFFICIENTS = [0.3292519302257546, -0.01158510802599293, -8.921606035407065e-05]


def hermite_coefficients(m):
    """AlphaEvolve's first m coefficients, extended by the one that makes P(0) = 0."""
    if m <= len(COEFFICIENTS):
        return COEFFICIENTS[:m]
    series = [0.0] * 13
    for k, c in enumerate(COEFFICIENTS):
        series[4 * k] = c
    at_zero = hermite.hermval(0.0, series)
    last = -at_zero / hermite.hermval(0.0, [0.0] * 12 + [1.0])
    return (COEFFICIENTS + [last] + [0.0] * m)[:m]
