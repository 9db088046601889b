"""Trusted scorer for circle packing: validates the packing, then scores the sum of radii.

Every check is phrased so that NaN fails it (see evaluators/scoring.py); infinities, numbers
too large for a float and wrong shapes are refused before any geometry is computed.
"""

import numpy as np

from evaluators.scoring import InvalidOutput, Metrics, finite_array

TOLERANCE = 1e-9
"""Slack allowed for containment and overlap: at most n * 1e-9 of score can come from it."""
BEST_KNOWN = {26: 2.63598}  # ShinkaEvolve's reported best; AlphaEvolve's is 2.63586


def validate(n: int, outputs) -> tuple[np.ndarray, np.ndarray]:
    """The centres and radii of a packing of n circles, or InvalidOutput. Invariant on what is
    returned: n finite centres and n finite radii >= 0, every circle inside the unit square
    and no two overlapping, each up to TOLERANCE; so their sum is at most n * TOLERANCE above
    that of a packing with no slack at all."""
    if isinstance(outputs, dict):
        outputs = (outputs.get("centers"), outputs.get("radii"))
    if not isinstance(outputs, list | tuple) or len(outputs) != 2:
        raise InvalidOutput("construct_packing must return (centers, radii)")
    centers = finite_array(outputs[0], "centers", (n, 2))
    radii = finite_array(outputs[1], "radii", (n,))
    negative = np.flatnonzero(~(radii >= 0))
    if negative.size:
        raise InvalidOutput(f"a circle has a negative radius (circle {negative[0]}: "
                            f"{radii[negative[0]]})")
    inside = (centers - radii[:, None] >= -TOLERANCE) & (centers + radii[:, None] <= 1 + TOLERANCE)
    outside = np.flatnonzero(~inside.all(axis=1))
    if outside.size:
        i = outside[0]
        raise InvalidOutput(f"a circle leaves the unit square (circle {i}: center "
                            f"{centers[i].tolist()}, radius {radii[i]})")
    gaps = np.linalg.norm(centers[:, None, :] - centers[None, :, :], axis=-1) - (
        radii[:, None] + radii[None, :])
    i, j = np.triu_indices(n, k=1)
    bad = np.flatnonzero(~(gaps[i, j] >= -TOLERANCE))
    if bad.size:
        a, b = i[bad[0]], j[bad[0]]
        raise InvalidOutput(f"two circles overlap (circles {a} and {b}, by {-gaps[a, b]:.3g})")
    return centers, radii


def score(stage, case, outputs, oracle):
    """The sum of radii of a packing that passed validate(). Its public figures are finite:
    the radius spread (coefficient of variation, a MAP-Elites descriptor) counts as 0 where
    the radii's mean is 0, which it is for radii as small as 5e-324 with a positive sum (the
    mean underflows): a spread of 0/0 would be NaN."""
    n = case.inputs["n"]
    _, radii = validate(n, outputs)
    total = float(radii.sum())
    mean = radii.mean()
    spread = float(radii.std() / mean) if mean > 0 else 0.0
    public = {"sum_radii": total, "n": n, "radius_spread": spread}
    if n in BEST_KNOWN:
        public["fraction_of_best_known"] = total / BEST_KNOWN[n]
    return Metrics(total, public)
