"""The CFR oracle's per-update passes, compiled (numba): a player's regrets, its sequence reach,
the check of the policy and weight a candidate sent, the plain accumulation of the average and
the new policy.

Trusted code, evaluator only (the candidate's process never imports numba). Why compiled: on
Leduc each of these is a few microseconds of arithmetic spread over tens of numpy calls, and
the calls, not the arithmetic, were most of the oracle's ~110 us per update (now ~17 us in
these kernels and ~8 us of Python around them).

Bit for bit the numpy formulas they replace (tests/evaluators/tasks/test_cfr_kernels.py runs
both on every game the CFR tests use): every product and sum is the same operation on the
same operands in the same order. Numpy's `bincount` adds its weights in index order onto 0.0,
and its row sums (`sum(axis=1)`) are its pairwise summation onto 0.0 (`_row_sum`: left to
right under 8 entries, eight interleaved partial sums from 8 on, halves from 128 on), so the
kernels do exactly that; a bincount into a level's parents is summed apart and then added, as
numpy's `values[low:high] += bincount(...)` does. The best responses (cfr_engine's numpy
`_bottom_up` with a max fold) are not per-update work and stay in numpy.

Compiled once per machine (~4.5 s here; cfr_oracle's CFR compiles them when it is made, during
a case's set-up): numba caches the machine code where NUMBA_CACHE_DIR says, else in
`__pycache__` beside this file, else (a read-only tree) in the user's cache directory; with
none writable it compiles in each process instead of failing. Loading the cache takes ~0.3 s
once per process.
"""

import numba
import numpy as np


def _compiled(function):
    """`function` compiled without the GIL, its machine code cached on disk where numba finds
    a writable place (see the module's docstring), else compiled per process."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # numba: "no locator available": nowhere writable to cache
        return numba.njit(nogil=True)(function)


@_compiled
def _block(values: np.ndarray, start: int, count: int) -> float:
    """numpy's pairwise_sum of values[start:start + count], count <= 128 (its unrolled base
    case: numpy/_core/src/umath/loops_utils.h.src)."""
    if count < 8:
        total = -0.0
        for i in range(start, start + count):
            total += values[i]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    end = start + count - count % 8
    i = start + 8
    while i < end:
        r0 += values[i]
        r1 += values[i + 1]
        r2 += values[i + 2]
        r3 += values[i + 3]
        r4 += values[i + 4]
        r5 += values[i + 5]
        r6 += values[i + 6]
        r7 += values[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + count:
        total += values[i]
        i += 1
    return total


@_compiled
def _row_sum(values: np.ndarray) -> float:
    """What numpy's `sum(axis=1)` gives for one row: its pairwise sum added onto 0.0. Up to
    128 entries that is `0.0 + _block(...)`, which the kernels write out where they sum a row
    (as a call, this function costs the regret pass a third of its time); over 128, the sum of
    the two halves', each half a multiple of 8 long, recursively, on a stack here (numba's
    cache cannot hold a recursive function)."""
    if len(values) <= 128:
        return 0.0 + _block(values, 0, len(values))
    tasks = [(0, len(values), False)]  # (start, count, whether its halves are summed)
    sums = [0.0]
    sums.pop()
    while tasks:
        start, count, halves = tasks.pop()
        if halves:
            right = sums.pop()
            sums.append(sums.pop() + right)
        elif count <= 128:
            sums.append(_block(values, start, count))
        else:
            half = count // 2 - count // 2 % 8
            tasks.append((start, count, True))
            tasks.append((start + half, count - half, False))
            tasks.append((start, half, False))
    return 0.0 + sums[0]


@_compiled
def sequence_reach(policy: np.ndarray, order: np.ndarray, parent_sequence: np.ndarray,
                   reach: np.ndarray) -> None:
    """reach[r * A + a] = reach[parent_sequence[r]] * policy[r, a] for each row r of `order`
    (one player's information sets, shallowest first: a parent is written before its
    children)."""
    actions = policy.shape[1]
    for r in order:
        base = reach[parent_sequence[r]]
        for a in range(actions):
            reach[r * actions + a] = base * policy[r, a]


@_compiled
def regrets(policy: np.ndarray, reach: np.ndarray, terminal_last: np.ndarray,
            payoff: np.ndarray, player: int, order: np.ndarray, bounds: np.ndarray,
            lows: np.ndarray, highs: np.ndarray, parent_sequence: np.ndarray,
            rows: np.ndarray, mask: np.ndarray, positions: np.ndarray, out: np.ndarray) -> None:
    """`player`'s instantaneous counterfactual regrets under `policy` (its sequence reach in
    `reach`, one row per player), the k-th legal entry of its `rows` (in order) written to
    out[positions[k]].

    The counterfactual values: `payoff` (the player's column of chance x utility) times every
    other player's reach of each terminal, added into the player's last sequence before it,
    then its information sets bottom up, level by level (`order[bounds[l]:bounds[l + 1]]`,
    the level's parent sequences within [lows[l], highs[l])), each set's expected value
    sum_a pi(I, a) v(I, a) added into its parent sequence; a regret is v(I, a) less that."""
    actions = policy.shape[1]
    values = np.zeros(reach.shape[1])
    last = terminal_last[player]
    if terminal_last.shape[0] == 2:  # one other player: no weights array
        others, other_last = reach[1 - player], terminal_last[1 - player]
        for z in range(len(payoff)):
            values[last[z]] += payoff[z] * others[other_last[z]]
    else:
        weight = payoff.copy()
        for q in range(terminal_last.shape[0]):
            if q != player:
                others, other_last = reach[q], terminal_last[q]
                for z in range(len(weight)):
                    weight[z] *= others[other_last[z]]
        for z in range(len(weight)):
            values[last[z]] += weight[z]
    expected = np.zeros(policy.shape[0])
    product = np.empty(actions)
    folded = np.empty(int((highs - lows).max()) if len(lows) else 0)
    for level in range(len(lows) - 1, -1, -1):
        low = lows[level]
        folded[:highs[level] - low] = 0.0
        for k in range(bounds[level], bounds[level + 1]):
            r = order[k]
            if actions < 8:  # _block's sum, without the copy (half the fold's time on Leduc)
                total = -0.0
                for a in range(actions):
                    total += policy[r, a] * values[r * actions + a]
                expected[r] = 0.0 + total
            else:
                for a in range(actions):
                    product[a] = policy[r, a] * values[r * actions + a]
                expected[r] = 0.0 + _block(product, 0, actions) if actions <= 128 \
                    else _row_sum(product)
            folded[parent_sequence[r] - low] += expected[r]
        for j in range(highs[level] - low):
            values[low + j] += folded[j]
    k = 0
    for r in rows:
        for a in range(actions):
            if mask[r, a]:
                out[positions[k]] = values[r * actions + a] - expected[r]
                k += 1


PASSED, BAD_POLICY, BAD_WEIGHT, SCALED = 0, 1, 2, 3
"""What `update` found: it updated; the policy or the weight fails cfr_loop's checks (nothing
changed); the accumulation needs the scaled sum (nothing changed: cfr_oracle's
CFR.accumulate, then `update` again with `accumulated`)."""


@_compiled
def _check(legal: np.ndarray, weight: np.ndarray, rows: np.ndarray, mask: np.ndarray,
           tolerance: float) -> int:
    """cfr_loop.check_policy's and check_weight's verdict on the rows' next policy (its legal
    entries `legal`, in order; 0 elsewhere) and the weights, exactly: PASSED, BAD_POLICY or
    BAD_WEIGHT. NaN fails every comparison here, as there."""
    actions = mask.shape[1]
    row = np.zeros(actions)
    k = 0
    for r in rows:
        total = -0.0  # under 8 actions, numpy's row sum as _block adds it, without the copy
        for a in range(actions):
            if mask[r, a]:
                row[a] = legal[k]
                if not legal[k] >= 0:
                    return BAD_POLICY
                k += 1
            else:
                row[a] = 0.0
            total += row[a]
        if actions >= 8:
            total = _block(row, 0, actions) if actions <= 128 else _row_sum(row)
        if not abs(0.0 + total - 1.0) <= tolerance:
            return BAD_POLICY
    if len(weight) != 1 and len(weight) != len(rows):
        return BAD_WEIGHT
    for w in weight:
        if not (w >= 0 and np.isfinite(w)):
            return BAD_WEIGHT
    return PASSED


@_compiled
def _plain(weight: np.ndarray, rows: np.ndarray, reach: np.ndarray,
           infoset_player: np.ndarray, parent_sequence: np.ndarray, bound: float,
           limit: float, least: float) -> bool:
    """Whether the plain sum is the same arithmetic as the scaled one (cfr_oracle's
    CFR.accumulate says why): `bound` + 2 x the largest weight under `limit`, every non-zero
    weight and own reach at least `least`."""
    if len(rows) == 0 or not bound + 2 * weight.max() < limit:
        return False
    for w in weight:
        if w > 0 and not w >= least:
            return False
    for r in rows:
        own = reach[infoset_player[r], parent_sequence[r]]
        if own > 0 and not own >= least:
            return False
    return True


@_compiled
def update(legal: np.ndarray, weight: np.ndarray, checked: bool, accumulated: bool,
           bound: float, rows: np.ndarray, mask: np.ndarray, tolerance: float,
           policy: np.ndarray, numerator: np.ndarray, reach: np.ndarray,
           infoset_player: np.ndarray, parent_sequence: np.ndarray, limit: float, least: float,
           player: int, order: np.ndarray) -> tuple[int, float]:
    """One checked update of `rows` (cfr_oracle's CFR.update), returning what it found (PASSED,
    BAD_POLICY, BAD_WEIGHT, SCALED) and the plain sum's new bound; nothing changes unless it
    passes, and nothing after that can fail.

    The checks (skipped if `checked`); then numerator[r] += (weight * own reach of r) *
    policy[r], the plain sum (skipped if `accumulated`: the scaled one ran); then policy[rows]
    = the policy whose legal entries are `legal` (0 elsewhere); then, unless `player` is -1,
    that player's sequence reach (its rows by depth: `order`)."""
    if not checked:
        verdict = _check(legal, weight, rows, mask, tolerance)
        if verdict != PASSED:
            return verdict, bound
    actions = mask.shape[1]
    if not accumulated:
        if not _plain(weight, rows, reach, infoset_player, parent_sequence, bound, limit,
                      least):
            return SCALED, bound
        bound += 2 * weight.max()
    k = 0
    for i in range(len(rows)):
        r = rows[i]
        mass = 0.0 if accumulated else weight[i if len(weight) > 1 else 0] \
            * reach[infoset_player[r], parent_sequence[r]]
        for a in range(actions):
            if not accumulated:
                numerator[r, a] += mass * policy[r, a]
            if mask[r, a]:
                policy[r, a] = legal[k]
                k += 1
            else:
                policy[r, a] = 0.0
    if player >= 0:
        sequence_reach(policy, order, parent_sequence, reach[player])
    return PASSED, bound
