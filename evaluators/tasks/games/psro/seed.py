"""A PSRO meta-strategy solver. The seed is Uniform (Fictitious Play over the population): every
member of every population counts equally. psro_loop (trusted, next to this file) runs PSRO and
calls `meta_solver` (whose meta-strategy the best responses answer) and `eval_solver` (whose
meta-strategy is scored) once per iteration; it never shows them the game or the number of
iterations."""
import numpy as np
from psro_loop import member_payoff, member_payoffs, run  # noqa: F401 (the solver may use them)


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs):
    """The meta-strategy of PSRO iteration t.

    payoffs[p, i_0, ..., i_{n-1}]: player p's expected utility when each player q plays member
    i_q of its population (n players; population sizes payoffs.shape[1:], growing as best
    responses are added). state: a dict kept between calls. Returns one probability vector per
    player over its population (non-negative, summing to 1).
    """
    return [np.full(k, 1.0 / k) for k in payoffs.shape[1:]]


def eval_solver(state, t, payoffs, train):
    """The meta-strategy whose exploitability is measured at iteration t (the best responses
    are computed against meta_solver's): the same arguments, its own state, and `train`, what
    meta_solver returned this iteration. The seed reports the training meta-strategy as is."""
    return train
# EVOLVE-BLOCK-END


def solve(psro):
    # eval_solver is optional: a block that defines none has its training meta-strategy scored
    return run(meta_solver, psro, globals().get("eval_solver"))
