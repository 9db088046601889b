"""Trusted scorer of the BabyAI memory task: each case's worlds are BabyAI levels generated from
seeds (babyai_worlds.babyai_world: world i of a case is the level at seed * 1000 + i); the
stream, the agent, the baseline and the metrics are the domain's (_shared/grid_scoring.py).
"""

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

from babyai_worlds import babyai_world
from grid_scoring import GridScorer, StreamCase
from gridworld import World


@dataclass(frozen=True)
class BabyAICase(StreamCase):
    level: str = "GoTo"
    """A level of minigrid.envs.babyai with a square grid and several distinct objects."""
    budget: int = 60


def worlds(case: BabyAICase) -> list[World]:
    return [babyai_world(f"w{i}", case.level, case.seed * 1000 + i) for i in range(case.worlds)]


SCORER = GridScorer(BabyAICase, worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
