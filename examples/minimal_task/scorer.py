"""Trusted scorer: validates the points the candidate returned, then scores the smallest
distance between two of them.

Every check is written so that NaN fails it (`~(x >= 0)`, not `x < 0`; see
evaluators/scoring.py): a validator that only looks for violations lets NaN through.
"""

import numpy as np

from evaluators.scoring import InvalidOutput, Metrics, finite_array


def score(stage, case, outputs, oracle):
    n = case.inputs["n"]
    points = finite_array(outputs, "the points", (n, 2))  # shape, numbers, no NaN or inf
    outside = np.flatnonzero(~((points >= 0) & (points <= 1)).all(axis=1))
    if outside.size:
        raise InvalidOutput(f"point {outside[0]} ({points[outside[0]].tolist()}) is outside "
                            "the unit square")
    i, j = np.triu_indices(n, k=1)
    distance = float(np.linalg.norm(points[i] - points[j], axis=1).min()) if n > 1 else 0.0
    private = {}
    if "best_known" in case.secret:  # the secret stays on this side: private metrics only
        private["fraction_of_best_known"] = distance / case.secret["best_known"]
    return Metrics(distance, {"min_distance": distance}, private)
