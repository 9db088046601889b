"""Checks the AlphaEvolve geometry tasks share: points of a bounded size, integer arrays,
circles that do not overlap, and the per-case reference value a score is normalised by.

Every check is phrased so that NaN fails it (see evaluators/scoring.py). The circle checks are
those of circle_packing's scorer less its unit-square containment, so that task could use
`circles` here too."""

import numpy as np

from evaluators.scoring import InvalidOutput, finite_array

TOLERANCE = 1e-9
"""Slack allowed for containment and overlap (circles) and for lying in a region (points)."""
COORDINATE_BOUND = 1e6
"""Largest absolute coordinate accepted: squares of larger ones stay finite, but a point set
spread over 1e150 would make its squared distances overflow to infinity."""


def points(value, name: str, n: int, d: int) -> np.ndarray:
    """n finite points in d dimensions, no coordinate above COORDINATE_BOUND, or InvalidOutput."""
    array = finite_array(value, name, (n, d))
    if not (np.abs(array) <= COORDINATE_BOUND).all():
        raise InvalidOutput(f"{name} has a coordinate above {COORDINATE_BOUND:g} in absolute "
                            "value: scale the points down")
    return array


def circles(n: int, outputs, entry: str) -> tuple[np.ndarray, np.ndarray]:
    """The centres and radii `entry` returned for n circles, or InvalidOutput: finite, within
    COORDINATE_BOUND, radii >= 0 and no two circles overlapping by more than TOLERANCE.
    Containment is the caller's (a square, a rectangle)."""
    if isinstance(outputs, dict):
        outputs = (outputs.get("centers"), outputs.get("radii"))
    if not isinstance(outputs, list | tuple) or len(outputs) != 2:
        raise InvalidOutput(f"{entry} must return (centers, radii)")
    centers = points(outputs[0], "centers", n, 2)
    radii = finite_array(outputs[1], "radii", (n,))
    negative = np.flatnonzero(~((radii >= 0) & (radii <= COORDINATE_BOUND)))
    if negative.size:
        raise InvalidOutput(f"a radius is negative or above {COORDINATE_BOUND:g} (circle "
                            f"{negative[0]}: {radii[negative[0]]})")
    gaps = np.linalg.norm(centers[:, None, :] - centers[None, :, :], axis=-1) - (
        radii[:, None] + radii[None, :])
    i, j = np.triu_indices(n, k=1)
    bad = np.flatnonzero(~(gaps[i, j] >= -TOLERANCE))
    if bad.size:
        a, b = i[bad[0]], j[bad[0]]
        raise InvalidOutput(f"two circles overlap (circles {a} and {b}, by {-gaps[a, b]:.3g})")
    return centers, radii


def integer_array(value, name: str, ndim: int, bound: int) -> np.ndarray:
    """The value as an int64 array with `ndim` dimensions and every entry an integer of
    absolute value at most `bound` (< 2^62), or InvalidOutput. Whole-number floats count as
    integers; anything else (fractions, NaN, booleans, integers too big for int64) does not."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidOutput(f"{name} is not an array of integers ({exc})") from exc
    if array.ndim != ndim:
        raise InvalidOutput(f"{name} has shape {array.shape}, expected {ndim} dimension(s)")
    if array.dtype.kind == "f":
        if not (np.isfinite(array) & (array == np.round(array))).all():
            raise InvalidOutput(f"{name} must hold integers (found a non-integer or "
                                "non-finite value)")
    elif array.dtype.kind not in "iu":
        raise InvalidOutput(f"{name} must hold integers of absolute value at most {bound} "
                            f"(got values of type {array.dtype})")
    if not ((array >= -bound) & (array <= bound)).all():
        raise InvalidOutput(f"{name} has an entry above {bound} in absolute value")
    return array.astype(np.int64)


def reference(case) -> float:
    """The case's reference value (its secret `reference`: AlphaEvolve's value where there is
    one), which the score divides by or into, so that the reference scores 1."""
    value = case.secret.get("reference")
    if not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"case {case.name} has no positive secret `reference`")
    return float(value)
