"""Kissing number: the D_d root system, every vector with two entries +-1 and the rest 0:
2 d (d - 1) vectors of squared norm 2, any two at squared distance >= 2. In 3 dimensions that
is the 12 of the face-centred cubic lattice, which is optimal; in 11 it is 220 of the best
known 593."""
from itertools import combinations


# EVOLVE-BLOCK-START
def construct_points(d):
    """Return integer vectors in d dimensions whose pairwise distances are all at least the
    largest vector norm (0 excluded): each one gives a sphere touching the central sphere."""
    vectors = []
    for i, j in combinations(range(d), 2):
        for a in (1, -1):
            for b in (1, -1):
                vector = [0] * d
                vector[i], vector[j] = a, b
                vectors.append(vector)
    return vectors
# EVOLVE-BLOCK-END
