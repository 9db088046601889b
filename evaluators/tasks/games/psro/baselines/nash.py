"""PSRO with a Nash meta-solver (the original PSRO / double oracle, McMahan et al. 2003): the
maximin strategies of the two-player zero-sum (or constant-sum) meta-game, by linear
programming. Two-player games only: for more players it refuses, and the reference table says
so."""
import numpy as np
from psro_loop import run
from scipy.optimize import linprog


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs):
    if payoffs.shape[0] != 2:
        raise ValueError("the Nash (LP) meta-solver solves two-player meta-games only")
    zero_sum = (payoffs[0] - payoffs[1]) / 2  # a constant-sum game's zero-sum part
    return [maximin(zero_sum), maximin(-zero_sum.T)]


def maximin(a):
    """max_x min_j (x^T a)_j: variables (x, v), maximise v subject to a^T x >= v, sum x = 1."""
    rows, cols = a.shape
    cost = np.r_[np.zeros(rows), -1.0]
    result = linprog(cost, A_ub=np.c_[-a.T, np.ones(cols)], b_ub=np.zeros(cols),
                     A_eq=np.r_[np.ones(rows), 0.0][None], b_eq=[1.0],
                     bounds=[(0, None)] * rows + [(None, None)], method="highs")
    x = np.maximum(result.x[:rows], 0.0)
    return x / x.sum()
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro)
