"""Support module for the step-function tasks (the candidate may `from step_grid import
resample`): move a step function to another grid without changing its integral, so that a
construction found on a coarse grid can be refined, or the other way round."""

import numpy as np


def resample(heights, n):
    """The n-step function whose value on each new step is the mean of the old function over
    that step (both grids cover the same interval). Bounds are kept: heights in [0, 1] stay
    in [0, 1], non-negative ones non-negative; when n is a multiple of len(heights) the
    function is unchanged."""
    heights = np.asarray(heights, dtype=np.float64)
    cumulative = np.concatenate(([0.0], np.cumsum(heights))) / heights.size
    edges = np.linspace(0.0, 1.0, n + 1)
    return np.diff(np.interp(edges, np.linspace(0.0, 1.0, heights.size + 1), cumulative)) * n
