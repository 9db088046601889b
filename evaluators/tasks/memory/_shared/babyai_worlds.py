"""BabyAI levels as persistent worlds for memory tasks (trusted; needs `minigrid`).

A BabyAI level (`minigrid.envs.babyai`, e.g. GoTo: 3x3 rooms joined by doors, 18 objects) is
generated from a seed; here each (level, seed) is one world that stays put while a stream of
tasks visits it: go to one of its objects (goal text in BabyAI's words, "go to the red ball")
from a start cell. An object whose description another object shares is an obstacle (a wall
here), so every goal names exactly one cell.

Episodes run one of two ways. `LevelEpisode` plays them in the real minigrid level, with its
dynamics: the agent has a direction, turning is a step, a closed door takes a toggle, objects
block, and the task is done when the agent faces the goal object (BabyAI's GoToInstr); each of
the agent's four moves (north, east, south, west) becomes the turns, toggle and forward step it
takes there, every one counted against the budget. The grid engine (gridworld.Episode) is the
simplified other way: four moves, doors open, reward on the object's cell. Both show the agent
the same plain observation (a square view, the items in sight), so the scripted agent, the hint
schema and every memory written for gridworld_memory work unchanged. `bot_success` runs
BabyAI's own BabyAIBot in the real level on the same task: an expert that maps the level as it
sees it, with no memory between episodes.
"""

import contextlib
import copy
import functools
import io
from collections import Counter

from gridworld import Episode, GridTask, World

INSTALL = "pip install -e '.[babyai]'"


def _babyai():
    try:
        import minigrid.envs.babyai as babyai
    except ImportError as exc:
        raise ValueError(f"BabyAI memory tasks need the minigrid package: {INSTALL}") from exc
    return babyai


@functools.cache
def _generated(level: str, seed: int):
    """The level generated once per process (its rejection sampling takes a few hundred ms; a
    copy of it, 5 ms)."""
    env_class = getattr(_babyai(), level, None)
    if not isinstance(env_class, type):
        raise ValueError(f"{level!r} is not a BabyAI level of minigrid.envs.babyai (GoTo, "
                         "GoToLocal, Synth, BossLevel...)")
    env = env_class()
    with contextlib.redirect_stdout(io.StringIO()):  # its rejection sampling prints
        env.reset(seed=seed)
    return env


def level_env(level: str, seed: int):
    """The minigrid level `level` (a class of minigrid.envs.babyai: GoTo, GoToLocal...),
    generated from `seed`: a fresh copy, to play in."""
    return copy.deepcopy(_generated(level, seed))


def babyai_world(name: str, level: str, seed: int) -> World:
    env = level_env(level, seed)
    if env.width != env.height:
        raise ValueError(f"BabyAI level {level} is {env.width}x{env.height}: only square "
                         "levels make worlds")
    walls, doors, objects = set(), set(), {}
    for x in range(env.width):
        for y in range(env.height):
            cell = env.grid.get(x, y)
            if cell is None:
                continue
            if cell.type == "wall":
                walls.add((x, y))
            elif cell.type == "door":
                doors.add((x, y))
            else:
                objects[x, y] = f"{cell.color} {cell.type}"
    counts = Counter(objects.values())
    items = {label: cell for cell, label in objects.items() if counts[label] == 1}
    if len(items) < 2:
        raise ValueError(f"BabyAI level {level} (seed {seed}) has fewer than two objects that "
                         "only one description fits: choose a level with more objects")
    walls |= {cell for cell, label in objects.items() if counts[label] > 1}
    return World(name, env.width, frozenset(walls), dict(sorted(items.items())),
                 frozenset(doors), (level, seed))


def task_env(task: GridTask, light: bool = False):
    """The task's level with the agent on its start facing east, and BabyAI's "go to" goal.
    `light`: a copy that shares the level's objects but its doors (enough for turns, forward
    steps and door toggles; 5 ms less per episode than a deep copy)."""
    from minigrid.envs.babyai.core.verifier import GoToInstr, ObjDesc

    if task.world.level is None:
        raise ValueError(f"world {task.world.name} was not read from a BabyAI level: only the "
                         "babyai domain has minigrid dynamics")
    env = _light_copy(_generated(*task.world.level)) if light else level_env(*task.world.level)
    env.agent_pos, env.agent_dir = task.start, 0
    color, kind = task.target.split()
    env.instrs = GoToInstr(ObjDesc(kind, color))
    env.instrs.reset_verifier(env)
    return env


def _light_copy(env):
    """A shallow copy of the level whose grid is its own list of cells, with its own doors:
    what turning, stepping and toggling doors change (every other change is a rebinding of an
    attribute of the copy)."""
    env, grid = copy.copy(env), copy.copy(env.grid)
    grid.grid = [copy.copy(cell) if cell is not None and cell.type == "door" else cell
                 for cell in grid.grid]
    env.grid = grid
    return env


def bot_success(task: GridTask) -> tuple[bool, int]:
    """BabyAIBot on `task` in the real level: (done before the level's step limit, steps)."""
    from minigrid.utils.baby_ai_bot import BabyAIBot

    env = task_env(task)
    bot = BabyAIBot(env)
    for steps in range(1, env.max_steps + 1):
        _, reward, terminated, truncated, _ = env.step(bot.replan())
        if terminated or truncated:
            return reward > 0, steps
    return False, env.max_steps


DIRECTIONS = {"east": 0, "south": 1, "west": 2, "north": 3}
"""minigrid's agent_dir for each move."""


class LevelEpisode(Episode):
    """A task played in the real minigrid level: a move is the turns, door toggle and forward
    step that make it there, each a step of the budget; done when the agent faces the goal
    object (reward 1), or when the budget or the level's own step limit is spent."""

    def __init__(self, task: GridTask, radius: int, budget: int):
        super().__init__(task, radius, budget)
        self.env = task_env(task, light=True)
        self.env.gen_obs = lambda: None  # minigrid's image observation: 90% of a step, unused
        self.goal_cell = task.world.items[task.target]

    def observe(self) -> dict:
        """gridworld.Episode's observation, read from the level: open floor and doors that
        open (closed or not) are `.`, walls, locked doors and objects other than the goal `#`
        (objects block the way here)."""
        obs = super().observe()
        (px, py), r, grid = self.position, self.radius, self.env.grid

        def mark(x: int, y: int) -> str:
            if not (0 <= x < grid.width and 0 <= y < grid.height):
                return "#"
            cell = grid.get(x, y)
            passable = cell is None or (cell.type == "door" and not cell.is_locked) \
                or (x, y) == self.goal_cell
            return "." if passable else "#"

        obs["view"] = ["".join(mark(x, y) for x in range(px - r, px + r + 1))
                       for y in range(py - r, py + r + 1)]
        return obs

    def step(self, action: str) -> None:
        """One move as minigrid actions (an unknown move: one step spent standing still)."""
        if self.done:
            raise ValueError("the episode is over")
        env, actions = self.env, self.env.actions
        want = DIRECTIONS.get(action)
        if want is None:
            self._count(False, False)
            return
        turn = (want - env.agent_dir) % 4
        plan = [actions.left] if turn == 3 else [actions.right] * turn
        dx, dy = ((1, 0), (0, 1), (-1, 0), (0, -1))[want]
        front = env.grid.get(self.position[0] + dx, self.position[1] + dy)
        if front is not None and front.type == "door" and not front.is_open:
            plan.append(actions.toggle)
        for act in [*plan, actions.forward]:
            _, reward, terminated, truncated, _ = env.step(act)
            self.position = (int(env.agent_pos[0]), int(env.agent_pos[1]))
            self._count(terminated and reward > 0, terminated or truncated)
            if self.done:
                return

    def _count(self, success: bool, over: bool) -> None:
        self.steps += 1
        if success:
            self.reward, self.done = 1.0, True
        elif over or self.steps >= self.budget:
            self.done = True
