"""Erdős's minimum overlap problem: h = 1/2 everywhere on [0, 2], whose largest overlap is 1/2
(at shift 0). The block returns the heights; reshape them, keeping each in [0, 1] and their
sum n / 2."""
import numpy as np


# EVOLVE-BLOCK-START
def step_heights(n):
    """Return n heights in [0, 1], summing to n / 2, of h on n equal steps over [0, 2]."""
    x = 2 * (np.arange(n) + 0.5) / n  # step midpoints, from 0 to 2
    return np.full(n, 0.5) + 0.0 * x
# EVOLVE-BLOCK-END
