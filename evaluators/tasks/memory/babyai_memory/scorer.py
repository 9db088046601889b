"""Trusted scorer of the BabyAI memory task: its cases search on BabyAI levels generated from
seeds (babyai_worlds.babyai_world: world i of a case is the level at seed * 1000 + i), played
in the real minigrid levels (babyai_worlds.LevelEpisode), and hold out other levels and
domains; the stream, the agent, the baseline and the metrics are the grid domains'
(_shared/grid_scoring.py).
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
    dynamics: Literal["grid", "minigrid"] = "minigrid"
    budget: int = 80
    """minigrid steps: turns and door toggles count (BabyAIBot, BabyAI's expert bot, takes 74
    on average with no memory of the level)."""


SCORER = GridScorer(BabyAICase, grid_worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
