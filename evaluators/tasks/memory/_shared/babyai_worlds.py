"""BabyAI levels as persistent worlds for memory tasks (trusted; needs `minigrid`).

A BabyAI level (`minigrid.envs.babyai`, e.g. GoTo: 3x3 rooms joined by doors, 18 objects) is
generated from a seed; here each (level, seed) is one world that stays put while a stream of
tasks visits it: go to one of its objects (goal text in BabyAI's words, "go to the red ball")
from a start cell. The episodes run on the grid world's engine (gridworld.Episode): four
moves, a square view, doors open, reward 1 on the object's cell; so the scripted agent, the
hint schema and every memory written for gridworld_memory work unchanged. An object whose
description another object shares is an obstacle (a wall here), so every goal names exactly
one cell. `bot_success` runs BabyAI's own BabyAIBot in the real minigrid level on the same task
(turns, door toggles, "go to" = face the object): the upper bound of an agent that knows the
level.
"""

import contextlib
import io
from collections import Counter

from gridworld import GridTask, World

INSTALL = "pip install -e '.[babyai]'"


def _babyai():
    try:
        import minigrid.envs.babyai as babyai
    except ImportError as exc:
        raise ValueError(f"BabyAI memory tasks need the minigrid package: {INSTALL}") from exc
    return babyai


def level_env(level: str, seed: int):
    """The minigrid level `level` (a class of minigrid.envs.babyai: GoTo, GoToLocal...),
    generated from `seed`."""
    env_class = getattr(_babyai(), level, None)
    if not isinstance(env_class, type):
        raise ValueError(f"{level!r} is not a BabyAI level of minigrid.envs.babyai (GoTo, "
                         "GoToLocal, Synth, BossLevel...)")
    env = env_class()
    with contextlib.redirect_stdout(io.StringIO()):  # its rejection sampling prints
        env.reset(seed=seed)
    return env


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
                 frozenset(doors))


def bot_success(level: str, seed: int, task: GridTask) -> tuple[bool, int]:
    """BabyAIBot on `task` in the real level: (done before the level's step limit, steps)."""
    from minigrid.envs.babyai.core.verifier import GoToInstr, ObjDesc
    from minigrid.utils.baby_ai_bot import BabyAIBot

    env = level_env(level, seed)
    env.agent_pos, env.agent_dir = task.start, 0
    color, kind = task.target.split()
    env.instrs = GoToInstr(ObjDesc(kind, color))
    env.instrs.reset_verifier(env)
    bot = BabyAIBot(env)
    for steps in range(1, env.max_steps + 1):
        _, reward, terminated, truncated, _ = env.step(bot.replan())
        if terminated or truncated:
            return reward > 0, steps
    return False, env.max_steps
