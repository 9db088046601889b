"""The trusted side of CFR (evaluator process): the task's oracle.

The candidate's process (cfr_loop.py) only turns regrets into policies with its update rule;
this object runs CFR (Zinkevich et al. 2007) around it. It holds the game, the current policy
pi^t, every player's sequence reach x_p and the average policy's numerator. With alternating
updates (OpenSpiel's CFR and CFR+) each player i in turn, and otherwise all players at once,
at iteration t:
  - gets its instantaneous counterfactual regrets r^t(I, a) = v_i(I, a) - sum_b pi^t(I, b)
    v_i(I, b) under the current policy (cfr_engine), sent to the candidate;
  - receives the next policy pi^{t+1}(I) and the weight w_t(I) of pi^t, checks both, adds
    w_t(I) x_i(I) pi^t(I, a) to the average's numerator (realization-weighted, so the average
    is the average strategy, as OpenSpiel's) and plays pi^{t+1} from then on: the next
    player's regrets already see it.
After each checkpoint iteration it measures the exact exploitability (NashConv / players) of
the average policy. The scorer reads those numbers: nothing the candidate returns is scored,
and the candidate cannot run more or fewer iterations than the case asks.

What the answers accumulate to is checked too. Each weight is finite and each policy a
distribution, but weights such as 1e308 used to overflow the average's numerator: rows of
finite entries over an infinite sum read 0 (a policy that reaches no terminal: NashConv 0, the
best score there is) and rows of infinite entries read NaN (a NaN score, which halts a
campaign). The numerator now keeps each information set's row at a scale of its own (see
`accumulate`), so any finite weights average exactly as their ratios say, and the measurement
checks that the average is a distribution at every information set (`Game.best_responses`);
a failure there ends the run as the program's failure (`protocols.Oracle`).
"""

import functools

import cfr_kernels
import numpy as np
from cfr_engine import Game
from cfr_loop import POLICY_SUM_TOLERANCE, check_policy, check_weight
from protocols import Oracle
from threadpoolctl import ThreadpoolController
from wire import pack, unpack

SCALE_BITS = 1000
"""A numerator row is rescaled before its sum could reach 2**SCALE_BITS (float64 ends at
2**1024): room for one more increment below 2**SCALE_BITS on top of the row."""
PLAIN_LIMIT = 2.0 ** (SCALE_BITS - 10)
PLAIN_RANGE = 2.0 ** -500
"""Where `accumulate` may add plainly (see there): every row's sum stays below PLAIN_LIMIT,
and every non-zero weight and own reach is at least PLAIN_RANGE (so no product is subnormal)."""


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries, found once (0.5 ms a time; numpy's, which the measurement
    uses, is loaded by then)."""
    return ThreadpoolController()


class CFR(Oracle):
    name = "CFR"
    pins_blas = True
    """The evaluator need not pin BLAS to one thread around each call (evaluators/task.py):
    an update uses no BLAS (compiled passes, copies), and the measurement pins it itself."""

    def __init__(self, game: Game, checkpoints: list[int], alternating: bool = True):
        self.game, self.checkpoints = game, set(checkpoints)
        self.iterations = max(checkpoints)
        self.alternating = alternating
        self.groups = game.slices if alternating else [slice(None)]
        """The rows updated together: each player's (alternating) or all of them."""
        self.masks = [game.mask[rows] for rows in self.groups]
        """Their legal actions: only those entries of a policy or regret array travel."""
        self.rows = game.rows if alternating else [np.arange(game.num_infosets)]
        self.counts = [int(mask.sum()) for mask in self.masks]
        """The groups' rows as index arrays (the kernels'), and their legal entries' counts."""
        groups = [[p] for p in range(game.num_players)] if alternating \
            else [list(range(game.num_players))]
        rank = np.cumsum(game.mask.ravel()) - 1  # each legal entry's place among all of them
        self.senders = [[(p, np.arange(len(game.legal[p])) if alternating else rank[game.legal[p]])
                         for p in group] for group in groups]
        """Each group's players, each with where its legal regrets go in what the group sends."""
        self.policy = game.uniform()
        self.reach = game.all_reach(self.policy)
        self.numerator = np.zeros(game.mask.shape)
        self.scale = np.zeros(game.num_infosets, dtype=np.int64)
        """Row I of the average's numerator holds its true value times 2**-scale[I]."""
        self.exploitability: dict[int, float] = {}
        """Exploitability of the average policy after each checkpoint iteration."""
        self.t = 0
        """Iterations completed."""
        self.turn = 0
        """The group whose next policy the candidate sends next."""
        self.started = False
        self.legal = max(self.counts)
        """The most legal entries of a group: the shared region's regret and policy parts."""
        self.bound = 0.0
        """Above every numerator row's sum while `accumulate` adds plainly; inf after it
        could not once."""
        self.outgoing = np.empty(self.legal)
        """The regrets sent over the channel (packed), as the shared region would hold them."""
        self.arrays = [(rows, game.mask, POLICY_SUM_TOLERANCE, self.policy, self.numerator,
                        self.reach, game.infoset_player, game.parent_sequence, PLAIN_LIMIT,
                        PLAIN_RANGE, p if alternating else -1, game.order[p if alternating else 0])
                       for p, rows in enumerate(self.rows)]
        """What cfr_kernels.update takes besides the answer, per group (the policy, reach and
        numerator arrays are updated in place, never replaced)."""
        self.compile()

    def compile(self) -> None:
        """The kernels compiled (or loaded from numba's cache) now, while the evaluator sets
        the case up, not at the first request, while the candidate's process waits on its
        wall-time limit (a cold compile takes ~5 s here, more under load): the first regrets,
        and an update of no rows (which changes nothing), with the argument types of every
        later call."""
        self.game.legal_regrets(self.policy, self.reach, 0, self.outgoing,
                                self.senders[0][0][1])
        none = np.zeros(0)
        cfr_kernels.update(none, none, False, False, self.bound, none.astype(np.int64),
                           *self.arrays[0][1:])

    def shared_size(self) -> int:
        """The shared region: a group's regrets at 0, the policy it sends at `legal`, its
        weights at 2 * `legal`."""
        return 2 * self.legal + max(len(mask) for mask in self.masks)

    def __call__(self, request: list) -> dict:
        """One request from the candidate's process, any JSON value: `["start"]` once, then
        `[policy, weight]` (packed strings, wire.py) per update until done; or, through the
        shared region, `["start", "shared"]`, then `["shared", k]` per update (the policy and
        k weights written into the region; the regrets are read from it). Anything else, or a
        policy or weight that fails its checks (update), is refused with a ValueError or
        TypeError (the candidate's error) before anything changes."""
        self.refuse_if_failed()
        if request in (["start"], ["start", "shared"]):
            if self.started:
                raise ValueError("CFR has started already")
            self.started, self.sharing = True, request[-1] == "shared"
            return {"masks": [mask.tolist() for mask in self.masks], **self.send()}
        if not self.started or self.done:
            raise ValueError("send cfr('start') first, then one (policy, weight) per update "
                             "until CFR is done")
        self.update(*self.received(request))
        return {"done": True} if self.done else {"done": False, **self.send()}

    def send(self) -> dict:
        """The instantaneous regrets of the group whose turn it is (their legal entries, in
        order): written straight into the shared region (the reply says where the answer
        goes), or packed into the reply."""
        out = self.shared.array if self.sharing else self.outgoing
        for player, positions in self.senders[self.turn]:
            self.game.legal_regrets(self.policy, self.reach, player, out, positions)
        if not self.sharing:
            return {"regret": pack(out[:self.counts[self.turn]])}
        return {"shared": {"policy": self.legal, "weight": 2 * self.legal}}

    def received(self, request) -> tuple[np.ndarray, np.ndarray]:
        """The policy's legal entries and the weights of an update request, as private copies
        (read out of the shared region before anything checks them: the candidate may write
        there again at any time). A request of the wrong form is a TypeError."""
        if self.sharing:
            rows = len(self.masks[self.turn])
            if not (isinstance(request, list) and len(request) == 2 and request[0] == "shared"
                    and type(request[1]) is int and 0 <= request[1] <= rows):
                raise TypeError(f"cfr takes 'shared' and how many weights were written to the "
                                f"shared memory (1, or one per information set: {rows})")
            return (self.shared.read(self.legal, self.counts[self.turn]),
                    self.shared.read(2 * self.legal, request[1]))
        if not isinstance(request, list) or len(request) != 2 \
                or not all(isinstance(part, str) for part in request):
            raise TypeError("cfr takes two arguments: the next policy and the weight, packed")
        return unpack(request[0]).copy(), unpack(request[1]).copy()

    def update(self, legal: np.ndarray, weight: np.ndarray) -> None:
        """Average the policy just played with `weight`, then play the policy whose legal
        actions' entries are `legal` (as sent): both checked before anything changes
        (cfr_kernels.update checks them as cfr_loop does, compiled; where they fail, cfr_loop's
        own checks name what is wrong)."""
        count = self.counts[self.turn]
        what = f"at iteration {self.t + 1}"
        if legal.size != count:
            raise ValueError(f"the policy sent {what} has {legal.size} entries, not one per "
                             f"legal action ({count})")
        found, bound = self.apply(legal, weight, checked=False, accumulated=False)
        if found in (cfr_kernels.BAD_POLICY, cfr_kernels.BAD_WEIGHT):
            mask = self.masks[self.turn]
            policy = np.zeros(mask.shape)
            policy[mask] = legal
            check_policy(policy, f"the policy sent {what}")
            check_weight(weight.reshape(()) if weight.size == 1 else weight, len(mask),
                         f"the weight sent {what}")
            found, bound = self.apply(legal, weight, checked=True, accumulated=False)
        if found == cfr_kernels.SCALED:
            with self.committing(what):
                rows, game = self.rows[self.turn], self.game
                self.accumulate(rows, weight.reshape(()) if weight.size == 1 else weight,
                                self.reach[game.infoset_player[rows], game.parent_sequence[rows]])
                found, bound = self.apply(legal, weight, checked=True, accumulated=True)
        self.bound = bound
        self.advance(what)

    def apply(self, legal: np.ndarray, weight: np.ndarray, checked: bool,
              accumulated: bool) -> tuple[int, float]:
        """cfr_kernels.update on the group whose turn it is (with alternating updates it also
        recomputes that player's reach: a player's reach depends on its own moves only). Once
        its checks pass it cannot fail (compiled loops over arrays it does not allocate), so it
        runs outside `committing`: only what can fail after a change does."""
        return cfr_kernels.update(legal, weight, checked, accumulated, self.bound,
                                  *self.arrays[self.turn])

    def advance(self, what: str) -> None:
        """After the group whose turn it is was updated: every player's reach follows the new
        policy (without alternating updates; `apply` did the one player's otherwise), the turn
        passes, and after a checkpoint iteration the average is measured (Game.nash_conv
        refuses one that is not a distribution: the run's failure)."""
        game = self.game
        if not self.alternating:
            for player in range(game.num_players):
                game.sequence_reach(self.policy, player, out=self.reach[player])
        self.turn = (self.turn + 1) % len(self.groups)
        if self.turn == 0:
            self.t += 1
            if self.t in self.checkpoints:
                with self.committing(what), _blas().limit(limits=1, user_api="blas"):
                    self.exploitability[self.t] = (game.nash_conv(self.average_policy())
                                                   / game.num_players)

    def accumulate(self, rows: np.ndarray, weight: np.ndarray, own: np.ndarray) -> None:
        """Add weight * own * (the policy just played) to the rows' numerator, whatever the
        (finite, non-negative) weights: the increment's mantissa and exponent are taken apart
        (frexp) so nothing overflows on the way, and a row whose sum could pass
        2**SCALE_BITS is first scaled down by a power of two (exact) and its scale raised.
        Only a row's ratios matter (average_policy divides it by its sum), so the scale never
        shows. Honest weights (VAD-CFR's t^4 is 1e12 at t = 1000) never come near: their rows
        keep scale 0 and the very sums of a plain `numerator += weight * own * policy`.

        That plain sum is what runs while it is the same arithmetic: no row could reach a
        rescale (`bound`: each increment adds at most twice the largest weight to a row, own
        reach and a policy's row sum being 1 up to rounding) and no product is subnormal
        (weight * own rounds once, where mantissa * own rounded and ldexp rounded again);
        a scaled power of two rounds as the product does, so the bits are the same. The plain
        sum runs compiled in cfr_kernels.update, which returns SCALED where it cannot: then this."""
        self.bound = np.inf
        mantissa, exponent = np.frexp(np.broadcast_to(weight, own.shape))
        mass = mantissa * own  # under 2: own reach is at most 1 (and rounding)
        numerator, scale = self.numerator[rows], self.scale[rows]
        shift = exponent - scale  # the increment is mass * 2**shift at the row's scale
        bits = np.maximum(shift + 1, np.frexp(numerator.sum(axis=1))[1])
        over = bits >= SCALE_BITS
        numerator[over] = np.ldexp(numerator[over], -bits[over, None])
        scale[over] += bits[over]
        shift[over] -= bits[over]
        numerator += np.ldexp(mass, shift)[:, None] * self.policy[rows]
        self.numerator[rows], self.scale[rows] = numerator, scale

    def average_policy(self) -> np.ndarray:
        """The average of the policies played, each weighted by its weight and its player's
        own reach of each information set (uniform where that is nothing yet): a distribution
        at every information set, which the measurement checks (Game.best_responses)."""
        total = self.numerator.sum(axis=1, keepdims=True)
        return np.where(total > 0, self.numerator / np.where(total > 0, total, 1),
                        self.game.uniform())
