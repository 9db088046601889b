"""Vectorised counterfactual regret minimisation on a flattened game tree (numpy only).

Trusted code. It runs in two places: inside the sandbox, next to the candidate, where `run`
calls the candidate's update rule once per iteration; and in the evaluator, where `nash_conv`
scores the average policies the candidate's run returned. The candidate never computes its own
score.

A game is flattened once (see games.py) into arrays over its histories h, ordered by depth:
`parent[h]`, `slot[h]` (the action slot of the edge into h, -1 after a chance move),
`chance[h]` (that chance move's probability, else 1), `player[h]` (who acts at h: a player,
-1 chance, -2 terminal), `infoset[h]`, `utility[h, p]` at terminals, `mask[I, a]` (legal
actions of information set I), `infoset_player[I]`, and `levels` (where each depth starts).
One CFR iteration is then two passes per depth level: reach probabilities top-down, expected
values bottom-up; regrets are one weighted bincount over the decision edges (Zinkevich et al.
2007, with OpenSpiel's simultaneous updates).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Game:
    num_players: int
    parent: np.ndarray
    slot: np.ndarray
    chance: np.ndarray
    player: np.ndarray
    infoset: np.ndarray
    utility: np.ndarray
    mask: np.ndarray
    infoset_player: np.ndarray
    levels: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.parent)
        self.num_infosets, self.num_actions = self.mask.shape
        mover = np.where(self.player[np.maximum(self.parent, 0)] >= 0,
                         self.player[np.maximum(self.parent, 0)], self.num_players)
        mover[0] = self.num_players
        self.mover = mover
        """Whose probability the edge into h multiplies: its parent's player (P: chance)."""
        self.decision = (self.slot >= 0) & (np.arange(n) > 0)
        self.edge_index = np.where(self.decision, self.infoset[np.maximum(self.parent, 0)]
                                   * self.num_actions + np.maximum(self.slot, 0), 0)
        """For a decision edge into h: its flat (infoset, action) index."""
        # Per level, children are contiguous and grouped by parent: reduceat sums each group.
        self.groups = []
        for d in range(len(self.levels) - 1, 0, -1):
            lo = self.levels[d]
            hi = self.levels[d + 1] if d + 1 < len(self.levels) else n
            parents = self.parent[lo:hi]
            starts = np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])
            self.groups.append((lo, hi, starts, parents[starts], np.arange(lo, hi),
                                self.mover[lo:hi]))
        self.representative = np.zeros(self.num_infosets, dtype=np.int64)
        decisions = np.flatnonzero(self.player >= 0)
        self.representative[self.infoset[decisions]] = decisions
        self.legal_count = self.mask.sum(axis=1, keepdims=True)
        self.acting = np.flatnonzero(self.player >= 0)
        self.children = np.flatnonzero(self.decision)
        self.child_parent = self.parent[self.children]
        self.child_player = self.player[self.child_parent]
        self.child_index = self.edge_index[self.children]

    @classmethod
    def from_arrays(cls, data: dict[str, Any]) -> "Game":
        return cls(int(data["num_players"]),
                   *(np.asarray(data[k], dtype=dtype) for k, dtype in (
                       ("parent", np.int64), ("slot", np.int64), ("chance", np.float64),
                       ("player", np.int64), ("infoset", np.int64),
                       ("utility", np.float64), ("mask", bool),
                       ("infoset_player", np.int64), ("levels", np.int64))))

    def to_arrays(self) -> dict[str, Any]:
        return {"num_players": self.num_players, **{k: getattr(self, k).tolist() for k in (
            "parent", "slot", "chance", "player", "infoset", "utility", "mask",
            "infoset_player", "levels")}}

    def uniform(self) -> np.ndarray:
        return self.mask / self.legal_count

    # -- the two passes --------------------------------------------------------------------

    def edge_probs(self, policy: np.ndarray) -> np.ndarray:
        """Probability of the move into each history under `policy` (chance moves included)."""
        return np.where(self.decision, policy.reshape(-1)[self.edge_index], self.chance)

    def reach(self, probs: np.ndarray) -> np.ndarray:
        """reach[h, p]: player p's (column P: chance's) contribution to reaching h."""
        reach = np.empty((len(self.parent), self.num_players + 1))
        reach[0] = 1.0
        for lo, hi, _, _, rows, mover in reversed(self.groups):
            reach[lo:hi] = reach[self.parent[lo:hi]]
            reach[rows, mover] *= probs[lo:hi]
        return reach

    def values(self, probs: np.ndarray) -> np.ndarray:
        """values[h, p]: player p's expected utility below h."""
        values = self.utility.copy()
        for lo, hi, starts, parents, _, _ in self.groups:
            weighted = probs[lo:hi, None] * values[lo:hi]
            values[parents] = np.add.reduceat(weighted, starts, axis=0)
        return values

    def update_reach(self, reach: np.ndarray, probs: np.ndarray, who: int) -> None:
        """Recompute column `who` of `reach` alone: a player's reach depends on its own moves
        only, so after one player's policy changes (alternating updates) only its column does."""
        column = reach[:, who]
        for lo, hi, _, _, _, mover in reversed(self.groups):
            column[lo:hi] = column[self.parent[lo:hi]] * np.where(mover == who, probs[lo:hi],
                                                                  1.0)

    def player_regrets(self, probs: np.ndarray, reach: np.ndarray, player: int
                       ) -> tuple[np.ndarray, np.ndarray]:
        """(regret[I, a], own reach[I]) over `player`'s information sets only: its values
        column alone, bottom-up."""
        values = self.utility[:, player].copy()
        for lo, hi, starts, parents, _, _ in self.groups:
            values[parents] = np.add.reduceat(probs[lo:hi] * values[lo:hi], starts)
        mine = self.child_player == player
        children, parents = self.children[mine], self.child_parent[mine]
        others = np.delete(reach[parents], player, axis=1).prod(axis=1)
        gain = others * (values[children] - values[parents])
        regret = np.bincount(self.child_index[mine], weights=gain,
                             minlength=self.mask.size).reshape(self.mask.shape)
        return regret, reach[self.representative, self.infoset_player]

    def counterfactual_reach(self, reach: np.ndarray) -> np.ndarray:
        """For each history, the reach of everyone but the player who acts there (chance
        included): the weight of its values in that player's counterfactual values."""
        others = np.zeros(len(reach))
        rows = reach[self.acting]
        rows[np.arange(len(rows)), self.player[self.acting]] = 1.0
        others[self.acting] = rows.prod(axis=1)
        return others

    def instant_regrets(self, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(regret[I, a], own reach of each infoset, root values) of one CFR iteration."""
        probs = self.edge_probs(policy)
        reach = self.reach(probs)
        values = self.values(probs)
        others = self.counterfactual_reach(reach)
        children, parents, acting = self.children, self.child_parent, self.child_player
        gain = others[parents] * (values[children, acting] - values[parents, acting])
        regret = np.bincount(self.child_index, weights=gain,
                             minlength=self.mask.size).reshape(self.mask.shape)
        own = reach[self.representative, self.infoset_player]
        return regret, own, values[0]

    # -- exploitability ----------------------------------------------------------------------

    def best_response(self, policy: np.ndarray, player: int) -> tuple[float, np.ndarray]:
        """Exact value of a best response of `player` to `policy` (the others' part of it),
        and that best response: one action slot per information set (only `player`'s count).

        The responder's choices change neither the others' nor chance's reach, so each pass
        takes the best action at every one of its information sets given the values below,
        which are exact for the deepest sets after one pass, for the next after two...; the
        passes stop when no choice changes."""
        mine = self.infoset_player == player
        probs_others = self.edge_probs(policy)
        others = self.counterfactual_reach(self.reach(probs_others))
        children = np.flatnonzero(self.decision & (self.player[np.maximum(self.parent, 0)]
                                                   == player))
        weights = others[self.parent[children]]
        choice = np.full(self.num_infosets, -1)
        current = policy.copy()
        for _ in range(len(self.levels) + 1):
            values = self.values(self.edge_probs(current))[:, player]
            q = np.bincount(self.edge_index[children], weights=weights * values[children],
                            minlength=self.mask.size).reshape(self.mask.shape)
            best = np.where(self.mask, q, -np.inf).argmax(axis=1)
            if np.array_equal(best[mine], choice[mine]):
                return float(values[0]), best
            choice = best
            current = policy.copy()
            current[mine] = 0.0
            current[np.flatnonzero(mine), best[mine]] = 1.0
        raise AssertionError("best response did not settle")

    def nash_conv(self, policy: np.ndarray) -> float:
        """Sum over players of what a best response gains against `policy` (OpenSpiel's
        NashConv); exploitability is this over the number of players."""
        on_policy = self.values(self.edge_probs(policy))[0]
        return float(sum(self.best_response(policy, p)[0] - on_policy[p]
                         for p in range(self.num_players)))


class RuleError(ValueError):
    """The update rule returned something the engine cannot use."""


def regret_matching(cumulative: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Play each legal action in proportion to its positive cumulative regret (uniformly when
    none is positive): the policy of CFR (Hart & Mas-Colell's regret matching)."""
    positive = np.maximum(cumulative, 0.0) * mask
    total = positive.sum(axis=1, keepdims=True)
    uniform = mask / mask.sum(axis=1, keepdims=True)
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), uniform)


def average(numerator: np.ndarray, game: Game) -> np.ndarray:
    total = numerator.sum(axis=1, keepdims=True)
    return np.where(total > 0, numerator / np.where(total > 0, total, 1), game.uniform())


def run(data: dict[str, Any], step, checkpoints: list[int], alternating: bool = True
        ) -> dict[str, Any]:
    """Run the rule for max(checkpoints) iterations; the average policy at each checkpoint.

    `step(state, t, regret, policy, mask) -> (next_policy, weight)` updates a set of
    information sets (rows): `regret` is iteration t's instantaneous counterfactual regret of
    each (row, action), `policy` the rows' policy just played, `mask` their legal actions,
    `state` a dict the rule keeps between its calls; `weight` (a number, or one per row) is how
    much the policy just played counts in the average. With alternating updates (OpenSpiel's
    CFR and CFR+) it is called once per player per iteration, on that player's rows, with a
    state of that player's own, after the players before it have moved to their new policy;
    otherwise once per iteration on every row."""
    game = Game.from_arrays(data)
    players = range(game.num_players) if alternating else [None]
    groups = [np.flatnonzero(game.infoset_player == p) if p is not None
              else np.arange(game.num_infosets) for p in players]
    masks = [_frozen(game.mask[rows]) for rows in groups]
    states: list[dict[str, Any]] = [{} for _ in groups]
    policy = game.uniform()
    numerator = np.zeros(game.mask.shape)
    probs = game.edge_probs(policy)
    reach = game.reach(probs)
    out = {}
    for t in range(1, max(checkpoints) + 1):
        for who, rows, mask, state in zip(players, groups, masks, states, strict=True):
            if who is None:
                regret, own, _ = game.instant_regrets(policy)
            else:
                regret, own = game.player_regrets(probs, reach, who)
            played = policy[rows]
            result = step(state, t, _frozen(regret[rows]), _frozen(played.copy()), mask)
            if not isinstance(result, tuple) or len(result) != 2:
                raise RuleError("step must return (policy, weight), got "
                                f"{type(result).__name__}")
            new = np.asarray(result[0], dtype=float)
            weight = np.asarray(result[1], dtype=float)
            check_policy(new, mask, f"the policy step returned at iteration {t}")
            if weight.shape not in ((), (len(rows),)) or not np.all(weight >= 0) \
                    or not np.all(np.isfinite(weight)):
                raise RuleError(f"the weight step returned at iteration {t} must be a finite, "
                                "non-negative number or one per information set")
            numerator[rows] += (weight.reshape(-1, 1) if weight.ndim else weight) \
                * own[rows, None] * played
            policy[rows] = new
            if who is not None:
                probs = game.edge_probs(policy)
                game.update_reach(reach, probs, who)
        if t in checkpoints:
            out[str(t)] = average(numerator, game).tolist()
    return {"average_policies": out}


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # the rule gets read-only views: it cannot edit our arrays
    return array


def check_policy(policy: np.ndarray, mask: np.ndarray, what: str) -> None:
    if policy.shape != mask.shape:
        raise RuleError(f"{what} has shape {policy.shape}, not {mask.shape}")
    if not np.all(np.isfinite(policy)):
        raise RuleError(f"{what} is not finite (NaN or inf)")
    if not np.all(policy >= 0):
        raise RuleError(f"{what} has negative probabilities")
    if np.any(policy[~mask] != 0):
        raise RuleError(f"{what} puts probability on illegal actions")
    if not np.allclose(policy.sum(axis=1), 1.0, atol=1e-6):
        raise RuleError(f"{what} does not sum to 1 at every information set")
