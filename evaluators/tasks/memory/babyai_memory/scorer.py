"""Trusted scorer of the BabyAI memory task: its cases search on BabyAI levels generated from
seeds (babyai_worlds.babyai_world: world i of a case is the level at seed * 1000 + i) and hold
out other levels and domains; the stream, the agent, the baseline and the metrics are the
grid domains' (_shared/grid_scoring.py).
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

from grid_scoring import GridCase, GridScorer, grid_worlds


@dataclass(frozen=True)
class BabyAICase(GridCase):
    domain: Literal["scatter", "rooms", "babyai"] = "babyai"
    budget: int = 60


SCORER = GridScorer(BabyAICase, grid_worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
