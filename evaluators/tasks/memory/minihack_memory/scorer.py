"""Trusted scorer of the MiniHack memory task (ALMA's MiniHack domain): each case's worlds are
MiniHack mazes (minihack_worlds.py: world i of a case is its level from seed * 1000 + i), each
replayed `tasks_per_world` times in ALMA's stream (memory_stream.alma_stream); the episodes run
in NetHack (NLE) here, on the trusted side, played by the scripted maze agent (the offline,
model-free setting) or the LLM agent (minihack_agent.py); the case keys, the no-memory baseline
and the metrics are the grid tasks' (grid_scoring.GridScorer). `nle` and `minihack` are
imported only when a level is made: without them the task loads, and `prepare` says in one
line what to install.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grid_scoring import GridScorer, StreamCase
from minihack_agent import MazeLLMAgent, ScriptedMazeAgent, read_hints
from minihack_worlds import Episode, MazeTask, MazeWorld, make_tasks, make_world

from evaluators.agent_model import AgentModel


@dataclass(frozen=True)
class MiniHackCase(StreamCase):
    """`radius` (from the grid cases) is unused: the level decides what the player sees."""

    level: str = "MazeWalk-15x15"
    """A MiniHack navigation level (minihack_worlds.LEVELS)."""
    worlds: int = 8
    """Mazes."""
    tasks_per_world: int = 3
    """Plays of each maze in the stream."""
    budget: int = 45
    """Moves per episode (the shortest way to the staircase of the 15x15 mazes of the shipped
    cases is 2 to 43 moves; the scripted agent with no memory wins about half within 45)."""


def worlds(case: MiniHackCase) -> list[MazeWorld]:
    """World i is the level from seed * 1000 + i, named by that seed (`m2003`): a maze's name
    is its own in every case, so a memory keyed by it never mistakes another case's maze (the
    distribution-shift test deploys on other mazes) for one it saw."""
    seeds = [case.seed * 1000 + i for i in range(case.worlds)]
    return [make_world(f"m{seed}", case.level, seed) for seed in seeds]


class MiniHackScorer(GridScorer):
    def tasks(self, case: MiniHackCase) -> list[MazeTask]:
        return make_tasks(self.make_worlds(case), case.tasks_per_world)

    def stream(self, case: MiniHackCase, model: AgentModel | None = None):
        """The case's stream, its episodes played by the case's agent."""
        llm = self.llm_plays(case, model)

        def play(task: MazeTask, retrieved: dict, repeat: int):
            hints, seed = read_hints(retrieved), f"{task.key}-{repeat}"
            agent = ScriptedMazeAgent(hints, seed) if not llm else \
                MazeLLMAgent(model, task.goal, ">", retrieved, hints, seed)
            return Episode(task, case.budget).play(agent)

        return self.alma(case, lambda task: Episode(task, case.budget).opening(), play)

    def prepare(self, stages) -> None:
        """Every case's first level started now: a missing package or a wrong level is said
        before any evaluation."""
        for stage in stages:
            for config in stage.cases:
                Episode(self.tasks(self.case(config.secret))[0], 1).opening()


SCORER = MiniHackScorer(MiniHackCase, worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
