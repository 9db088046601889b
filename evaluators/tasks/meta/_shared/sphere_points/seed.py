"""Points on the unit sphere, as far apart as possible (the Tammes problem): a spiral from pole
to pole. The evolved block places the points; the scorer projects them onto the sphere."""
import math


# EVOLVE-BLOCK-START
def place_points(n):
    """n points on the unit sphere: a spiral with evenly spaced heights."""
    turn = 2.0  # radians between consecutive points around the axis
    points = []
    for i in range(n):
        z = 1 - 2 * (i + 0.5) / n
        r = math.sqrt(max(0.0, 1 - z * z))
        points.append([r * math.cos(i * turn), r * math.sin(i * turn), z])
    return points
# EVOLVE-BLOCK-END
