"""Trusted scorer for the kissing number: the candidate returns m integer vectors C in R^d. By
AlphaEvolve's Lemma, if 0 is not in C and min ||x - y|| (x != y in C) >= max ||x||, the unit
spheres centred at 2x/||x|| touch the unit sphere at 0 without overlapping, so the kissing
number in dimension d is at least m. The value is m (every vector must satisfy the Lemma, or
the whole answer is InvalidOutput); score = m / the case's reference (AlphaEvolve's 593 in 11
dimensions), so AlphaEvolve's construction scores 1.

The check is exact: coordinates are integers of absolute value at most 2^50, squared norms are
Python integers, and each pair's squared distance is computed in float64 (exact differences,
relative error under 1e-14) and recomputed exactly in integers unless it clears the largest
squared norm by a factor 1 + 1e-9, far beyond float64's error. Cost: O(m^2 d) with m at most
MAX_POINTS."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`

from geometry import integer_array, reference

from evaluators.scoring import InvalidOutput, Metrics

BOUND = 2**50
"""Largest absolute coordinate: differences stay exact in float64 (below 2^53)."""
MAX_POINTS = 2000
"""Most vectors accepted (above every known kissing-number upper bound up to 12 dimensions)."""
CLEAR = 1 + 1e-9
"""A pair whose float squared distance exceeds the largest squared norm by this factor passes
without an exact recomputation."""


def integer_vectors(value, d: int) -> np.ndarray:
    """The vectors as an (m, d) int64 array, 1 <= m <= MAX_POINTS, |entries| <= BOUND, or
    InvalidOutput."""
    array = integer_array(value, "the vectors", 2, BOUND)
    if array.shape[1] != d or not 1 <= array.shape[0] <= MAX_POINTS:
        raise InvalidOutput(f"the vectors have shape {array.shape}, expected (m, {d}) with "
                            f"1 <= m <= {MAX_POINTS}")
    return array


def check_lemma(array: np.ndarray) -> None:
    """InvalidOutput unless 0 is not among the vectors and every pairwise squared distance is
    at least the largest squared norm, both exactly."""
    rows = [[int(x) for x in row] for row in array.tolist()]
    norms = [sum(x * x for x in row) for row in rows]
    if min(norms) == 0:
        raise InvalidOutput(f"vector {norms.index(0)} is zero")
    largest = max(norms)
    floats = array.astype(np.float64)
    for i in range(len(rows) - 1):
        squared = ((floats[i + 1:] - floats[i]) ** 2).sum(axis=1)
        for offset in np.flatnonzero(~(squared > largest * CLEAR)).tolist():
            j = i + 1 + offset
            exact = sum((a - b) ** 2 for a, b in zip(rows[i], rows[j], strict=True))
            if exact < largest:
                raise InvalidOutput(
                    f"vectors {i} and {j} are closer (squared distance {exact}) than the "
                    f"largest norm (squared {largest}): the spheres would overlap")


def score(stage, case, outputs, oracle):
    d = case.inputs["d"]
    array = integer_vectors(outputs, d)
    check_lemma(array)
    count = len(array)
    best = reference(case)
    return Metrics(count / best, {"count": count, "d": d, "reference_count": best})
