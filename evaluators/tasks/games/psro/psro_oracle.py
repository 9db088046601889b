"""The trusted side of PSRO with exact best responses and exact payoffs (evaluator process).

The candidate's process sends one meta-strategy per iteration (see psro_loop.py), and
optionally a second, the evaluation-time one; this object, the task's oracle, turns them into
the joint policies they stand for, adds every player's exact best response to the training
meta-strategy's policy to its population, measures the exact exploitability of the evaluation
meta-strategy's policy (the training one's when only one is sent) and answers with the
meta-game's new entries. The scorer reads the exploitabilities recorded here: nothing the
candidate computes is taken on trust.

Game arrays come from the CFR task's flattening (cfr_games.py) and engine (cfr_engine.py):
  - a population member of player p is a policy over p's information sets; its realization
    weights (own reach) at terminals R_p[z, k] and at information sets r_p[I, k] are kept;
  - the meta-game is U[i, k_0, ..., k_{n-1}] = sum_z c(z) u_i(z) prod_p R_p[z, k_p], c(z) the
    chance reach: exact expected payoffs, computed only for entries that involve a new member;
  - a meta-strategy sigma_p stands for the behaviour policy (Kuhn's theorem, as OpenSpiel's
    PolicyAggregator) pi_p(I, a) = sum_k sigma_k r_k(I) pi_k(I, a) / sum_k sigma_k r_k(I);
  - exploitability = (sum_p BR_p(pi) - u_p(pi)) / n, best responses exact (cfr_engine).
As in OpenSpiel's PSRO, a best response joins its population even when an equal one is
already there: with duplicates kept, the Uniform meta-solver is fictitious play.

What is checked, and where. The candidate's answers are the meta-strategies: each a
distribution over its player's population (psro_loop.check_meta_strategy, again here), then
normalised. The members (the uniform policy and exact best responses) and so the meta-game's
payoffs are the trusted side's own: nothing the candidate sends enters them but through the
best responses' choice. What the meta-strategies aggregate to, the joint policy, is checked to
be a distribution at every information set before it is measured (Game.best_responses), and a
mixture whose weights at an information set are near underflow counts as not reaching it
(REACH_FLOOR), so no valid meta-strategy can aggregate to rows that sum to 0 or 1.5. A failure
after the checks ends the run as the program's failure (protocols.Oracle).
"""

import math

import numpy as np
from cfr_engine import Game, PolicyError
from protocols import Oracle
from psro_loop import check_meta_strategy, enlarge, new_entries
from wire import pack

CHUNK = 1 << 22
"""Entries of the folded matrix fixed_order_contraction holds at once (32 MB)."""

REACH_FLOOR = 2.0 ** -900
"""A mixture that reaches an information set with probability under this counts as not
reaching it (the uniform policy there, as where it never does). Its weights sigma_k r_k(I)
are then near float64's underflow (2**-1074), where each sigma_k r_k(I) pi_k(I, a) rounds to
whole multiples of 2**-1074 and the mixed row no longer sums to 1 (0 or 1.5 on Leduc under 1.5e-323
on the uniform member); what such a set plays moves an exploitability by under 2**-900."""


class PSRO(Oracle):
    name = "PSRO"

    def __init__(self, game: Game, iterations: int, max_entries: int = 20_000_000,
                 tie_seed: int | None = None):
        self.game, self.iterations, self.max_entries = game, iterations, max_entries
        self.tie_seed = tie_seed
        self.tie = None if tie_seed is None else np.random.default_rng(tie_seed)
        """With a seed, the best responses that join the populations take a tied best action
        uniformly at random (the paper's oracle); without, the first (Game.best_response).
        Only those draw from it, so the populations do not depend on the evaluation
        meta-strategy, whose best responses only measure."""
        n = game.num_players
        self.rows = game.rows
        uniform = game.uniform()
        capacity = iterations + 1
        self.policies = [np.zeros((capacity, len(rows), game.num_actions)) for rows in self.rows]
        self.infoset_reach = [np.zeros((capacity, len(rows))) for rows in self.rows]
        self.terminal_reach = [np.zeros((len(game.terminal_payoff), capacity)) for _ in range(n)]
        self.sizes = [0] * n
        for p in range(n):
            self._add(p, uniform)
        self.payoffs = self._grow(np.zeros((n,) + (0,) * n))
        self.exploitability: dict[int, float] = {}
        """Exploitability of the joint policy of each iteration's meta-strategy."""
        self.t = 0
        self.started = False

    def __call__(self, request: list) -> object:
        """One request from the candidate's process, any JSON value: `["start"]` once (or
        `["start", "shared"]`: the new payoffs then arrive in the shared region, wire.py), then
        per iteration the training meta-strategy and optionally the evaluation one, each a
        list per player that check_meta_strategy accepts. Anything else is refused with a
        ValueError or TypeError (the candidate's error) before anything changes."""
        self.refuse_if_failed()
        if request in (["start"], ["start", "shared"]):
            if self.started:
                raise ValueError("PSRO has started already")
            self.started, self.sharing = True, request[-1] == "shared"
            return self.payoffs.tolist()
        if not self.started or self.t >= self.iterations:
            raise ValueError("send psro('start') first, then one meta-strategy per iteration")
        if not isinstance(request, list) or len(request) not in (1, 2):
            raise TypeError("psro takes the training meta-strategy (a list per player) and, "
                            "optionally, the evaluation meta-strategy")
        sigmas = [check_meta_strategy(sigma, tuple(self.sizes)) for sigma in request]
        with self.committing(f"at iteration {self.t + 1}"):
            return self.iterate(sigmas)

    def iterate(self, sigmas: list[list[np.ndarray]]) -> dict:
        """One PSRO iteration from checked meta-strategies (training, then evaluation)."""
        self.t += 1
        same = len(sigmas) == 1 or all(np.array_equal(a, b) for a, b in zip(*sigmas, strict=True))
        responses = self.best_responses(self.joint_policy(sigmas[0]), record=same, tie=self.tie)
        if not same:  # the evaluation meta-strategy differs: its own best responses measure it
            self.best_responses(self.joint_policy(sigmas[1]), record=True)
        if self.t == self.iterations:
            return {"done": True}
        old = self.payoffs
        for p, choice in enumerate(responses):
            self._add_best_response(p, choice)
        self.payoffs = self._grow(old)
        new = self.payoffs[:, new_entries(old.shape[1:], self.sizes)]
        if not self.sharing:
            return {"done": False, "sizes": list(self.sizes), "new": pack(new)}
        self.shared.write(0, new)
        return {"done": False, "sizes": list(self.sizes), "shared": new.size}

    def shared_size(self) -> int:
        """The most new entries one iteration adds (each population grows by one member at
        most), within the meta-game's cap."""
        n, k = self.game.num_players, self.iterations
        return min(self.max_entries, n * (k**n - (k - 1)**n))

    def best_responses(self, joint: np.ndarray, record: bool,
                       tie: np.random.Generator | None = None) -> list[np.ndarray]:
        """Every player's exact best response (its choice at each information set) to
        `joint`, which `measure` checks is a distribution at every information set; with
        `record`, the exploitability of `joint` becomes this iteration's."""
        nash_conv, responses = self.measure(joint, tie)
        if record:
            self.exploitability[self.t] = nash_conv / self.game.num_players
        return responses

    def joint_policy(self, sigma: list[np.ndarray]) -> np.ndarray:
        """The behaviour policy each player's mixture stands for, all players in one array:
        where the mixture reaches an information set (above REACH_FLOOR), its members'
        policies weighted by sigma_k r_k(I); elsewhere uniform."""
        joint = self.game.uniform()
        for p, rows in enumerate(self.rows):
            k = self.sizes[p]
            weight = sigma[p][:, None] * self.infoset_reach[p][:k]  # sigma_k r_k(I)
            total = weight.sum(axis=0)
            mixed = np.einsum(weight, [0, 1], self.policies[p][:k], [0, 1, 2], [1, 2])
            reached = total > REACH_FLOOR
            joint[rows[reached]] = mixed[reached] / total[reached, None]
        return joint

    def _add_best_response(self, p: int, choice: np.ndarray) -> None:
        policy = np.zeros(self.game.mask.shape)
        policy[self.rows[p], choice[self.rows[p]]] = 1.0
        self._add(p, policy)

    def _add(self, p: int, policy: np.ndarray) -> None:
        """A member of p's population (policy: rows of every player; p's count)."""
        k = self.sizes[p]
        own = self.game.sequence_reach(policy, p)
        self.policies[p][k] = policy[self.rows[p]]
        self.infoset_reach[p][k] = own[self.game.parent_sequence[self.rows[p]]]
        self.terminal_reach[p][:, k] = own[self.game.terminal_last[p]]
        self.sizes[p] = k + 1

    def _grow(self, payoffs: np.ndarray) -> np.ndarray:
        """`payoffs` extended to the current populations, with only the entries that involve a
        new member computed: per player p, the slab where p's member is new and every earlier
        player's is old (these slabs cover the new entries once each)."""
        n, old = self.game.num_players, payoffs.shape[1:]
        entries = n * int(np.prod(self.sizes))
        if entries > self.max_entries:
            raise ValueError(f"the meta-game would have {entries:,} entries, more than "
                             f"{self.max_entries:,}: use fewer PSRO iterations or a smaller game")
        grown = enlarge(payoffs, self.sizes)
        for p in range(n):
            ranges = [slice(0, old[q]) if q < p else slice(old[q], self.sizes[q]) if q == p
                      else slice(0, self.sizes[q]) for q in range(n)]
            factors = [self.game.terminal_payoff,
                       *(self.terminal_reach[q][:, ranges[q]] for q in range(n))]
            grown[(slice(None), *ranges)] = fixed_order_contraction(factors)
        return grown

    def measure(self, joint: np.ndarray,
                tie: np.random.Generator | None = None) -> tuple[float, list[np.ndarray]]:
        """Game.best_responses (the same checks: a distribution at every information set, a
        finite NashConv), with the on-policy utilities summed in a fixed order instead of
        its BLAS product, and ties among best actions broken by `tie` (Game.best_response)."""
        game = self.game
        game.check_policy(joint)
        reach = game.all_reach(joint)
        weight = np.ones(len(game.terminal_payoff))
        for q in range(game.num_players):
            weight = weight * reach[q, game.terminal_last[q]]
        on_policy = np.einsum(weight, [0], game.terminal_payoff, [0, 1], [1])
        responses = [game.best_response(joint, p, tie=tie) for p in range(game.num_players)]
        nash_conv = float(sum(value - on_policy[p] for p, (value, _) in enumerate(responses)))
        if not math.isfinite(nash_conv):
            raise PolicyError(f"the policy's NashConv is not finite ({nash_conv})")
        return nash_conv, [choice for _, choice in responses]


def fixed_order_contraction(factors: list[np.ndarray]) -> np.ndarray:
    """out[a, b, ...] = sum_z F0[z, a] F1[z, b] ...: the einsum "za,zb,...->ab...", without
    BLAS (einsum with optimize hands it to BLAS, whose order of summation, and so the last bits,
    depend on the CPU kernel and the thread count; see fixed_order_sum).

    The widest factor but the first (the payoffs) is kept apart; the others are folded into
    one (terminals x m) matrix by elementwise products, and the two are contracted by
    fixed_order_sum, in chunks of terminals that bound the folded matrix to CHUNK entries
    (3-player Leduc has ~10^6 terminals), the chunks' sums added in order."""
    sizes = [f.shape[1] for f in factors]
    widest = 1 + int(np.argmax(sizes[1:]))
    rest = [f for i, f in enumerate(factors) if i != widest]
    m = math.prod(sizes) // sizes[widest]
    step = max(1, CHUNK // max(m, 1))
    out = np.zeros((m, sizes[widest]))
    for start in range(0, len(factors[0]), step):
        chunk = slice(start, start + step)
        head = rest[0][chunk]
        for f in rest[1:]:
            head = (head[:, :, None] * f[chunk, None, :]).reshape(len(head), -1)
        out += fixed_order_sum(head, factors[widest][chunk])
    shape = [s for i, s in enumerate(sizes) if i != widest] + [sizes[widest]]
    return np.moveaxis(out.reshape(shape), -1, widest)


def fixed_order_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a.T @ b, summed over the rows in their order by numpy's einsum without `optimize`: its
    own C loops, never BLAS, so the same bits under any OpenBLAS kernel and thread count (a
    test runs PSRO under three kernels and two thread counts); its loops are compiled for
    numpy's baseline CPU features, not dispatched at run time (the same bits with
    NPY_DISABLE_CPU_FEATURES taking numpy from AVX-512 down to its X86_V2 baseline)."""
    return np.einsum(a, [0, 1], b, [0, 2], [1, 2])
