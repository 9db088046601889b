"""Circle packing in a rectangle of perimeter 4: equal circles on a grid. With `columns` x
`rows` cells of side 2r, the rectangle is 2r * columns by 2r * rows, so a perimeter of 4 means
r = 1 / (columns + rows); the block picks the most nearly square grid that holds n circles."""
import math


# EVOLVE-BLOCK-START
def construct_packing(n):
    """Return (centers, radii) for n circles whose bounding box has width + height <= 2."""
    columns = math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    radius = 1 / (columns + rows)
    centers, radii = [], []
    for i in range(n):
        row, column = divmod(i, columns)
        centers.append([(2 * column + 1) * radius, (2 * row + 1) * radius])
        radii.append(radius)
    return centers, radii
# EVOLVE-BLOCK-END
