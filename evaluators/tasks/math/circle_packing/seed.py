"""Circle packing: staggered rows of circles. The evolved block places the centers; `fit_radii`
(outside it) gives each circle the largest radius the walls and the circles before it allow, so
every layout is a valid packing. The block is short, so a small model can rewrite it whole; its
float constants are the layout's knobs, which the tuning operator searches."""
import math


def fit_radii(centers):
    """For each center in turn, the largest radius that stays inside the square and off the
    circles placed before it."""
    radii = []
    for i, (x, y) in enumerate(centers):
        radius = min(x, y, 1 - x, 1 - y)
        for j in range(i):
            radius = min(radius, math.dist((x, y), centers[j]) - radii[j])
        radii.append(max(radius, 0))
    return radii


# EVOLVE-BLOCK-START
def construct_packing(n):
    """Return (centers, radii) for n circles in the unit square."""
    aspect = 1.0  # columns per row, relative to sqrt(n)
    shift = 0.5  # every other row moves right by this share of a cell
    columns = max(1, round(math.sqrt(n) * aspect))
    rows = math.ceil(n / columns)
    centers = []
    for i in range(n):
        row, column = divmod(i, columns)
        x = (column + 0.5 + shift * (row % 2)) / (columns + shift)
        y = (row + 0.5) / rows
        centers.append([x, y])
    return centers, fit_radii(centers)
# EVOLVE-BLOCK-END
