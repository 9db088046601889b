"""Trusted scorer for circle packing in a rectangle of perimeter 4: the candidate returns n
circles; the rectangle is their bounding box, whose width + height must be at most 2 (up to
geometry.TOLERANCE); the value is the sum of radii, to be maximised. Score = value / the
case's reference (AlphaEvolve's value), so AlphaEvolve's construction scores 1.

The circle checks (finite, bounded, radii >= 0, no overlap beyond TOLERANCE) are the shared
ones of ../_shared/geometry.py; only the perimeter is this task's."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`

from geometry import TOLERANCE, circles, reference

from evaluators.scoring import InvalidOutput, Metrics


def score(stage, case, outputs, oracle):
    n = case.inputs["n"]
    centers, radii = circles(n, outputs, "construct_packing")
    low = (centers - radii[:, None]).min(axis=0)
    high = (centers + radii[:, None]).max(axis=0)
    width, height = (high - low).tolist()
    if not width + height <= 2 + TOLERANCE:
        raise InvalidOutput(f"the circles' bounding box is {width:.9g} x {height:.9g}: its "
                            f"perimeter {2 * (width + height):.9g} is over 4")
    total = float(radii.sum())
    best = reference(case)
    return Metrics(total / best, {"sum_radii": total, "n": n, "width": width,
                                  "height": height, "reference_sum_radii": best})
