"""Heilbronn's problem: n points equally spaced on the triangle's inscribed circle. No three
points of a circle are collinear, so every triangle has positive area; the block is short
enough for a small model to rewrite whole."""
import math


# EVOLVE-BLOCK-START
def construct_points(n, region):
    """Return n points [x, y] in the triangle (0, 0), (1, 0), (1/2, sqrt(3)/2). For region
    "convex" any points will do (the region is their convex hull)."""
    center_x, center_y = 0.5, math.sqrt(3) / 6  # the incircle
    radius = math.sqrt(3) / 6
    turn = 0.0  # rotation of the first point, in radians
    return [[center_x + radius * math.cos(turn + 2 * math.pi * k / n),
             center_y + radius * math.sin(turn + 2 * math.pi * k / n)] for k in range(n)]
# EVOLVE-BLOCK-END
