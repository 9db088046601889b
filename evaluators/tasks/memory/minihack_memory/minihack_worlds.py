"""MiniHack levels as persistent worlds for a memory task (trusted; needs `nle` and `minihack`).

ALMA's MiniHack domain plays BALROG's MiniHack navigation levels: NetHack (NLE, in this
process: it copies its library and game files into a temporary folder of its own per
environment and removes it on close) running a MiniHack level whose goal is the staircase down
(`>`). Here a world is one level generated from a seed (NLE's core and display seeds, so the
same seed is the same maze, start and staircase: every task of a world replays that level
from its start), and a task plays it once within a budget of moves. What an episode saw (the
corridors, the dead ends, where the staircase is) is true the next time in the same world, so
memory can carry it; mazes of one level share their size and kind, not their layout.

Levels (MiniHack's registered names without `MiniHack-` and `-v0`): the dark `MazeWalk-9x9`
and `MazeWalk-15x15` (the player sees the 8 cells around it; what it saw stays on the map)
and their lit `MazeWalk-Mapped-*` versions. The action set is MiniHack's navigation moves:
the 8 compass directions.

An observation (plain data, what the memory sees in the recorder):

    {"world": "m2003", "level": "MazeWalk-15x15", "position": [x, y], "message": "<the game's>",
     "view": ["rows of the remembered map around the player", ...], "stairs": [x, y] | None,
     "steps_left": n}

`position` and `stairs` are NetHack's map coordinates (x the column, y the row; the same in
every episode of a world); `view` is the map as the game shows it, `VIEW` cells each way of
the player (`.` floor, `>` the staircase, `@` the player, blank: rock or not yet seen); the
full remembered map (`Episode.map_text`) is the LLM agent's picture. Reward: 1 when the player
stands on the staircase (the level's end: MiniHack's success), else 0, BALROG's progression.
"""

import contextlib
import importlib.resources
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from memory_recorder import Recorder

INSTALL = ("pip install --no-build-isolation 'nle==1.3.0' 'minihack==1.0.2' (or pip install -e "
           "'.[minihack]')")
LEVELS = ("MazeWalk-9x9", "MazeWalk-15x15", "MazeWalk-45x19", "MazeWalk-Mapped-9x9",
          "MazeWalk-Mapped-15x15", "MazeWalk-Mapped-45x19")
MOVES = ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest")
"""MiniHack's navigation actions, in its order (action i is MOVES[i])."""
STEP = {"north": (0, -1), "east": (1, 0), "south": (0, 1), "west": (-1, 0),
        "northeast": (1, -1), "southeast": (1, 1), "southwest": (-1, 1), "northwest": (-1, -1)}
VIEW = 2
GOAL = "Go down the staircase (>) of this maze: find it and step onto it"

Cell = tuple[int, int]


def _nethack():
    """gymnasium with MiniHack's levels registered. minihack 1.0.2 imports `pkg_resources`
    for `resource_filename` (its and NLE's data folders), which setuptools 81 and later no
    longer ship: where it is missing, that one function is served by importlib.resources."""
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")
            shim.resource_filename = lambda package, name: str(
                importlib.resources.files(package) / name)
            sys.modules["pkg_resources"] = shim
    try:
        import gymnasium
        import minihack  # noqa: F401  (registers the MiniHack-* levels)
        import nle  # noqa: F401
    except ImportError as exc:
        raise ValueError(f"MiniHack memory tasks need the nle and minihack packages: {INSTALL}") \
            from exc
    return gymnasium


_idle: dict[str, list[Any]] = {}
"""Environments not playing an episode now, per level. Making one costs tens of milliseconds
(NLE copies NetHack's library, MiniHack compiles the level); starting a level on one costs a
few. They are kept for the life of the process and never closed: closing an NLE environment
while another one lives (a thread's environments collected when the thread ends did) closed
the other's open game data file, and its next level failed ("NetHack done right after
reset")."""
_idle_lock = threading.Lock()


@contextlib.contextmanager
def _env(level: str) -> Iterator[Any]:
    """An environment of `level` that nobody else steps while the context lasts."""
    with _idle_lock:
        env = _idle[level].pop() if _idle.get(level) else None
    if env is None:
        env = _nethack().make(f"MiniHack-{level}-v0",
                              observation_keys=("chars", "blstats", "message"))
    try:
        yield env
    finally:
        with _idle_lock:
            _idle.setdefault(level, []).append(env)


@dataclass(frozen=True)
class MazeWorld:
    name: str
    level: str
    seed: int


@dataclass(frozen=True)
class MazeTask:
    world: MazeWorld
    replay: int
    key: str

    @property
    def goal(self) -> str:
        return GOAL


def make_world(name: str, level: str, seed: int) -> MazeWorld:
    """The world, once its level is known and NLE and MiniHack import (so a missing package
    is said where the case's stream is made, before any episode)."""
    if level not in LEVELS:
        raise ValueError(f"a MiniHack case's level is one of {', '.join(LEVELS)}, not {level!r}")
    _nethack()
    return MazeWorld(name, level, seed)


def make_tasks(worlds: list[MazeWorld], per_world: int) -> list[MazeTask]:
    """Each world `per_world` times (the stream's shuffle spreads the replays)."""
    return [MazeTask(world, replay, f"{world.name}-{replay}") for world in worlds
            for replay in range(per_world)]


class Agent(Protocol):
    def act(self, obs: dict[str, Any], screen: "Screen") -> str: ...


@dataclass
class Screen:
    """What the game shows now: the remembered map (rows of NetHack's 79 x 21 map), the
    player's cell, the message, and whether the level is won."""

    rows: list[str]
    position: Cell
    message: str
    won: bool = False

    @staticmethod
    def read(raw: dict, won: bool = False) -> "Screen":
        rows = [bytes(row).decode("latin-1") for row in raw["chars"]]
        x, y = (int(v) for v in raw["blstats"][:2])
        message = bytes(raw["message"]).decode("latin-1").rstrip("\0 ").strip()
        return Screen(rows, (x, y), message, won)

    def ended(self, raw: dict, move: str, won: bool) -> "Screen":
        """The screen after the level's last move: NLE blanks the map and the player's cell
        once a level ends, so the map stays this one's, and the player stands on the staircase
        (a win: it was next to the player, so on the map) or where the move led."""
        x, y = self.position
        dx, dy = STEP[move]
        cell = (self.stairs() or (x + dx, y + dy)) if won else (x, y)
        return Screen(self.rows, cell, Screen.read(raw).message, won)

    def stairs(self) -> Cell | None:
        for y, row in enumerate(self.rows):
            if ">" in row:
                return row.index(">"), y
        return None

    def view(self) -> list[str]:
        x, y = self.position
        return ["".join(self.rows[r][c] if 0 <= r < len(self.rows) and 0 <= c < len(self.rows[r])
                        else " " for c in range(x - VIEW, x + VIEW + 1))
                for r in range(y - VIEW, y + VIEW + 1)]


def map_text(screen: Screen) -> tuple[list[str], Cell]:
    """The remembered map cut to what has been seen (one blank cell around it): its rows and
    the map coordinates of its top-left character."""
    seen = [(x, y) for y, row in enumerate(screen.rows) for x, c in enumerate(row) if c != " "]
    left = max(min(x for x, _ in seen) - 1, 0)
    top = max(min(y for _, y in seen) - 1, 0)
    right, bottom = max(x for x, _ in seen) + 1, max(y for _, y in seen) + 1
    return [row[left:right + 1] for row in screen.rows[top:bottom + 1]], (left, top)


@contextlib.contextmanager
def _level(task: MazeTask) -> Iterator[tuple[Any, Screen]]:
    """The task's level from its start: the world's seeds, then a reset."""
    with _env(task.world.level) as env:
        env.unwrapped.seed(task.world.seed, task.world.seed + 1, False)
        raw, _ = env.reset()
        yield env, Screen.read(raw)


def _obs(task: MazeTask, screen: Screen, steps_left: int) -> dict[str, Any]:
    stairs = screen.stairs()
    return {"world": task.world.name, "level": task.world.level,
            "position": list(screen.position), "message": screen.message,
            "view": screen.view(), "stairs": list(stairs) if stairs else None,
            "steps_left": steps_left}


class Episode:
    """One task played once: the level from its start, `budget` moves at most."""

    def __init__(self, task: MazeTask, budget: int):
        self.task, self.budget = task, budget

    def opening(self) -> Recorder:
        """The recorder of the episode before any move (the level's first observation)."""
        with _level(self.task) as (_, screen):
            return Recorder(_obs(self.task, screen, self.budget), self.task.goal)

    def play(self, agent: Agent) -> Recorder:
        with _level(self.task) as (env, screen):
            obs = _obs(self.task, screen, self.budget)
            recorder = Recorder(obs, self.task.goal)
            for step in range(1, self.budget + 1):
                move = agent.act(obs, screen)
                raw, _, terminated, truncated, info = env.step(MOVES.index(move))
                won = terminated and info.get("end_status") == 2  # StepStatus.TASK_SUCCESSFUL
                screen = Screen.read(raw, won) if not terminated else \
                    screen.ended(raw, move, won)
                obs = _obs(self.task, screen, self.budget - step)
                done = terminated or truncated or step == self.budget
                recorder.log(move, obs, 1.0 if won else 0.0, done)
                if done:
                    recorder.reward = 1.0 if won else 0.0
                    break
        return recorder
