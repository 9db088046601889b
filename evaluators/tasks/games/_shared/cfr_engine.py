"""Vectorised counterfactual regret minimisation on a game in sequence form (numpy, and numba
for the per-update passes).

Trusted code, run in the evaluator only: the CFR task's oracle (cfr/cfr_oracle.py) drives its
iterations with it and measures the average policy's exploitability; the PSRO task's oracle
computes its best responses and payoffs with it. The candidate never sees a game.

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
The passes CFR runs at every update (a player's regrets, its sequence reach) are compiled
(cfr_kernels.py: on Leduc the numpy calls, not the arithmetic, were their cost), bit for bit
the numpy formulas; the best responses (`_bottom_up` with a max fold) run once per checkpoint
and stay numpy.

What a measurement assumes (`Game.check_policy`, checked by `best_responses` and `nash_conv`
on every policy they measure): a policy is a distribution at every information set. Without
it the passes measure something else: an all-zero row reaches no terminal, so a policy of zero
rows reads NashConv 0 (the best score there is), and a NaN row reads NaN. The regret pass takes
the policy the candidate played, checked per answer as cfr_loop.check_policy does; it is never
scored.
"""

import math
from dataclasses import dataclass

import cfr_kernels
import numpy as np

POLICY_TOLERANCE = 1e-9
"""How far from 1 a measured policy's row may sum: rounding in an average or a mixture of
distributions, orders of magnitude below anything that moves an exploitability score."""


TIE_TOLERANCE = 1e-12
"""How close to the best a best response's action must be to count as tied with it (relative;
see Game.best_response): rounding in the bottom-up sums, far below any real difference."""


def _contiguous(rows: np.ndarray) -> slice | np.ndarray:
    """`rows` (sorted) as a slice where they are contiguous, so that indexing makes views."""
    return slice(rows[0], rows[-1] + 1) if len(rows) and rows[-1] - rows[0] + 1 == len(rows) \
        else rows


@dataclass(frozen=True)
class _Level:
    """A player's information sets at one sequence depth, with what the passes index by."""

    rows: slice | np.ndarray
    parents: np.ndarray
    """Each set's parent sequence."""
    low: int
    high: int
    """The span of the parent sequences."""
    offsets: np.ndarray
    """The parent sequences less `low`."""

    @classmethod
    def of(cls, rows: slice | np.ndarray, parents: np.ndarray) -> "_Level":
        low, high = int(parents.min()), int(parents.max()) + 1
        return cls(rows, parents, low, high, parents - low)


class PolicyError(ValueError):
    """A policy handed to a measurement is not a distribution at every information set, or its
    measurement is not a finite number."""


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
        self.levels = [[_Level.of(_contiguous(rows), self.parent_sequence[rows])
                        for d in range(depth.max(initial=0) + 1)
                        if len(rows := np.flatnonzero((self.infoset_player == p) & (depth == d)))]
                       for p in range(self.num_players)]
        """Each player's information sets by sequence depth, shallowest first."""
        self.rows = [np.flatnonzero(self.infoset_player == p) for p in range(self.num_players)]
        self.slices = [_contiguous(r) for r in self.rows]
        """The same rows, as a slice where they are contiguous (as cfr_games lays them out)."""
        self.payoff_columns = [np.ascontiguousarray(self.terminal_payoff[:, p])
                               for p in range(self.num_players)]
        """Each player's column of `terminal_payoff`, contiguous (read once per regret pass)."""
        self.legal_count = self.mask.sum(axis=1, keepdims=True)
        numbered = np.arange(self.num_infosets)
        self.order = [np.concatenate([numbered[level.rows] for level in levels]
                                     or [numbered[:0]]) for levels in self.levels]
        """Each player's rows by depth, shallowest first: its levels as cfr_kernels takes them,
        with `bounds` (where each level starts in `order`, then the end), `lows` and `highs`
        (each level's span of parent sequences)."""
        self.bounds = [np.cumsum([0] + [len(numbered[level.rows]) for level in levels])
                       for levels in self.levels]
        self.lows = [np.array([level.low for level in levels], dtype=np.int64)
                     for levels in self.levels]
        self.highs = [np.array([level.high for level in levels], dtype=np.int64)
                      for levels in self.levels]
        legal = self.mask.ravel()
        self.legal = [np.flatnonzero(legal & np.repeat(self.infoset_player == p, self.num_actions))
                      for p in range(self.num_players)]
        """Each player's legal entries, as flat indices r * A + a in order."""
        self.regret_arrays = [(self.terminal_last, self.payoff_columns[p], p, self.order[p],
                               self.bounds[p], self.lows[p], self.highs[p],
                               self.parent_sequence, self.rows[p], self.mask)
                              for p in range(self.num_players)]
        """What cfr_kernels.regrets takes about the game, per player (looked up once)."""

    def uniform(self) -> np.ndarray:
        return self.mask / self.legal_count

    # -- the passes ----------------------------------------------------------------------

    def sequence_reach(self, policy: np.ndarray, player: int,
                       out: np.ndarray | None = None) -> np.ndarray:
        """x[s]: `player`'s own probability of playing sequence s (x[S] = 1: the empty one).
        Entries of other players' sequences are left as they are."""
        reach = np.ones(self.mask.size + 1) if out is None else out
        cfr_kernels.sequence_reach(policy, self.order[player], self.parent_sequence, reach)
        return reach

    def all_reach(self, policy: np.ndarray) -> np.ndarray:
        """Every player's sequence reach, one row per player."""
        reach = np.ones((self.num_players, self.mask.size + 1))
        for p in range(self.num_players):
            self.sequence_reach(policy, p, out=reach[p])
        return reach

    def _terminal_weights(self, reach: np.ndarray, player: int) -> np.ndarray:
        """payoff_i(z) times everyone else's reach of z (chance is in the payoff)."""
        weight = None
        for q in range(self.num_players):
            if q != player:
                others = reach[q][self.terminal_last[q]]
                weight = self.payoff_columns[player] * others if weight is None \
                    else np.multiply(weight, others, out=weight)
        return self.payoff_columns[player].copy() if weight is None else weight

    def _bottom_up(self, reach: np.ndarray, player: int, choose) -> np.ndarray:
        """Counterfactual values of `player`'s sequences, each information set folded into its
        parent sequence by `choose(rows, values[rows]) -> value of each set`."""
        values = np.bincount(self.terminal_last[player],
                             weights=self._terminal_weights(reach, player),
                             minlength=self.mask.size + 1)
        grid = values[:-1].reshape(self.mask.shape)
        for level in reversed(self.levels[player]):
            # Only the parents' span: the rest would add 0.0, which changes no value (a
            # bincount never holds -0.0, nor does a sum of them)
            values[level.low:level.high] += np.bincount(
                level.offsets, weights=choose(level.rows, grid[level.rows]),
                minlength=level.high - level.low)
        return values

    def legal_regrets(self, policy: np.ndarray, reach: np.ndarray, player: int,
                      out: np.ndarray, positions: np.ndarray) -> None:
        """`player`'s instantaneous counterfactual regrets, its k-th legal entry (`legal`)
        written to out[positions[k]]: straight into what the oracle sends. The module's
        docstring has the pass (compiled: cfr_kernels.regrets)."""
        cfr_kernels.regrets(policy, reach, *self.regret_arrays[player], positions, out)

    def regrets(self, policy: np.ndarray, reach: np.ndarray, player: int) -> np.ndarray:
        """The same regrets as an array of `player`'s rows (in order), 0 on illegal actions."""
        regret = np.zeros(self.mask.size)
        self.legal_regrets(policy, reach, player, regret, self.legal[player])
        return regret.reshape(self.mask.shape)[self.slices[player]]

    def expected_utility(self, reach: np.ndarray) -> np.ndarray:
        """Each player's expected utility when everyone plays the policy behind `reach`."""
        weight = np.ones(len(self.terminal_payoff))
        for q in range(self.num_players):
            weight = weight * reach[q, self.terminal_last[q]]
        return weight @ self.terminal_payoff

    # -- exploitability ----------------------------------------------------------------------

    def best_response(self, policy: np.ndarray, player: int,
                      tie: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
        """Exact value of a best response of `player` to `policy` (the others' part of it),
        and that best response: one action slot per information set (only `player`'s count).
        The others' reach does not depend on the responder, so one bottom-up pass taking the
        best legal action at each of its information sets is exact.

        Among tied best actions it takes the first, or with `tie` one drawn uniformly by that
        generator (the paper's PSRO oracle; a value is the same either way, so CFR, which only
        measures, keeps the first). Tied: within TIE_TOLERANCE of the best, relative to the
        larger of the set's largest absolute value and the game's largest absolute terminal
        weight (the floor keeps an unreached or cancelling set's rounding a tie). Every set
        of a level draws one number per action slot, tied or not, so the generator's stream
        depends on the game alone."""
        choice = np.zeros(self.num_infosets, dtype=np.int64)
        floor = float(np.abs(self.terminal_payoff).max(initial=0.0))

        def best(rows, values):
            legal = np.where(self.mask[rows], values, -np.inf)
            top = legal.max(axis=1)
            if tie is None:
                choice[rows] = legal.argmax(axis=1)
            else:
                scale = np.maximum(np.abs(np.where(self.mask[rows], values, 0.0)).max(axis=1),
                                   floor)
                tied = legal >= (top - TIE_TOLERANCE * scale)[:, None]
                choice[rows] = np.where(tied, tie.random(legal.shape), -1.0).argmax(axis=1)
            return top

        values = self._bottom_up(self.all_reach(policy), player, best)
        return float(values[-1]), choice

    def best_responses(self, policy: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """NashConv of `policy` (the sum over players of what a best response gains against
        it; exploitability is this over the number of players, as OpenSpiel's) and each
        player's best response. Assumes and checks that `policy` is a distribution at every
        information set (check_policy), and that what it measured is finite: a PolicyError
        otherwise, never a number."""
        self.check_policy(policy)
        on_policy = self.expected_utility(self.all_reach(policy))
        responses = [self.best_response(policy, p) for p in range(self.num_players)]
        nash_conv = float(sum(value - on_policy[p] for p, (value, _) in enumerate(responses)))
        if not math.isfinite(nash_conv):
            raise PolicyError(f"the policy's NashConv is not finite ({nash_conv})")
        return nash_conv, [choice for _, choice in responses]

    def nash_conv(self, policy: np.ndarray) -> float:
        """best_responses' NashConv alone (checked the same way)."""
        return self.best_responses(policy)[0]

    def check_policy(self, policy: np.ndarray) -> None:
        """The invariant every measurement assumes: an array of the game's shape, finite,
        non-negative, zero on illegal actions, each row summing to 1 within POLICY_TOLERANCE
        (NaN fails every comparison below, so it cannot slip through)."""
        if policy.shape != self.mask.shape:
            raise PolicyError(f"the policy has shape {policy.shape}, not {self.mask.shape}")
        if not (np.isfinite(policy).all() and (policy >= 0).all()):
            raise PolicyError("the policy has negative or non-finite probabilities")
        if policy[~self.mask].any():
            raise PolicyError("the policy puts probability on illegal actions")
        error = np.abs(policy.sum(axis=1) - 1.0)
        if not (error <= POLICY_TOLERANCE).all():
            worst = int(np.argmax(np.where(np.isnan(error), np.inf, error)))
            raise PolicyError(f"the policy's row at information set {worst} sums to "
                              f"{float(policy[worst].sum())!r}, not 1")
