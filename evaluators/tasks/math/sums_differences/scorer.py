"""Trusted scorer for sums and differences of finite sets (AlphaEvolve's B.6). The candidate
returns a set U of distinct non-negative integers containing 0; by Gyarmati, Hennecart and
Ruzsa (2007), any such U with |U - U| <= 2 max(U) + 1 (always true: U - U lies in
[-max U, max U]) proves

    C_6 >= 1 + log(|U - U| / |U + U|) / log(2 max(U) + 1),

and that bound is the value, to be maximised. Score = value / the case's reference
(AlphaEvolve's 1.14799 from its 2003-element set), so that set scores 1.

Exact: |U + U| and |U - U| are counted from every pairwise sum and difference in int64
(entries are at most 2^60, so no sum overflows), in a bitmap when max(U) is below 2^24 and
by sorting otherwise; only the final logarithms are float64. Cost: O(k^2 log k) for k <= the
case's `max_size` elements."""

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`

from geometry import integer_array, reference

from evaluators.scoring import InvalidOutput, Metrics

BOUND = 2**60
"""Largest element: a pairwise sum stays below int64's 2^63."""
BITMAP = 2**25
"""Largest span of values counted with a bitmap (32 MB) rather than by sorting."""


def checked_set(value, max_size: int) -> np.ndarray:
    """The set, sorted, as int64, or InvalidOutput: 2 to max_size distinct integers in
    [0, BOUND], 0 among them."""
    array = integer_array(value, "the set", 1, BOUND)
    if not 2 <= len(array) <= max_size:
        raise InvalidOutput(f"the set has {len(array)} elements, expected 2 to {max_size}")
    array = np.sort(array)
    if array[0] != 0:
        raise InvalidOutput(f"the set's smallest element is {array[0]}: it must be 0 (shift "
                            "the set)")
    if not (np.diff(array) > 0).all():
        raise InvalidOutput("the set has repeated elements")
    return array


def distinct(values: np.ndarray, span: int) -> int:
    """How many distinct values there are among these integers in [0, span): marked in a
    bitmap where the span is small (fast), sorted otherwise (any span)."""
    if span <= BITMAP:
        seen = np.zeros(span, dtype=bool)
        seen[values] = True
        return int(np.count_nonzero(seen))
    values.sort()
    return int(np.count_nonzero(np.diff(values))) + 1


def sizes(array: np.ndarray) -> tuple[int, int]:
    """|U + U| and |U - U| of a set of non-negative integers with largest element last."""
    largest = int(array[-1])
    sums = (array[:, None] + array[None, :]).ravel()
    differences = (array[None, :] - array[:, None]).ravel() + largest
    return distinct(sums, 2 * largest + 1), distinct(differences, 2 * largest + 1)


def score(stage, case, outputs, oracle):
    array = checked_set(outputs, case.inputs["max_size"])
    sums, differences = sizes(array)
    value = 1 + math.log(differences / sums) / math.log(2 * int(array[-1]) + 1)
    best = reference(case)
    return Metrics(value / best, {"lower_bound": value, "size": len(array),
                                  "sumset_size": sums, "difference_set_size": differences,
                                  "reference_lower_bound": best})
