"""Trusted scorer of the TextWorld memory task: each case's worlds are houses generated from
seeds by TextWorld's generator (textworld_worlds.make_world: world i of a case from seed
* 1000 + i); tasks, episodes and the scripted text agent are textworld_*.py's; the stream, the
baseline and the metrics are the memory tasks' (_shared/grid_scoring.py). `textworld` is
imported only when a world is made: without it the task loads, and `prepare` says what to
install.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

from grid_scoring import StreamCase
from textworld_scoring import TextWorldScorer
from textworld_worlds import Doors, TextWorld, WorldSpec, make_world


@dataclass(frozen=True)
class TextWorldCase(StreamCase):
    """`radius` (from the grid cases) is unused: a text game shows the whole room."""

    worlds: int = 4
    tasks_per_world: int = 12
    budget: int = 12
    """Commands per episode."""
    rooms: int = 8
    holders: int = 6
    objects: int = 8
    doors: Doors = "open"


def worlds(case: TextWorldCase) -> list[TextWorld]:
    return [make_world(f"w{i}", WorldSpec(case.seed * 1000 + i, case.rooms, case.holders,
                                          case.objects, case.doors))
            for i in range(case.worlds)]


SCORER = TextWorldScorer(TextWorldCase, worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
