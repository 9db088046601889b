"""The candidate's side of a CFR run (trusted code, shipped next to the candidate).

Counterfactual regret minimisation (Zinkevich et al. 2007) repeats: compute every information
set's instantaneous counterfactual regrets under the current policy, update the policy from
them, and average the policies played. Here the update rule `step` is the candidate's code and
everything else is the evaluator's: the trusted `cfr` oracle (cfr_oracle.py) holds the game, the
policy, the reach and the average policy, sends each step's regrets, and receives the next
policy and the weight of the policy just played (arrays as their legal actions' entries only,
in the memory the oracle shares with this process, or packed: wire.py). `run` only passes them
through `step`. The candidate never sees the game, the number of iterations or the average
policy; nothing it returns is scored (the oracle measures the exploitability itself).
"""

import math
from typing import Any

import numpy as np
from wire import attach, pack, unpack

REGRET_TOLERANCE = 1e-12
"""Cumulative regrets this close to zero count as zero. Where actions are worth exactly the same
(a tie), a float regret is rounding noise, +-1e-17, whose sign depends on the order of the sums;
regret matching on it would play one tied action where CFR+ plays them uniformly. With it, our
CFR+ equals CFR+ computed in 60-digit decimals and in exact fractions (cfr_reference.py) on
every game of bench/cfr_openspiel_bench.py; OpenSpiel's float CFR+ plays on such noise on some
(Battleship, Sheriff, Oshi-Zumo, 4-player Kuhn, Goofspiel with random prizes and point
differences) and departs from CFR+ there. The tolerance is absolute: it holds for payoffs from
1e-9 to 1e13 (Battleship's ship value, measured), not for payoffs so small that real regrets fall
below it (ship value 1e-14: departs at iteration 2)."""


POLICY_SUM_TOLERANCE = 1e-6
"""How far from 1 a policy's row may sum when it is played (check_policy; the oracle checks
with the same)."""


class RuleError(ValueError):
    """The update rule returned something CFR cannot use."""


def regret_matching(cumulative: np.ndarray, mask: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Play each legal action in proportion to its positive cumulative regret (uniformly when
    none is positive beyond REGRET_TOLERANCE): the policy of CFR (Hart & Mas-Colell's regret
    matching). With `power`, in proportion to the positive regret raised to it (VAD-CFR's 1.5);
    the tolerance applies to the regret itself, before the power."""
    positive = np.where(cumulative > REGRET_TOLERANCE, cumulative, 0.0) * mask
    if power != 1.0:
        positive = positive**power
    total = row_sums(positive)
    some = total > 0
    if some.all():  # no row falls back to uniform (on Leduc, 99% of CFR+'s calls): the same bits
        return positive / total
    return np.where(some, positive / np.where(some, total, 1.0), uniform(mask))


def row_sums(values: np.ndarray) -> np.ndarray:
    """values.sum(axis=1, keepdims=True), the same bits, sooner for rows of under 8 float64s:
    there numpy adds each row left to right onto 0.0, one row at a time (~17 ns a row, the most
    of regret matching on Leduc); adding whole columns does the same additions in the same
    order, one vector operation per column (then + 0.0, as numpy's start: a sum of zeros reads
    +0.0 both ways)."""
    if values.dtype != np.float64 or values.ndim != 2 or not 1 < values.shape[1] < 8:
        return np.add.reduce(values, axis=1, keepdims=True)
    total = values[:, 0] + values[:, 1]
    for column in range(2, values.shape[1]):
        total += values[:, column]
    total += 0.0
    return total[:, None]


_UNIFORM: dict[int, tuple[np.ndarray, np.ndarray]] = {}
"""The uniform policy of each mask `run` hands to the rule, by the mask's identity (the mask is
held here while its run lasts, so its id is not reused): regret matching's fallback without a
division and a row sum per call."""


def uniform(mask: np.ndarray) -> np.ndarray:
    """Each legal action with the same probability (mask / its row counts)."""
    known = _UNIFORM.get(id(mask))
    if known is not None and known[0] is mask and not mask.flags.writeable:
        return known[1]
    return mask / mask.sum(axis=1, keepdims=True)


def check_layout(policy: np.ndarray, mask: np.ndarray, what: str,
                 illegal: np.ndarray | None = None) -> None:
    """What travels implicitly: the shape, and zeros on the illegal actions (only the legal
    entries are sent; `illegal`: their flat indices, where the caller has them)."""
    if policy.shape != mask.shape:
        raise RuleError(f"{what} has shape {policy.shape}, not {mask.shape}")
    illegal = policy[~mask] if illegal is None else policy.take(illegal, mode="clip")
    if np.count_nonzero(illegal):
        raise RuleError(f"{what} puts probability on illegal actions" if np.isfinite(illegal).all()
                        else f"{what} is not finite (NaN or inf)")


def check_policy(policy: np.ndarray, what: str) -> None:
    """Each row a probability distribution (over its legal actions: check_layout)."""
    # One cheap pass for the usual, valid case (NaN fails every comparison, so it falls
    # through to the checks below that name what is wrong).
    if policy.min(initial=0.0) >= 0 and np.abs(policy.sum(axis=1) - 1.0).max(initial=0.0) \
            <= POLICY_SUM_TOLERANCE:
        return
    if not np.all(np.isfinite(policy)):
        raise RuleError(f"{what} is not finite (NaN or inf)")
    if not np.all(policy >= 0):
        raise RuleError(f"{what} has negative probabilities")
    raise RuleError(f"{what} does not sum to 1 at every information set")


def check_weight(weight: np.ndarray, rows: int, what: str) -> None:
    """A finite, non-negative number, or one per information set (row)."""
    if weight.ndim == 0:  # the usual number: no array reduction
        valid = 0.0 <= float(weight) < math.inf
    else:
        valid = weight.shape == (rows,) and weight.min(initial=0.0) >= 0 \
            and bool(np.isfinite(weight).all())
    if not valid:
        raise RuleError(f"{what} must be a finite, non-negative number or one per information "
                        "set")


def run(step, cfr) -> dict[str, Any]:
    """Call the rule until the evaluator says CFR is done.

    `step(state, t, regret, policy, mask) -> (next_policy, weight)` updates a set of
    information sets (rows): `regret` is iteration t's instantaneous counterfactual regret of
    each (row, action), `policy` the rows' policy just played, `mask` their legal actions,
    `state` a dict the rule keeps between its calls; `weight` (a number, or one per row) is how
    much the policy just played counts in the average. With alternating updates (OpenSpiel's
    CFR and CFR+) it is called once per player per iteration, on that player's rows, with a
    state of that player's own, after the players before it have moved to their new policy;
    otherwise once per iteration on every row. The arrays are read-only.

    The arrays travel through the memory the evaluator shares with this process where it does
    (the sandbox's runs), or packed over the channel (wire.py): the same values either way."""
    shared = attach(cfr)
    reply = cfr("start") if shared is None else cfr("start", "shared")
    masks = [_frozen(np.array(rows, dtype=bool)) for rows in reply["masks"]]
    policies = [_frozen(uniform(mask)) for mask in masks]
    legal = [np.flatnonzero(mask) for mask in masks]
    illegal = [np.flatnonzero(~mask) for mask in masks]
    """Flat indices of each group's legal and illegal entries: what travels, what must be 0."""
    states: list[dict[str, Any]] = [{} for _ in masks]
    _UNIFORM.update((id(mask), (mask, policy.copy()))
                    for mask, policy in zip(masks, policies, strict=True))
    try:
        t = 0
        while True:
            t += 1
            for group, mask in enumerate(masks):
                regret = np.zeros(mask.shape)
                regret.reshape(-1)[legal[group]] = unpack(reply["regret"]) if shared is None \
                    else shared[:len(legal[group])]
                result = step(states[group], t, _frozen(regret), policies[group], mask)
                if not isinstance(result, tuple) or len(result) != 2:
                    raise RuleError("step must return (policy, weight), got "
                                    f"{type(result).__name__}")
                policy = _frozen(np.array(result[0], dtype=float))
                weight = np.asarray(result[1], dtype=float)
                check_layout(policy, mask, f"the policy step returned at iteration {t}",
                             illegal[group])
                check_weight(weight, len(mask), f"the weight step returned at iteration {t}")
                if shared is None:  # the oracle checks the values
                    reply = cfr(pack(policy.take(legal[group], mode="clip")), pack(weight))
                else:
                    at = reply["shared"]["policy"]
                    policy.take(legal[group], out=shared[at:at + len(legal[group])],
                                mode="clip")  # the indices are in range: no buffered copy
                    at = reply["shared"]["weight"]
                    shared[at:at + weight.size] = weight.ravel()
                    reply = cfr("shared", weight.size)
                policies[group] = policy
            if reply["done"]:
                return {"iterations": t}
    finally:
        for mask in masks:
            _UNIFORM.pop(id(mask), None)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # the rule gets read-only arrays: it cannot edit what we keep
    return array
