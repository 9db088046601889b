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
"""

import numpy as np
from cfr_engine import Game
from cfr_loop import check_policy, check_weight
from wire import pack, unpack


class CFR:
    def __init__(self, game: Game, checkpoints: list[int], alternating: bool = True):
        self.game, self.checkpoints = game, set(checkpoints)
        self.iterations = max(checkpoints)
        self.alternating = alternating
        self.groups = game.slices if alternating else [slice(None)]
        """The rows updated together: each player's (alternating) or all of them."""
        self.masks = [game.mask[rows] for rows in self.groups]
        """Their legal actions: only those entries of a policy or regret array travel."""
        self.policy = game.uniform()
        self.reach = game.all_reach(self.policy)
        self.numerator = np.zeros(game.mask.shape)
        self.exploitability: dict[int, float] = {}
        """Exploitability of the average policy after each checkpoint iteration."""
        self.t = 0
        """Iterations completed."""
        self.turn = 0
        """The group whose next policy the candidate sends next."""
        self.started = False

    @property
    def done(self) -> bool:
        return self.t == self.iterations

    def __call__(self, request: list) -> dict:
        if request == ["start"]:
            if self.started:
                raise ValueError("CFR has started already")
            self.started = True
            return {"masks": [mask.tolist() for mask in self.masks],
                    "regret": pack(self.regret()[self.masks[0]])}
        if not self.started or self.done:
            raise ValueError("send cfr('start') first, then one (policy, weight) per update "
                             "until CFR is done")
        if len(request) != 2 or not all(isinstance(part, str) for part in request):
            raise TypeError("cfr takes two arguments: the next policy and the weight, packed")
        self.update(unpack(request[0]), unpack(request[1]))
        if self.done:
            return {"done": True}
        return {"done": False, "regret": pack(self.regret()[self.masks[self.turn]])}

    def regret(self) -> np.ndarray:
        """The instantaneous regrets of the group whose turn it is."""
        if self.alternating:
            return self.game.regrets(self.policy, self.reach, self.turn)
        regret = np.zeros(self.game.mask.shape)
        for p, rows in enumerate(self.game.slices):
            regret[rows] = self.game.regrets(self.policy, self.reach, p)
        return regret

    def update(self, legal: np.ndarray, weight: np.ndarray) -> None:
        """Average the policy just played with `weight`, then play the policy whose legal
        actions' entries are `legal` (as sent)."""
        game, rows, mask = self.game, self.groups[self.turn], self.masks[self.turn]
        what = f"at iteration {self.t + 1}"
        if legal.size != mask.sum():
            raise ValueError(f"the policy sent {what} has {legal.size} entries, not one per "
                             f"legal action ({mask.sum()})")
        policy = np.zeros(mask.shape)
        policy[mask] = legal
        weight = weight.reshape(()) if weight.size == 1 else weight
        check_policy(policy, f"the policy sent {what}")
        check_weight(weight, len(mask), f"the weight sent {what}")
        own = self.reach[game.infoset_player[rows], game.parent_sequence[rows]]
        self.numerator[rows] += (weight.reshape(-1, 1) if weight.ndim else weight) \
            * own[:, None] * self.policy[rows]
        self.policy[rows] = policy
        if self.alternating:  # a player's reach depends on its own moves only
            game.sequence_reach(self.policy, self.turn, out=self.reach[self.turn])
        else:
            self.reach = game.all_reach(self.policy)
        self.turn = (self.turn + 1) % len(self.groups)
        if self.turn == 0:
            self.t += 1
            if self.t in self.checkpoints:
                self.exploitability[self.t] = (game.nash_conv(self.average_policy())
                                               / game.num_players)

    def average_policy(self) -> np.ndarray:
        """The average of the policies played, each weighted by its weight and its player's
        own reach of each information set."""
        total = self.numerator.sum(axis=1, keepdims=True)
        return np.where(total > 0, self.numerator / np.where(total > 0, total, 1),
                        self.game.uniform())
