"""Trusted scorer of the ALMA TextWorld games task: each case's worlds are games of one of
ALMA's TextWorld challenges (BALROG's treasure_hunter and the_cooking_game), generated from
seeds by TextWorld's own challenge generators (textworld_games.py: game i of a case from seed *
1000 + i), each replayed `tasks_per_world` times in the stream; the episodes, the scripted text
agent (with the challenge's verbs to try) or the LLM agent, the stream, the baseline and the
metrics are the TextWorld task's (_shared/textworld_scoring.py). `textworld` is imported only
when a game is made: without it the task loads, and `prepare` says what to install.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

from grid_scoring import StreamCase
from textworld_agent import Hints, TextAgent
from textworld_games import TRIES, Challenge, GameSpec, GameTask, GameWorld, make_tasks, make_world
from textworld_scoring import TextWorldScorer

SYSTEM = """You play a text adventure (TextWorld): find the object of the quest and take it \
(treasure hunter), or read the cookbook, gather, cut and cook the ingredients as it says and \
prepare and eat the meal (cooking game). A stream of episodes replays a few such games, so the \
memory (notes from earlier episodes) may hold what worked and what lost a game. Each turn, \
issue exactly one of the commands the game accepts now.

Reply in the following JSON format.
{
    "thinking": "your reasoning, briefly",
    "answer": "one command, exactly as listed"
}"""


@dataclass(frozen=True)
class GamesCase(StreamCase):
    """`radius` (from the grid cases) is unused. ALMA's budgets: 40 commands for the treasure
    hunter, 80 for the cooking game."""

    challenge: Challenge = "treasure_hunter"
    worlds: int = 6
    """Games."""
    tasks_per_world: int = 4
    """Plays of each game in the stream."""
    budget: int = 40
    level: int = 20
    """treasure_hunter's level (1-30)."""
    recipe: int = 2
    """cooking: ingredients."""
    go: int = 6
    """cooking: rooms (1, 6, 9 or 12)."""


def worlds(case: GamesCase) -> list[GameWorld]:
    return [make_world(f"g{i}", GameSpec(case.challenge, case.seed * 1000 + i, case.level,
                                         case.recipe, case.go))
            for i in range(case.worlds)]


class GamesScorer(TextWorldScorer):
    system = SYSTEM

    def tasks(self, case: GamesCase) -> list[GameTask]:
        return make_tasks(self.make_worlds(case), case.tasks_per_world)

    @staticmethod
    def scripted_agent(task: GameTask, hints: Hints, seed: str) -> TextAgent:
        return TextAgent(task.target, hints, seed, TRIES[task.world.spec.challenge])


SCORER = GamesScorer(GamesCase, worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
