"""CFR+ exactly as OpenSpiel defines it, in arithmetic that cannot round a tie away: the arbiter
where our float CFR+ (cfr_oracle with the seed's rule) and OpenSpiel's float `CFRPlusSolver`
part ways (bench/cfr_openspiel_bench.py, tests/evaluators/tasks/test_cfr_openspiel.py).

The definition is OpenSpiel's (open_spiel/python/algorithms/cfr.py, whose C++ twin agrees to
the last digit): alternating updates, player 0 first; per player a recursive walk of the tree
under the current policy, each history h of the player's information set I adding
cf_reach(h) * (v(h, a) - v(h)) to I's cumulative regret and t * own_reach(h) * pi(I, a) to its
average's numerator (linear averaging); then regret matching plus (regrets floored at zero, the
policy proportional to them, uniform where none is positive). Nothing here is vectorised: it is
the plain recursion over OpenSpiel's own states, sharing no code with the engine.

Why it is needed: where two actions are worth exactly the same (a real tie: Battleship's
symmetric cells, Sheriff's equal bribes, the equal bids of Oshi-Zumo), a float regret is
rounding noise, +-1e-16, whose sign depends on the order of the sums. OpenSpiel's recursion
leaves such noise positive at some of those sets, and regret matching plus then plays the
noisy action with probability 1 where exact CFR+ plays uniformly: its trajectory departs from
CFR+ from that iteration on (Battleship 2x2, one ship, two shots: exploitability 0.307 at
iteration 2 against exact CFR+'s 0.0156). Ours counts cumulative regrets within
cfr_loop.REGRET_TOLERANCE of zero as zero, which is what this module checks: run with `exact`
(rational numbers: exact, but their size grows with every iteration, so a handful of iterations
on small games) or in DIGITS-digit decimals (ties rounded 10^-DIGITS apart and counted as zero
below TIE: a hundred iterations in seconds to minutes).
"""

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
from cfr_games import Flat, load

DIGITS = 60
"""Decimal digits of the arithmetic: rounding noise lands near 10^-60 of the values."""

TIE = Decimal("1e-40")
"""A decimal cumulative regret at or below this is a tie (zero): twenty orders of magnitude above
the rounding at DIGITS digits, and far below any regret a float game's payoffs can produce."""


class ReferenceCFRPlus:
    """OpenSpiel's CFR+ on game `name` (flattened as `flat`, whose rows it reports in)."""

    def __init__(self, flat: Flat, name: str, exact: bool = False):
        self.number = Fraction if exact else Decimal
        self.tie = 0 if exact else TIE
        self.players = flat.game.num_players
        rows = {(int(player), key): i for i, (player, key)
                in enumerate(zip(flat.game.infoset_player, flat.keys, strict=True))}
        self.sizes = [len(actions) for actions in flat.actions]
        self.root = self._build(load(name).new_initial_state(), rows)
        with localcontext() as context:
            context.prec = DIGITS  # 1/3 to DIGITS digits too, or it brings its own rounding
            self.policy = [[self.number(1) / n] * n for n in self.sizes]
        self.regret = [[self.number(0)] * n for n in self.sizes]
        self.numerator = [[self.number(0)] * n for n in self.sizes]
        self.rows = [np.flatnonzero(flat.game.infoset_player == p).tolist()
                     for p in range(self.players)]
        """Each player's rows (regret matching plus updates them after its walk)."""
        self.shape = flat.game.mask.shape
        self.t = 0

    def _build(self, state, rows: dict) -> tuple:
        """The tree as nested tuples of exact numbers (OpenSpiel's floats, converted exactly)."""
        if state.is_terminal():
            return ("terminal", [self.number(u) for u in state.returns()])
        if state.is_chance_node():
            return ("chance", [(self.number(p), self._build(state.child(a), rows))
                               for a, p in state.chance_outcomes()])
        player = state.current_player()
        row = rows[(player, state.information_state_string(player))]
        return ("decision", player, row,
                [self._build(state.child(a), rows) for a in state.legal_actions()])

    def _walk(self, node: tuple, reach: list, chance, updating: int) -> list:
        """Every player's value of `node` under the current policy; at `updating`'s sets, the
        regrets and the average's numerator take this history's share."""
        if node[0] == "terminal":
            return node[1]
        if node[0] == "chance":
            value = [0] * self.players
            for p, child in node[1]:
                below = self._walk(child, reach, chance * p, updating)
                value = [v + p * b for v, b in zip(value, below, strict=True)]
            return value
        _, player, row, children = node
        policy = self.policy[row]
        value, below = [0] * self.players, []
        for p, child in zip(policy, children, strict=True):
            moved = list(reach)
            moved[player] *= p
            below.append(self._walk(child, moved, chance, updating))
            value = [v + p * b for v, b in zip(value, below[-1], strict=True)]
        if player == updating:
            counterfactual = chance
            for other, r in enumerate(reach):
                if other != player:
                    counterfactual *= r
            regret, numerator = self.regret[row], self.numerator[row]
            for a, (p, child_value) in enumerate(zip(policy, below, strict=True)):
                regret[a] += counterfactual * (child_value[player] - value[player])
                numerator[a] += self.t * reach[player] * p
        return value

    def iterate(self) -> None:
        """One iteration: each player in turn, then regret matching plus on its sets."""
        self.t += 1
        one = self.number(1)
        with localcontext() as context:
            context.prec = DIGITS
            for player in range(self.players):
                self._walk(self.root, [one] * self.players, one, player)
                for row in self.rows[player]:
                    regret = [r if r > self.tie else self.number(0) for r in self.regret[row]]
                    total = sum(regret)
                    self.regret[row] = regret
                    self.policy[row] = [r / total for r in regret] if total > 0 \
                        else [one / len(regret)] * len(regret)

    def average_policy(self) -> np.ndarray:
        """The average policy in the flat layout, as floats (uniform where never reached)."""
        policy = np.zeros(self.shape)
        with localcontext() as context:
            context.prec = DIGITS
            for row, numerator in enumerate(self.numerator):
                total = sum(numerator)
                policy[row, :len(numerator)] = [float(n / total) for n in numerator] \
                    if total > 0 else 1 / len(numerator)
        return policy


def reference_curve(flat: Flat, name: str, iterations: list[int],
                    exact: bool = False) -> dict[int, float]:
    """Exploitability of ReferenceCFRPlus's average policy after each of `iterations`."""
    cfr = ReferenceCFRPlus(flat, name, exact)
    curve = {}
    for t in range(1, max(iterations) + 1):
        cfr.iterate()
        if t in iterations:
            curve[t] = flat.game.nash_conv(cfr.average_policy()) / flat.game.num_players
    return curve


def openspiel_curve(name: str, iterations: list[int]) -> dict[int, float]:
    """Exploitability of OpenSpiel's C++ CFRPlusSolver's average policy after each of
    `iterations`, measured by OpenSpiel."""
    import pyspiel

    game = load(name)
    solver = pyspiel.CFRPlusSolver(game)
    curve = {}
    for t in range(1, max(iterations) + 1):
        solver.evaluate_and_update_policy()
        if t in iterations:
            curve[t] = pyspiel.nash_conv(game, solver.average_policy()) / game.num_players()
    return curve
