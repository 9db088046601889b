"""First autocorrelation inequality: a constant step function, whose autoconvolution is a
triangle (bound 2). The block returns the heights; reshape them."""
import numpy as np


# EVOLVE-BLOCK-START
def step_heights(n):
    """Return n non-negative heights of f on n equal steps over [-1/4, 1/4]."""
    x = (np.arange(n) + 0.5) / n - 0.5  # step midpoints, from -1/2 to 1/2 (scaled by 2)
    return np.ones(n) + 0.0 * x
# EVOLVE-BLOCK-END
