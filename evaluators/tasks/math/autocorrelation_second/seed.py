"""Second autocorrelation inequality: a constant step function, whose autoconvolution is a
triangle (bound 2/3). The block returns the heights; reshape them."""
import numpy as np


# EVOLVE-BLOCK-START
def step_heights(n):
    """Return n non-negative heights of f on n equal steps."""
    x = (np.arange(n) + 0.5) / n  # step midpoints, from 0 to 1
    return np.ones(n) + 0.0 * x
# EVOLVE-BLOCK-END
