"""Spreading points: a square grid, each point at the centre of its cell."""
import math


# EVOLVE-BLOCK-START
def place_points(n):
    """Return n [x, y] points in the unit square."""
    k = math.ceil(math.sqrt(n))
    return [[(i % k + 0.5) / k, (i // k + 0.5) / k] for i in range(n)]
# EVOLVE-BLOCK-END
