"""PSRO with an alpha-Rank meta-solver (Omidshafiei et al. 2019; Muller et al. 2020), two players:
the stationary distribution of the multi-population Markov chain over joint pure profiles in
which one player at a time switches member with its fixation probability under selection
intensity alpha (population size m); each player's marginal is its meta-strategy. For more
players the chain has K^n states (10^6 at K = 100, three players): it refuses, and the
reference table says so."""
import math

import numpy as np
from psro_loop import run
from scipy.sparse import coo_matrix


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
    # a direct solve fills in: minutes at K = 100
    pi, converged = gmres(system.tocsr(), np.r_[np.zeros(n - 1), 1.0], rtol=1e-12, restart=200,
                          restarts=2000)
    if not converged:
        raise ValueError("alpha-Rank's stationary distribution did not converge")
    pi = np.maximum(pi, 0.0).reshape(k0, k1)
    pi /= pi.sum()
    return [pi.sum(axis=1), pi.sum(axis=0)]


def dot(a, b):
    """A fixed-order inner product (numpy's add.reduce, whose order the length alone fixes):
    BLAS's depends on the CPU kernel, and PSRO's dynamics carry its last bits to the score."""
    return np.add.reduce(a * b)


def gmres(matrix, b, rtol, restart, restarts):
    """Restarted GMRES (Saad and Schultz 1986; modified Gram-Schmidt, Givens rotations) with
    fixed-order sums only, so its answer is the same bits on every machine (scipy's calls
    BLAS). (x, whether |b - A x| <= rtol |b|)."""
    x = np.zeros(len(b))
    target = rtol * math.sqrt(dot(b, b))
    for _ in range(restarts):
        residual = b - matrix @ x  # a sparse product: rows summed in order, no BLAS
        beta = math.sqrt(dot(residual, residual))
        if beta <= target:
            return x, True
        basis = [residual / beta]
        h = np.zeros((restart + 1, restart))
        cos, sin, g = np.zeros(restart), np.zeros(restart), np.zeros(restart + 1)
        g[0] = beta
        for j in range(restart):
            w = matrix @ basis[j]
            for i in range(j + 1):
                h[i, j] = dot(w, basis[i])
                w = w - h[i, j] * basis[i]
            size = math.sqrt(dot(w, w))
            h[j + 1, j] = size
            for i in range(j):
                h[i, j], h[i + 1, j] = (cos[i] * h[i, j] + sin[i] * h[i + 1, j],
                                        -sin[i] * h[i, j] + cos[i] * h[i + 1, j])
            length = math.hypot(h[j, j], h[j + 1, j])
            cos[j], sin[j] = h[j, j] / length, h[j + 1, j] / length
            h[j, j], h[j + 1, j] = length, 0.0
            g[j + 1], g[j] = -sin[j] * g[j], cos[j] * g[j]
            if size == 0.0 or abs(g[j + 1]) <= target:
                break
            basis.append(w / size)
        k = j + 1
        y = np.zeros(k)
        for i in reversed(range(k)):
            y[i] = (g[i] - sum(h[i, m] * y[m] for m in range(i + 1, k))) / h[i, i]
        for i in range(k):
            x = x + y[i] * basis[i]
    residual = b - matrix @ x
    return x, math.sqrt(dot(residual, residual)) <= target


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
