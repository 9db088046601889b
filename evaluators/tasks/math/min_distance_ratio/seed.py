"""Max/min distance ratio: the first n points of a square (cubic) grid. Every grid neighbour
is at distance 1, so the ratio is the grid's diameter; the block is short enough for a small
model to rewrite whole."""
import math


# EVOLVE-BLOCK-START
def construct_points(n, d):
    """Return n points in d dimensions, as a list of n lists of d floats."""
    side = math.ceil(n ** (1 / d) - 1e-9)
    points = []
    for i in range(n):
        point = []
        for _ in range(d):
            i, coordinate = divmod(i, side)
            point.append(float(coordinate))
        points.append(point)
    return points
# EVOLVE-BLOCK-END
