"""Vectorised counterfactual regret minimisation on a game in sequence form (numpy only).

Trusted code. It runs in two places: inside the sandbox, next to the candidate, where `run`
calls the candidate's update rule once per iteration; and in the evaluator, where `nash_conv`
scores the average policies the candidate's run returned. The candidate never computes its own
score.

A game is flattened once (see cfr_games.py) into its sequence form (Koller, Megiddo & von
Stengel 1994). A player's sequence is one of its (information set I, action a) pairs, flat
index I * A + a; index S = I * A stands for the empty sequence. The arrays: `mask[I, a]` (legal
actions), `infoset_player[I]`, `parent_sequence[I]` (its player's last sequence before I:
perfect recall makes it one), and per terminal history z `terminal_last[p, z]` (player p's
last sequence before z) and `terminal_payoff[z, p]` (chance's probability of z times p's
utility). Reaching z takes every player's own probability of its last sequence, so:

  - sequence reach: x_p(I, a) = x_p(parent_sequence(I)) * pi(I, a), top-down over p's
    information sets by depth (a handful of levels);
  - counterfactual values (Zinkevich et al. 2007): v_i(I, a) = sum over terminals z below
    (I, a) of payoff_i(z) * prod_{j != i} x_j(z) * pi_i(z | (I, a)): one weighted bincount
    over the terminals into i's sequences, then bottom-up over i's information sets, each
    adding its expected value sum_a pi(I, a) v_i(I, a) into its parent sequence;
  - a best response takes max_a instead of that expectation, in the same single pass.
An iteration touches each terminal once per player instead of every history per depth level.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Game:
    num_players: int
    mask: np.ndarray
    infoset_player: np.ndarray
    parent_sequence: np.ndarray
    terminal_last: np.ndarray
    terminal_payoff: np.ndarray

    def __post_init__(self) -> None:
        self.num_infosets, self.num_actions = self.mask.shape
        empty = self.mask.size
        parent_set = np.where(self.parent_sequence < empty,
                              self.parent_sequence // self.num_actions, -1)
        depth = np.zeros(self.num_infosets, dtype=np.int64)
        for _ in range(self.num_infosets + 1):
            deeper = np.where(parent_set >= 0, depth[np.maximum(parent_set, 0)] + 1, 0)
            if np.array_equal(deeper, depth):
                break
            depth = deeper
        self.levels = [[rows for d in range(depth.max(initial=0) + 1)
                        if len(rows := np.flatnonzero((self.infoset_player == p) & (depth == d)))]
                       for p in range(self.num_players)]
        """Each player's information sets by sequence depth, shallowest first."""
        self.rows = [np.flatnonzero(self.infoset_player == p) for p in range(self.num_players)]
        self.slices = [slice(r[0], r[-1] + 1) if len(r) and r[-1] - r[0] + 1 == len(r) else r
                       for r in self.rows]
        """The same rows, as a slice where they are contiguous (as cfr_games lays them out)."""
        self.legal_count = self.mask.sum(axis=1, keepdims=True)

    @classmethod
    def from_arrays(cls, data: dict[str, Any]) -> "Game":
        return cls(int(data["num_players"]),
                   *(np.asarray(data[k], dtype=dtype) for k, dtype in (
                       ("mask", bool), ("infoset_player", np.int64),
                       ("parent_sequence", np.int64), ("terminal_last", np.int64),
                       ("terminal_payoff", np.float64))))

    def to_arrays(self) -> dict[str, Any]:
        return {"num_players": self.num_players, **{k: getattr(self, k).tolist() for k in (
            "mask", "infoset_player", "parent_sequence", "terminal_last", "terminal_payoff")}}

    def uniform(self) -> np.ndarray:
        return self.mask / self.legal_count

    # -- the passes ----------------------------------------------------------------------

    def sequence_reach(self, policy: np.ndarray, player: int,
                       out: np.ndarray | None = None) -> np.ndarray:
        """x[s]: `player`'s own probability of playing sequence s (x[S] = 1: the empty one).
        Entries of other players' sequences are left as they are."""
        reach = np.ones(self.mask.size + 1) if out is None else out
        grid = reach[:-1].reshape(self.mask.shape)
        for rows in self.levels[player]:
            grid[rows] = reach[self.parent_sequence[rows], None] * policy[rows]
        return reach

    def all_reach(self, policy: np.ndarray) -> np.ndarray:
        """Every player's sequence reach, one row per player."""
        reach = np.ones((self.num_players, self.mask.size + 1))
        for p in range(self.num_players):
            self.sequence_reach(policy, p, out=reach[p])
        return reach

    def _terminal_weights(self, reach: np.ndarray, player: int) -> np.ndarray:
        """payoff_i(z) times everyone else's reach of z (chance is in the payoff)."""
        weight = self.terminal_payoff[:, player].copy()
        for q in range(self.num_players):
            if q != player:
                weight *= reach[q, self.terminal_last[q]]
        return weight

    def _bottom_up(self, reach: np.ndarray, player: int, choose) -> np.ndarray:
        """Counterfactual values of `player`'s sequences, each information set folded into its
        parent sequence by `choose(rows, values[rows]) -> value of each set`."""
        size = self.mask.size + 1
        values = np.bincount(self.terminal_last[player],
                             weights=self._terminal_weights(reach, player), minlength=size)
        grid = values[:-1].reshape(self.mask.shape)
        for rows in reversed(self.levels[player]):
            values += np.bincount(self.parent_sequence[rows], weights=choose(rows, grid[rows]),
                                  minlength=size)
        return values

    def regrets(self, policy: np.ndarray, reach: np.ndarray, player: int) -> np.ndarray:
        """Instantaneous counterfactual regret of each (I, a) of `player`'s rows (in order)."""
        expected = np.zeros(self.num_infosets)

        def fold(rows, values):  # final once reached: deeper sets were folded in before
            expected[rows] = (policy[rows] * values).sum(axis=1)
            return expected[rows]

        values = self._bottom_up(reach, player, fold)
        rows = self.slices[player]
        grid = values[:-1].reshape(self.mask.shape)[rows]
        return (grid - expected[rows, None]) * self.mask[rows]

    def expected_utility(self, reach: np.ndarray) -> np.ndarray:
        """Each player's expected utility when everyone plays the policy behind `reach`."""
        weight = np.ones(len(self.terminal_payoff))
        for q in range(self.num_players):
            weight = weight * reach[q, self.terminal_last[q]]
        return weight @ self.terminal_payoff

    # -- exploitability ----------------------------------------------------------------------

    def best_response(self, policy: np.ndarray, player: int) -> tuple[float, np.ndarray]:
        """Exact value of a best response of `player` to `policy` (the others' part of it),
        and that best response: one action slot per information set (only `player`'s count).
        The others' reach does not depend on the responder, so one bottom-up pass taking the
        best legal action at each of its information sets is exact."""
        choice = np.zeros(self.num_infosets, dtype=np.int64)

        def best(rows, values):
            legal = np.where(self.mask[rows], values, -np.inf)
            choice[rows] = legal.argmax(axis=1)
            return legal.max(axis=1)

        values = self._bottom_up(self.all_reach(policy), player, best)
        return float(values[-1]), choice

    def nash_conv(self, policy: np.ndarray) -> float:
        """Sum over players of what a best response gains against `policy` (OpenSpiel's
        NashConv); exploitability is this over the number of players."""
        on_policy = self.expected_utility(self.all_reach(policy))
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
    players = list(range(game.num_players)) if alternating else [None]
    groups = [game.slices[p] if p is not None else slice(None) for p in players]
    masks = [_frozen(game.mask[rows]) for rows in groups]
    states: list[dict[str, Any]] = [{} for _ in groups]
    policy = game.uniform()
    numerator = np.zeros(game.mask.shape)
    reach = game.all_reach(policy)
    out = {}
    for t in range(1, max(checkpoints) + 1):
        for who, rows, mask, state in zip(players, groups, masks, states, strict=True):
            if who is None:
                regret = np.zeros(game.mask.shape)
                for p in range(game.num_players):
                    regret[game.slices[p]] = game.regrets(policy, reach, p)
            else:
                regret = game.regrets(policy, reach, who)
            own = reach[game.infoset_player[rows], game.parent_sequence[rows]]
            played = _frozen(policy[rows].copy())
            result = step(state, t, _frozen(regret), played, mask)
            if not isinstance(result, tuple) or len(result) != 2:
                raise RuleError("step must return (policy, weight), got "
                                f"{type(result).__name__}")
            new = np.asarray(result[0], dtype=float)
            weight = np.asarray(result[1], dtype=float)
            check_policy(new, mask, f"the policy step returned at iteration {t}")
            if weight.shape not in ((), (len(played),)) or not weight.min(initial=0.0) >= 0 \
                    or not np.isfinite(weight).all():
                raise RuleError(f"the weight step returned at iteration {t} must be a finite, "
                                "non-negative number or one per information set")
            numerator[rows] += (weight.reshape(-1, 1) if weight.ndim else weight) \
                * own[:, None] * played
            policy[rows] = new
            if who is None:
                reach = game.all_reach(policy)
            else:  # a player's reach depends on its own moves only
                game.sequence_reach(policy, who, out=reach[who])
        if t in checkpoints:
            out[str(t)] = average(numerator, game).tolist()
    return {"average_policies": out}


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)  # the rule gets read-only views: it cannot edit our arrays
    return array


def check_policy(policy: np.ndarray, mask: np.ndarray, what: str) -> None:
    if policy.shape != mask.shape:
        raise RuleError(f"{what} has shape {policy.shape}, not {mask.shape}")
    # One cheap pass for the usual, valid case (NaN fails every comparison, so it falls
    # through to the checks below that name what is wrong).
    if policy.min(initial=0.0) >= 0 and np.abs(policy.sum(axis=1) - 1.0).max(initial=0.0) \
            <= 1e-6 and not policy[~mask].any():
        return
    if not np.all(np.isfinite(policy)):
        raise RuleError(f"{what} is not finite (NaN or inf)")
    if not np.all(policy >= 0):
        raise RuleError(f"{what} has negative probabilities")
    if np.any(policy[~mask] != 0):
        raise RuleError(f"{what} puts probability on illegal actions")
    if not np.allclose(policy.sum(axis=1), 1.0, atol=1e-6):
        raise RuleError(f"{what} does not sum to 1 at every information set")
