"""The CFR engine's passes in torch, for games too big for the CPU (trusted side only).

The definitions are cfr_engine.py's, and so are the names: a game in sequence form, a player's
sequence reach x_p, its instantaneous counterfactual regrets, best responses and NashConv; read
the docstrings there for the math. What changes is where and how they run: `TorchGame` holds a
`cfr_engine.Game`'s arrays on a torch device (moved there once, float64) and computes every pass
with torch ops that queue on that device without waiting for the host (gathers, index_add_, no
`.item()`, no boolean masking), so a CFR iteration is a stream of kernels and the host only
waits where a number is read: a measurement's NashConv.

Two primitives differ from the numpy engine's, for a GPU's sake:
  - sequence reach is one gather and one product over each sequence's chain of own ancestors
    (precomputed once: a few levels deep) instead of one pass per level;
  - the bincounts are index_add_ into the sequences, in whatever order the device adds (on
    CUDA an atomic add: sums may differ between runs in their last bit, far below the tie
    tolerances of cfr_engine and cfr_loop).
Results agree with the numpy engine to rounding (tests/evaluators/tasks/test_cfr_torch.py:
within 1e-12; a CFR+ run's exploitability within 1e-10).

Two ways in:
  - `TorchGame`: tensors in, tensors out, for a loop that stays on the device (the bench's
    CFR+, bench/cfr_gpu_bench.py);
  - `on_device(game, device)`: what an oracle holds instead of its Game in a GPU slot. The same
    numpy interface as cfr_engine.Game, with the passes that touch every terminal (regrets,
    best responses, NashConv) computed on the device; the rest (sequence reach, the policy
    checks) stays in numpy, costing O(information sets). Small games stay on the CPU.
"""

import math
from collections.abc import Callable

import numpy as np
import torch
from cfr_engine import POLICY_TOLERANCE, TIE_TOLERANCE, Game

GPU_MIN_TERMINALS = 100_000
"""Games with fewer terminals keep the numpy engine even in a GPU slot: a pass over them takes
a millisecond or two on a core at most, about what a GPU's kernel launches and copies cost
(3-player Leduc has 1,043,952 terminals, 2-player Leduc 5,520). A guess: not yet measured on a
GPU."""

Rows = slice | torch.Tensor


def _rows(rows: slice | np.ndarray, device: torch.device) -> Rows:
    """A level's rows as torch indexes them: the engine's slice, or its index array moved."""
    return rows if isinstance(rows, slice) else torch.as_tensor(rows, device=device)


class TorchGame:
    """A cfr_engine.Game's arrays on `device`, and its passes on tensors there (float64)."""

    def __init__(self, game: Game, device: str | torch.device = "cpu"):
        self.game = game
        self.device = torch.device(device)
        self.num_players, self.num_infosets, self.num_actions = (
            game.num_players, game.num_infosets, game.num_actions)
        self.size = game.mask.size
        """Sequences of all players; index `size` is the empty sequence."""

        def move(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=self.device)

        self.mask = move(game.mask, torch.bool)
        self.legal = move(game.mask, torch.float64)
        self.legal_count = self.legal.sum(dim=1, keepdim=True)
        self.infoset_player = move(game.infoset_player, torch.int64)
        self.parent_sequence = move(game.parent_sequence, torch.int64)
        self.terminal_last = move(game.terminal_last, torch.int64)
        self.payoff = move(game.terminal_payoff.T, torch.float64)
        """terminal_payoff transposed: one contiguous row per player."""
        self.floor = float(np.abs(game.terminal_payoff).max(initial=0.0))
        """The tie floor of Game.best_response."""
        self.levels = [[(_rows(level.rows, self.device), move(level.parents, torch.int64))
                        for level in levels] for levels in game.levels]
        """Each player's information sets by sequence depth, shallowest first (the engine's)."""
        self.level_sizes = [[len(np.arange(game.num_infosets)[level.rows]) for level in levels]
                            for levels in game.levels]
        self.slices = [_rows(rows, self.device) for rows in game.slices]
        self.ancestors = move(self._ancestors(game), torch.int64)
        """For each information set, its own player's sequences above it, root first, padded
        with `size` (a policy entry of 1): x(I, a) = pi(I, a) * prod pi(ancestors of I)."""

    @staticmethod
    def _ancestors(game: Game) -> np.ndarray:
        empty = game.mask.size
        chains = [[] for _ in range(game.num_infosets)]
        for levels in game.levels:
            for level in levels:  # shallowest first: a parent's chain is complete before
                for row, parent in zip(np.arange(game.num_infosets)[level.rows], level.parents,
                                       strict=True):
                    chains[row] = [] if parent == empty else \
                        chains[parent // game.num_actions] + [int(parent)]
        depth = max((len(chain) for chain in chains), default=0)
        return np.array([chain + [empty] * (depth - len(chain)) for chain in chains],
                        dtype=np.int64).reshape(game.num_infosets, depth)

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        """A numpy array of floats on this game's device, as float64."""
        return torch.as_tensor(array, dtype=torch.float64, device=self.device)

    def uniform(self) -> torch.Tensor:
        return self.legal / self.legal_count

    # -- the passes (cfr_engine.Game's, same names and meaning) -------------------------

    def sequence_reach(self, policy: torch.Tensor, player: int,
                       out: torch.Tensor | None = None) -> torch.Tensor:
        """Game.sequence_reach: `player`'s own probability of each of its sequences (x[S] = 1),
        as each sequence's probability times the product of its own ancestors'."""
        reach = torch.ones(self.size + 1, dtype=torch.float64, device=self.device) \
            if out is None else out
        rows = self.slices[player]
        padded = torch.cat([policy.reshape(-1), policy.new_ones(1)])
        chain = padded[self.ancestors[rows]].prod(dim=1, keepdim=True)
        reach[:-1].view(self.num_infosets, self.num_actions)[rows] = policy[rows] * chain
        return reach

    def all_reach(self, policy: torch.Tensor) -> torch.Tensor:
        """Every player's sequence reach, one row per player."""
        reach = torch.ones((self.num_players, self.size + 1), dtype=torch.float64,
                           device=self.device)
        for p in range(self.num_players):
            self.sequence_reach(policy, p, out=reach[p])
        return reach

    def own_reach(self, reach: torch.Tensor, rows: Rows) -> torch.Tensor:
        """Each of `rows`' own player's reach of its parent sequence: what the average's
        numerator weighs the policy by (cfr_oracle.CFR.advance)."""
        return reach[self.infoset_player[rows], self.parent_sequence[rows]]

    def _terminal_weights(self, reach: torch.Tensor, player: int) -> torch.Tensor:
        """payoff_i(z) times everyone else's reach of z (chance is in the payoff)."""
        weight = self.payoff[player]
        for q in range(self.num_players):
            if q != player:
                weight = weight * reach[q][self.terminal_last[q]]
        return weight

    def _bottom_up(self, reach: torch.Tensor, player: int,
                   choose: Callable[[Rows, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Game._bottom_up: counterfactual values of `player`'s sequences, each information set
        folded into its parent sequence by `choose(rows, values[rows])`, deepest level first."""
        values = torch.zeros(self.size + 1, dtype=torch.float64, device=self.device)
        values.index_add_(0, self.terminal_last[player], self._terminal_weights(reach, player))
        grid = values[:-1].view(self.num_infosets, self.num_actions)
        for rows, parents in reversed(self.levels[player]):
            values.index_add_(0, parents, choose(rows, grid[rows]))
        return values

    def regrets(self, policy: torch.Tensor, reach: torch.Tensor, player: int) -> torch.Tensor:
        """Game.regrets: instantaneous counterfactual regret of each (I, a) of `player`'s rows
        (in order)."""
        expected = torch.zeros(self.num_infosets, dtype=torch.float64, device=self.device)

        def fold(rows: Rows, values: torch.Tensor) -> torch.Tensor:
            folded = (policy[rows] * values).sum(dim=1)  # final: deeper sets are in
            expected[rows] = folded
            return folded

        values = self._bottom_up(reach, player, fold)
        rows = self.slices[player]
        grid = values[:-1].view(self.num_infosets, self.num_actions)[rows]
        return (grid - expected[rows].unsqueeze(1)) * self.legal[rows]

    def accumulate(self, numerator: torch.Tensor, rows: Rows, weight: torch.Tensor | float,
                   own: torch.Tensor, policy: torch.Tensor) -> None:
        """Add weight * own reach * the policy just played to `rows` of the average's
        numerator, in place: cfr_oracle.CFR.accumulate's plain sum, for honest weights (a
        loop of the trusted side's own, such as the bench's CFR+). A candidate's weights go
        through the oracle's own accumulate, which rescales rows before they overflow."""
        numerator[rows] += (weight * own).unsqueeze(1) * policy[rows]

    def average_policy(self, numerator: torch.Tensor) -> torch.Tensor:
        """The numerator's rows normalised (uniform where a row is still all zero)."""
        total = numerator.sum(dim=1, keepdim=True)
        return torch.where(total > 0, numerator / torch.where(total > 0, total, 1.0),
                           self.uniform())

    def expected_utility(self, reach: torch.Tensor) -> torch.Tensor:
        """Each player's expected utility when everyone plays the policy behind `reach`."""
        weight = reach[0][self.terminal_last[0]]
        for q in range(1, self.num_players):
            weight = weight * reach[q][self.terminal_last[q]]
        return self.payoff @ weight

    # -- exploitability ------------------------------------------------------------------

    def best_response(self, policy: torch.Tensor, player: int,
                      tie: np.random.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Game.best_response on the device: the value (a 0-d tensor) and the choice (one
        action slot per information set, only `player`'s count). Ties: the first best action,
        or with `tie` the one drawn by that generator, from the same draws in the same order
        as the engine's (made on the host before the pass, one copy), so a seed picks the
        same actions on either engine wherever their sums round alike."""
        choice = torch.zeros(self.num_infosets, dtype=torch.int64, device=self.device)
        draws = None if tie is None else iter([
            self.tensor(tie.random((count, self.num_actions)))
            for count in reversed(self.level_sizes[player])])

        def best(rows: Rows, values: torch.Tensor) -> torch.Tensor:
            mask = self.mask[rows]
            legal = torch.where(mask, values, -math.inf)
            top = legal.amax(dim=1)
            if draws is None:
                choice[rows] = legal.argmax(dim=1)  # the first of the maxima, as numpy's
            else:
                scale = torch.where(mask, values, 0.0).abs().amax(dim=1).clamp(min=self.floor)
                tied = legal >= (top - TIE_TOLERANCE * scale).unsqueeze(1)
                choice[rows] = torch.where(tied, next(draws), -1.0).argmax(dim=1)
            return top

        values = self._bottom_up(self.all_reach(policy), player, best)
        return values[-1], choice

    # Game's own: they only call the passes above (check_policy, expected_utility, all_reach,
    # best_response), whose values are 0-d tensors here; the NashConv is read back once.
    best_responses = Game.best_responses
    nash_conv = Game.nash_conv

    def check_policy(self, policy: torch.Tensor) -> None:
        """Game.check_policy's invariant, tested on the device in one read; a policy that
        fails it is handed to Game.check_policy for the line that names what is wrong."""
        if policy.shape != self.mask.shape:
            self.game.check_policy(policy.cpu().numpy())
        error = (policy.sum(dim=1) - 1.0).abs()
        valid = torch.isfinite(policy).all() & (policy >= 0).all() \
            & ~(policy * ~self.mask).any() & (error <= POLICY_TOLERANCE).all()
        if not bool(valid):
            self.game.check_policy(policy.cpu().numpy())


class DeviceGame:
    """A cfr_engine.Game whose passes over the terminals run on a torch device: numpy in and
    out, so an oracle holds it where it held the Game (on_device). Every other attribute and
    method is the Game's own (numpy: O(information sets) work)."""

    def __init__(self, game: Game, device: str | torch.device):
        self.numpy = game
        self.torch = TorchGame(game, device)

    def __getattr__(self, name: str):
        return getattr(self.numpy, name)

    def regrets(self, policy: np.ndarray, reach: np.ndarray, player: int) -> np.ndarray:
        on = self.torch
        return on.regrets(on.tensor(policy), on.tensor(reach), player).cpu().numpy()

    def legal_regrets(self, policy: np.ndarray, reach: np.ndarray, player: int,
                      out: np.ndarray, positions: np.ndarray) -> None:
        """Game.legal_regrets: `player`'s regrets, its k-th legal entry (row-major over its
        rows) written to out[positions[k]] (what the oracle sends)."""
        regret = self.regrets(policy, reach, player)
        out[positions] = regret[self.numpy.mask[self.numpy.slices[player]]]

    def expected_utility(self, reach: np.ndarray) -> np.ndarray:
        return self.torch.expected_utility(self.torch.tensor(reach)).cpu().numpy()

    def best_response(self, policy: np.ndarray, player: int,
                      tie: np.random.Generator | None = None) -> tuple[float, np.ndarray]:
        value, choice = self.torch.best_response(self.torch.tensor(policy), player, tie)
        return float(value), choice.cpu().numpy()

    def best_responses(self, policy: np.ndarray) -> tuple[float, list[np.ndarray]]:
        nash_conv, choices = self.torch.best_responses(self.torch.tensor(policy))
        return nash_conv, [choice.cpu().numpy() for choice in choices]

    nash_conv = Game.nash_conv  # through this class's best_responses, not the numpy Game's


def on_device(game: Game, device: str | torch.device,
              min_terminals: int = GPU_MIN_TERMINALS) -> Game | DeviceGame:
    """What an oracle should hold for `game` when its slot computes on `device`
    (evaluators.devices.torch_device()): the game itself on the CPU or when it is small (under
    `min_terminals` terminals), else a DeviceGame computing there."""
    if torch.device(device).type == "cpu" or len(game.terminal_payoff) < min_terminals:
        return game
    return DeviceGame(game, device)


def cfr_plus(game: TorchGame, iterations: int, tolerance: float) -> torch.Tensor:
    """CFR+ wholly on the device, as the CFR task's seed plays it through its oracle: alternating
    updates (player 0 first), regret matching plus (cumulative regrets floored at zero, those
    within `tolerance` of it, cfr_loop.REGRET_TOLERANCE, counted as zero), linear averaging
    (weight t). Returns the average policy. The trusted side's own loop, with no candidate:
    what bench/cfr_gpu_bench.py times, and what the tests hold against the numpy oracle."""
    policy = game.uniform()
    reach = game.all_reach(policy)
    cumulative = torch.zeros_like(policy)
    numerator = torch.zeros_like(policy)
    for t in range(1, iterations + 1):
        for player, rows in enumerate(game.slices):
            regret = cumulative[rows] + game.regrets(policy, reach, player)
            cumulative[rows] = regret.clamp(min=0.0)
            game.accumulate(numerator, rows, float(t), game.own_reach(reach, rows), policy)
            positive = torch.where(regret > tolerance, regret, 0.0) * game.legal[rows]
            total = positive.sum(dim=1, keepdim=True)
            policy[rows] = torch.where(total > 0, positive / torch.where(total > 0, total, 1.0),
                                       game.legal[rows] / game.legal_count[rows])
            game.sequence_reach(policy, player, out=reach[player])
    return game.average_policy(numerator)
