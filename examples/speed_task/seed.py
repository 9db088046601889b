"""Count the primes below n: trial division, one number at a time (correct, and slow)."""

import math


# EVOLVE-BLOCK-START
def count_primes(n):
    """How many primes are smaller than n."""
    count = 0
    for m in range(2, n):
        if all(m % d for d in range(2, math.isqrt(m) + 1)):
            count += 1
    return count
# EVOLVE-BLOCK-END
