"""The candidate's side of a PSRO run (trusted code, shipped next to the candidate).

PSRO (Lanctot et al. 2017) grows one population of policies per player. Each iteration a
meta-solver turns the meta-game (the expected payoff of every combination of population
members) into one distribution per player; every player then adds an exact best response to
the others' mixtures. Here the meta-solver is the candidate's code and everything else is the
evaluator's: `run` sends each meta-strategy to the trusted `psro` oracle, which computes the
best responses, the new payoffs and the exploitability, and answers with the meta-game's new
entries. The candidate sees payoffs only: never the game, its policies, or the horizon.
"""

from typing import Any

import numpy as np
from wire import attach, unpack


class RuleError(ValueError):
    """The meta-solver returned something PSRO cannot use."""


def grow(payoffs: np.ndarray, sizes: list[int], new: np.ndarray) -> np.ndarray:
    """The meta-game after the populations grew to `sizes`: the old entries kept, the entries
    that involve a new member filled from `new` (in C order, as the oracle sent them)."""
    grown = enlarge(payoffs, sizes)
    grown[:, new_entries(payoffs.shape[1:], sizes)] = new.reshape(payoffs.shape[0], -1)
    return grown


def enlarge(payoffs: np.ndarray, sizes: list[int]) -> np.ndarray:
    """A zero meta-game over the grown populations with the old entries copied in."""
    grown = np.zeros((payoffs.shape[0], *sizes))
    grown[(slice(None), *(slice(0, k) for k in payoffs.shape[1:]))] = payoffs
    return grown


def new_entries(old: tuple[int, ...], sizes: list[int]) -> np.ndarray:
    """Which cells of the grown meta-game involve at least one new population member."""
    grids = np.indices(sizes, sparse=True)
    mask = np.zeros(sizes, dtype=bool)
    for grid, k in zip(grids, old, strict=True):
        mask = mask | (grid >= k)
    return mask


def member_payoffs(payoffs: np.ndarray, sigma: list[np.ndarray]) -> list[np.ndarray]:
    """For each player p, the expected payoff of each member of p's population against the
    other players' mixtures sigma_q (the gradient that replicator dynamics and regret matching
    follow on the meta-game)."""
    return [member_payoff(payoffs, sigma, p) for p in range(payoffs.shape[0])]


def member_payoff(payoffs: np.ndarray, sigma: list[np.ndarray], p: int) -> np.ndarray:
    """member_payoffs for player p alone (solvers whose players update in turn need one).

    Summed by numpy's einsum without `optimize`, one axis at a time, not tensordot: BLAS's
    order of summation depends on the CPU kernel and the thread count, and a solver's chaotic
    dynamics carry its last bits to the score (regret matching on 4-sided Liar's Dice went from
    0.0185 to 0.0437 with the OpenBLAS kernel alone); einsum's own loops never call BLAS and
    their order depends on the shapes only (psro_oracle.fixed_order_sum). It is also 1.5 to 3.5
    times faster than the elementwise products and add.reduce it replaced (no temporaries)."""
    values = payoffs[p]
    for q in reversed(range(payoffs.shape[0])):  # highest axis first: lower ones stay put
        if q != p:
            axes = list(range(values.ndim))
            values = np.einsum(values, axes, sigma[q], [q], axes[:q] + axes[q + 1:])
    return values


def check_meta_strategy(sigma: Any, sizes: tuple[int, ...]) -> list[np.ndarray]:
    """One probability vector per player over its population, or a RuleError saying what is
    wrong."""
    if not isinstance(sigma, list | tuple) or len(sigma) != len(sizes):
        raise RuleError(f"the meta-solver must return one distribution per player "
                        f"({len(sizes)}), got {type(sigma).__name__}")
    out = []
    for player, (row, k) in enumerate(zip(sigma, sizes, strict=True)):
        row = np.asarray(row, dtype=float)
        what = f"player {player}'s meta-strategy"
        if row.shape != (k,):
            raise RuleError(f"{what} has shape {row.shape}, not ({k},)")
        if not np.all(np.isfinite(row)) or not np.all(row >= 0):
            raise RuleError(f"{what} has negative or non-finite probabilities")
        with np.errstate(over="ignore"):  # finite entries whose sum is not: refused below
            total = row.sum()
        if not abs(total - 1.0) <= 1e-6:
            raise RuleError(f"{what} sums to {total:.6g}, not 1")
        out.append(row / total)
    return out


def run(meta_solver, psro, eval_solver=None) -> dict[str, Any]:
    """Drive PSRO until the evaluator says it is done.

    `meta_solver(state, t, payoffs) -> [distribution per player]` is the training-time solver:
    every player's best response is computed against its meta-strategy. `payoffs[p, i_0, ...,
    i_{n-1}]` is player p's expected utility when each player q plays its member i_q
    (read-only); `state` is a dict the solver keeps between iterations; t counts from 1.
    `eval_solver(state, t, payoffs, train) -> [distribution per player]`, if given, is the
    evaluation-time solver (the paper's search space has both): its meta-strategy, with a
    state of its own and this iteration's training meta-strategy `train` to start from, is the
    one whose exploitability is measured. Without it, the training meta-strategy is."""
    shared = attach(psro)  # the new payoffs arrive in shared memory, or packed (wire.py)
    payoffs = np.asarray(psro("start") if shared is None else psro("start", "shared"),
                         dtype=float)
    state: dict[str, Any] = {}
    eval_state: dict[str, Any] = {}
    t = 0
    while True:
        t += 1
        payoffs.setflags(write=False)
        sigma = check_meta_strategy(meta_solver(state, t, payoffs), payoffs.shape[1:])
        request = [[row.tolist() for row in sigma]]
        if eval_solver is not None:
            shown = [row.copy() for row in sigma]  # the solver may not edit what is sent
            request.append([row.tolist() for row in check_meta_strategy(
                eval_solver(eval_state, t, payoffs, shown), payoffs.shape[1:])])
        reply = psro(*request)
        if reply["done"]:
            return {"iterations": t}
        payoffs = grow(payoffs, reply["sizes"],
                       unpack(reply["new"]) if shared is None else shared[:reply["shared"]])
