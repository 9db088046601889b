"""Sums and differences: a small set with more differences than sums. {0, 1, 3} has 7
differences and 6 sums, so it proves C_6 >= 1 + log(7/6) / log(7) = 1.0792; the block is
short enough for a small model to rewrite whole."""


# EVOLVE-BLOCK-START
def construct_set(max_size):
    """Return a list of at most max_size distinct non-negative integers, including 0, whose
    difference set is large compared with its sum set."""
    return [0, 1, 3]
# EVOLVE-BLOCK-END
