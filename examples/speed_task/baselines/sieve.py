"""Count the primes below n: a sieve of Eratosthenes on a bytearray, multiples crossed out by
slice assignment (one C-level loop per prime)."""

import math


# EVOLVE-BLOCK-START
def count_primes(n):
    """How many primes are smaller than n."""
    if n < 3:
        return 0
    sieve = bytearray([1]) * n
    sieve[0] = sieve[1] = 0
    for p in range(2, math.isqrt(n - 1) + 1):
        if sieve[p]:
            sieve[p * p::p] = bytes(len(range(p * p, n, p)))
    return sum(sieve)
# EVOLVE-BLOCK-END
