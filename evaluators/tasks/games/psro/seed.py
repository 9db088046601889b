"""A PSRO meta-strategy solver. The seed is Uniform (Fictitious Play over the population): every
member of every population counts equally. psro_loop (trusted, next to this file) runs PSRO and
calls `meta_solver` once per iteration; it never shows the solver the game or the number of
iterations."""
import numpy as np
from psro_loop import member_payoffs, run  # noqa: F401 (the solver may use it)


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs):
    """The meta-strategy of PSRO iteration t.

    payoffs[p, i_0, ..., i_{n-1}]: player p's expected utility when each player q plays member
    i_q of its population (n players; population sizes payoffs.shape[1:], growing as best
    responses are added). state: a dict kept between calls. Returns one probability vector per
    player over its population (non-negative, summing to 1).
    """
    return [np.full(k, 1.0 / k) for k in payoffs.shape[1:]]
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro)
