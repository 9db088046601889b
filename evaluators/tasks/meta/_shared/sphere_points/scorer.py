"""Trusted scorer of a generated sphere-points problem: the candidate's n points are projected
onto the unit sphere and the score is the smallest angle between two of them, in degrees."""

import numpy as np

from evaluators.scoring import InvalidOutput, Metrics, finite_array


def score(stage, case, outputs, oracle):
    n = case.inputs["n"]
    array = finite_array(outputs, "points", (n, 3))
    norms = np.linalg.norm(array, axis=1)
    if not (norms > 1e-9).all():
        raise InvalidOutput("a point lies at the origin: it has no direction")
    unit = array / norms[:, None]
    cosines = np.clip(unit @ unit.T, -1.0, 1.0)[np.triu_indices(n, k=1)]
    angle = float(np.degrees(np.arccos(cosines.max())))
    return Metrics(angle, {"min_angle_degrees": angle, "n": n})
