"""Trusted scorer for Heilbronn's problem: n points in a region of unit area, value = the
smallest area of a triangle three of them form, to be maximised. Score = value / the case's
reference (AlphaEvolve's value), so AlphaEvolve's construction scores 1.

Two regions (the case's `region` input):
- "triangle": the points must lie in the equilateral triangle (0, 0), (1, 0), (1/2, sqrt(3)/2),
  up to geometry.TOLERANCE in distance to each side; areas are divided by its area sqrt(3)/4.
- "convex": any points; areas are divided by the area of their convex hull (the smallest
  convex region holding them), so the value is scale-free. A degenerate hull (all points on a
  line) has value 0.
Areas come from float64 cross products (absolute error ~1e-16 for coordinates of order 1)."""

import math
import sys
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`

from geometry import TOLERANCE, points, reference

from evaluators.scoring import InvalidOutput, Metrics

TRIANGLE_AREA = math.sqrt(3) / 4


def smallest_triangle(array: np.ndarray) -> float:
    """The smallest area of a triangle with vertices among the points."""
    i, j, k = np.array(list(combinations(range(len(array)), 3))).T
    u, v = array[j] - array[i], array[k] - array[i]
    return float(np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]).min() / 2)


def hull_area(array: np.ndarray) -> float:
    """The area of the points' convex hull (Andrew's monotone chain, then the shoelace sum)."""
    ordered = sorted(map(tuple, array.tolist()))

    def half(sequence):
        chain = []
        for p in sequence:
            while len(chain) >= 2 and (
                    (chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                    - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = half(ordered) + half(reversed(ordered))
    return abs(sum(a[0] * b[1] - b[0] * a[1]
                   for a, b in zip(hull, hull[1:] + hull[:1], strict=True))) / 2


def check_in_triangle(array: np.ndarray) -> None:
    """InvalidOutput unless every point is within TOLERANCE of the unit-side equilateral
    triangle (signed distances to its three sides)."""
    x, y = array[:, 0], array[:, 1]
    root3 = math.sqrt(3)
    inside = (y >= -TOLERANCE) & ((root3 * x - y) / 2 >= -TOLERANCE) \
        & ((root3 * (1 - x) - y) / 2 >= -TOLERANCE)
    outside = np.flatnonzero(~inside)
    if outside.size:
        raise InvalidOutput(f"point {outside[0]} {array[outside[0]].tolist()} is outside the "
                            "triangle (0, 0), (1, 0), (1/2, sqrt(3)/2)")


def score(stage, case, outputs, oracle):
    n, region = case.inputs["n"], case.inputs["region"]
    array = points(outputs, "points", n, 2)
    if region == "triangle":
        check_in_triangle(array)
        area = TRIANGLE_AREA
    else:
        area = hull_area(array)
    value = smallest_triangle(array) / area if area > 0 else 0.0
    best = reference(case)
    return Metrics(value / best, {"min_triangle_area": value, "n": n, "region": region,
                                  "reference_area": best})
