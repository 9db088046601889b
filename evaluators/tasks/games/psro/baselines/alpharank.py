"""PSRO with an alpha-Rank meta-solver (Omidshafiei et al. 2019; Muller et al. 2020), two players:
the stationary distribution of the multi-population Markov chain over joint pure profiles in
which one player at a time switches member with its fixation probability under selection
intensity alpha (population size m); each player's marginal is its meta-strategy. For more
players the chain has K^n states (10^6 at K = 100, three players): it refuses, and the
reference table says so."""
import numpy as np
from psro_loop import run
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import gmres


# EVOLVE-BLOCK-START
def meta_solver(state, t, payoffs, alpha=100.0, m=50):
    if payoffs.shape[0] != 2:
        raise ValueError("the alpha-Rank meta-solver solves two-player meta-games only")
    k0, k1 = payoffs.shape[1:]
    n = k0 * k1
    profile = np.arange(n).reshape(k0, k1)
    eta = 1.0 / (k0 - 1 + k1 - 1) if k0 + k1 > 2 else 1.0
    rows, cols, values = [], [], []
    # player 0 switches from i to j against column c (and player 1 from c to d against row i)
    for player, table, (a, b) in ((0, payoffs[0], (k0, k1)), (1, payoffs[1].T, (k1, k0))):
        i, j, c = np.meshgrid(np.arange(a), np.arange(a), np.arange(b), indexing="ij")
        keep = i != j
        i, j, c = i[keep], j[keep], c[keep]
        gain = table[j, c] - table[i, c]
        src = profile[i, c] if player == 0 else profile[c, i]
        dst = profile[j, c] if player == 0 else profile[c, j]
        rows.append(src)
        cols.append(dst)
        values.append(eta * fixation(gain, alpha, m))
    rows, cols, values = map(np.concatenate, (rows, cols, values))
    leave = np.bincount(rows, weights=values, minlength=n)
    transition = coo_matrix((np.r_[values, 1.0 - leave], (np.r_[rows, np.arange(n)],
                                                          np.r_[cols, np.arange(n)])),
                            shape=(n, n)).tocsr()
    # pi (T - I) = 0 with sum(pi) = 1: the last balance equation replaced by the normalisation
    system = (transition.T - coo_matrix((np.ones(n), (np.arange(n), np.arange(n))),
                                        shape=(n, n))).tolil()
    system[n - 1, :] = np.ones(n)
    pi, info = gmres(system.tocsr(), np.r_[np.zeros(n - 1), 1.0], rtol=1e-12, atol=0.0,
                     restart=200, maxiter=2000)  # a direct solve fills in: minutes at K = 100
    if info != 0:
        raise ValueError("alpha-Rank's stationary distribution did not converge")
    pi = np.maximum(pi, 0.0).reshape(k0, k1)
    pi /= pi.sum()
    return [pi.sum(axis=1), pi.sum(axis=0)]


def fixation(gain, alpha, m):
    """Probability that one mutant earning `gain` more takes over a population of m (Moran
    process, selection intensity alpha), in forms that neither overflow nor divide by 0."""
    x = alpha * gain
    out = np.full(x.shape, 1.0 / m)
    up, down = x > 0, x < 0
    out[up] = np.expm1(-x[up]) / np.expm1(-m * x[up])
    out[down] = np.exp((m - 1) * x[down]) * np.expm1(x[down]) / np.expm1(m * x[down])
    return out
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro)
