"""Gonçalves, Oliveira e Silva and Steinerberger (2017), Theorem 2: the coefficients -1.13,
1/25, 1/3240 of H_0, H_4, H_8 (C4 <= 0.3523), the best known before AlphaEvolve; as quoted in
AlphaEvolve's results notebook, section B.4."""

COEFFICIENTS = [-113 / 100, 1 / 25, 1 / 3240]


def hermite_coefficients(m):
    """The paper's first m coefficients (zeros past the third)."""
    return (COEFFICIENTS + [0.0] * m)[:m]
