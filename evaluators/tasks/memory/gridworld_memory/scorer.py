"""Trusted scorer of the grid-world memory task: each case's worlds are generated walled squares
(gridworld.make_world); the stream, the agent, the baseline and the metrics are the domain's
(_shared/grid_scoring.py). A case's `secret` says which stream (every key but `seed` has a
default, see GridCase); the candidate sees none of it, only the recorders of the episodes.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

from grid_scoring import GridScorer, StreamCase
from gridworld import World, make_world


@dataclass(frozen=True)
class GridCase(StreamCase):
    size: int = 19
    """Side of each world, border walls included."""
    items: int = 12
    walls: float = 0.25
    """Share of the interior that is wall."""


def worlds(case: GridCase) -> list[World]:
    """World i of a case: seed * 1000 + i."""
    return [make_world(f"w{i}", case.seed * 1000 + i, case.size, case.items, case.walls)
            for i in range(case.worlds)]


SCORER = GridScorer(GridCase, worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
