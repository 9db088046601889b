"""Uncertainty inequality: P = H_0 - H_4 / 12 = 4x^2 (3 - x^2) (the scorer flips its sign to
16x^2 (x^2 - 3)), whose last sign change is at sqrt(3): bound 3 / (2 pi) = 0.477. The block
returns the coefficients of H_0, H_4, ..., H_4(m-1); change them."""


# EVOLVE-BLOCK-START
def hermite_coefficients(m):
    """Return m coefficients c_0, ..., c_(m-1) of H_0, H_4, ..., H_4(m-1) (physicists'
    Hermite polynomials); the scorer adds H_4m with the coefficient that makes P(0) = 0."""
    coefficients = [1.0, -1.0 / 12]
    return (coefficients + [0.0] * m)[:m]
# EVOLVE-BLOCK-END
