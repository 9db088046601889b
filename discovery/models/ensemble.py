"""Choosing which model to ask: UCB1 over the models of an ensemble (as ShinkaEvolve does).

Each model is an arm; its reward is whether the child it proposed improved on its parent.
A model never tried is tried first (by configured weight); after that the arm with the highest
mean reward + exploration * sqrt(2 ln N / n) wins, so calls shift toward the models whose
children improve while every model keeps being sampled now and then.

The state is plain JSON, stored with the campaign; restoring it against a different model list
keeps the arms that remain, starts new models fresh and drops removed ones (ShinkaEvolve issue
#129 crashed on exactly that change at resume).
"""

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

from discovery.models.base import ModelSpec


@dataclass
class Arm:
    pulls: int = 0
    reward: float = 0.0


class Ensemble:
    def __init__(self, specs: list[ModelSpec], state: dict[str, Any] | None = None,
                 exploration: float = 1.0):
        self.weights = {s.name: s.weight for s in specs}
        self.exploration = exploration
        saved = (state or {}).get("arms", {})
        self.arms = {name: Arm(**saved[name]) if name in saved else Arm()
                     for name in self.weights}

    def choose(self, rng: random.Random) -> str:
        untried = [name for name, arm in self.arms.items() if arm.pulls == 0]
        if untried:
            return rng.choices(untried, weights=[self.weights[n] for n in untried], k=1)[0]
        total = sum(arm.pulls for arm in self.arms.values())

        def ucb(name: str) -> float:
            arm = self.arms[name]
            bonus = self.exploration * math.sqrt(2 * math.log(total) / arm.pulls)
            return arm.reward / arm.pulls + bonus

        best = max(ucb(name) for name in self.arms)
        leaders = [name for name in self.arms if ucb(name) >= best - 1e-12]
        return rng.choices(leaders, weights=[self.weights[n] for n in leaders], k=1)[0]

    def update(self, name: str, reward: float) -> None:
        if name in self.arms:  # a result from a model no longer configured is dropped
            self.arms[name].pulls += 1
            self.arms[name].reward += reward

    def state(self) -> dict[str, Any]:
        return {"arms": {name: asdict(arm) for name, arm in self.arms.items()}}
