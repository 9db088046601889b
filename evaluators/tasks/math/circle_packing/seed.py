"""Circle packing: circles on a square grid, each as large as its cell allows."""
import math


# EVOLVE-BLOCK-START
def construct_packing(n):
    """Return (centers, radii) for n circles in the unit square."""
    k = math.ceil(math.sqrt(n))
    cell = 1.0 / k
    centers = [[(i % k + 0.5) * cell, (i // k + 0.5) * cell] for i in range(n)]
    radii = [cell / 2] * n
    return centers, radii
# EVOLVE-BLOCK-END
