"""Score-and-novelty weighted parent sampling.

The rule that DGM, ShinkaEvolve and ALMA converged on: a program's weight is

    w_i = sigmoid(lambda * (s_i - median(s)) / MAD(s)) / (1 + n_children_i)

The sigmoid favours programs above the median score, scaled by the median absolute deviation
so that lambda means the same on any score range; the child term steers away from parents that were
already tried often, which keeps exploration alive. The archive applies it to a bounded pool
(the top programs of an island, read from an index), so its cost does not grow with the archive.
"""

import math
import random
import statistics
from collections.abc import Sequence


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def parent_weights(scores: Sequence[float], n_children: Sequence[int], lam: float) -> list[float]:
    median = statistics.median(scores)
    mad = statistics.median(abs(s - median) for s in scores)
    # All-equal scores give MAD 0; fall back to the range (or 1) so weights stay finite.
    scale = mad or (max(scores) - min(scores)) or 1.0
    return [sigmoid(lam * (s - median) / scale) / (1 + c)
            for s, c in zip(scores, n_children, strict=True)]


def weighted_choice(
    rng: random.Random, ids: Sequence[int], scores: Sequence[float], n_children: Sequence[int],
    lam: float,
) -> int:
    return rng.choices(ids, weights=parent_weights(scores, n_children, lam), k=1)[0]
