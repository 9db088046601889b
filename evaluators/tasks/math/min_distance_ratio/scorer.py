"""Trusted scorer for the max/min distance ratio: n points in d dimensions, value = (largest
pairwise distance / smallest pairwise distance)^2, to be minimised. Score = the case's
reference (AlphaEvolve's value) / value, so AlphaEvolve's construction scores 1 and a better
one more. The ratio is scale-free; coordinates are bounded (geometry.COORDINATE_BOUND) so that
squared distances stay finite, and points closer than 1e-9 of the diameter count as
coinciding (the ratio would be meaningless rounding noise)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`

from geometry import points, reference

from evaluators.scoring import InvalidOutput, Metrics

COINCIDENT = 1e-18
"""Smallest accepted (min distance / max distance)^2."""


def ratio_squared(array: np.ndarray) -> float:
    """(max / min pairwise distance)^2 of the points, or InvalidOutput if two coincide."""
    squared = ((array[:, None, :] - array[None, :, :]) ** 2).sum(axis=-1)
    i, j = np.triu_indices(len(array), k=1)
    pairs = squared[i, j]
    smallest, largest = pairs.min(), pairs.max()
    if not smallest > COINCIDENT * largest:
        a, b = i[pairs.argmin()], j[pairs.argmin()]
        raise InvalidOutput(f"points {a} and {b} coincide (distance {np.sqrt(smallest):.3g}, "
                            f"diameter {np.sqrt(largest):.3g})")
    return float(largest / smallest)


def score(stage, case, outputs, oracle):
    n, d = case.inputs["n"], case.inputs["d"]
    value = ratio_squared(points(outputs, "points", n, d))
    best = reference(case)
    return Metrics(best / value, {"ratio_squared": value, "n": n, "d": d,
                                  "reference_ratio_squared": best})
