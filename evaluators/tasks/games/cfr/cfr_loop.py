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
    total = positive.sum(axis=1, keepdims=True)
    uniform = mask / mask.sum(axis=1, keepdims=True)
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), uniform)


def check_layout(policy: np.ndarray, mask: np.ndarray, what: str) -> None:
    """What travels implicitly: the shape, and zeros on the illegal actions (only the legal
    entries are sent)."""
    if policy.shape != mask.shape:
        raise RuleError(f"{what} has shape {policy.shape}, not {mask.shape}")
    illegal = policy[~mask]
    if illegal.any():
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
    if weight.shape not in ((), (rows,)) or not weight.min(initial=0.0) >= 0 \
            or not np.isfinite(weight).all():
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
    policies = [_frozen(mask / mask.sum(axis=1, keepdims=True)) for mask in masks]
    states: list[dict[str, Any]] = [{} for _ in masks]
    t = 0
    while True:
        t += 1
        for group, mask in enumerate(masks):
            regret = np.zeros(mask.shape)
            regret[mask] = unpack(reply["regret"]) if shared is None \
                else shared[:np.count_nonzero(mask)]
            result = step(states[group], t, _frozen(regret), policies[group], mask)
            if not isinstance(result, tuple) or len(result) != 2:
                raise RuleError(f"step must return (policy, weight), got {type(result).__name__}")
            policy = _frozen(np.array(result[0], dtype=float))
            weight = np.asarray(result[1], dtype=float)
            check_layout(policy, mask, f"the policy step returned at iteration {t}")
            check_weight(weight, len(mask), f"the weight step returned at iteration {t}")
            if shared is None:
                reply = cfr(pack(policy[mask]), pack(weight))  # the oracle checks the values
            else:
                at = reply["shared"]
                legal = policy[mask]
                shared[at["policy"]:at["policy"] + legal.size] = legal
                shared[at["weight"]:at["weight"] + weight.size] = weight.ravel()
                reply = cfr("shared", weight.size)
            policies[group] = policy
        if reply["done"]:
            return {"iterations": t}


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # the rule gets read-only arrays: it cannot edit what we keep
    return array
