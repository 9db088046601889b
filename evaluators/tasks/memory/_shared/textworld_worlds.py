"""TextWorld games as persistent worlds for memory tasks (trusted; needs `textworld`).

A world is a house generated from a seed with TextWorld's own generator and its treasure
hunter knowledge base: rooms joined by exits (and doors), containers and supporters, portable
objects, the names given by its grammar. It stays put while a stream of tasks visits it: each
task starts the player in one of its rooms and asks for one of its objects ("take the
carrot"), so what an episode saw (which exit leads where, which box holds what) is true in the
next in the same world: memory can carry it, as in the grid worlds. Every task is its own game
(the start room and the quest are compiled in), made by TextWorld's compiler (Inform 7 and
Inform 6, shipped in the wheel: offline) and cached under `$DISCOVERY_CACHE_DIR/textworld/`
(default `~/.cache/discovery/textworld/`), keyed by the world's settings, textworld's version
and this file: a compile takes about a second, a cached game loads in a fraction of that.
Locked containers are unlocked (closed) after generation, so that every object can be taken.

An observation (plain data, what the memory sees in the recorder):

    {"world": "w0", "room": "Cellar", "text": "<the game's answer>",
     "admissible": ["go north", "open box", ...], "steps_left": n}

Reward: the game's score over its maximum (1 once the object is in the inventory).
"""

import contextlib
import functools
import hashlib
import json
import os
import random
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from memory_recorder import Recorder

INSTALL = "pip install -e '.[textworld]'"

Doors = Literal["none", "open", "closed"]

_SOURCE = Path(__file__).read_bytes()
"""This file as imported: part of every cache key (an edit while a process runs must not
split its games between two folders)."""


def _textworld():
    try:
        import textworld
        import textworld.generator
    except ImportError as exc:
        raise ValueError(f"TextWorld memory tasks need the textworld package: {INSTALL}") \
            from exc
    return textworld


@dataclass(frozen=True)
class WorldSpec:
    """What makes a world; generation is deterministic in it."""

    seed: int
    rooms: int = 6
    holders: int = 5
    """Containers and supporters (tables, chests...) placed in the rooms."""
    objects: int = 6
    """Portable objects: the possible goals."""
    doors: Doors = "open"
    """Doors between rooms: none, open, or closed (an `open` command before passing)."""


@dataclass(frozen=True)
class TextWorld:
    name: str
    spec: WorldSpec
    rooms: tuple[str, ...]
    """Room names, in the order of the generator's room ids (a task's start is an index)."""
    objects: tuple[str, ...]
    """Names of the objects a task may ask for (each name unique in the world)."""


@dataclass(frozen=True)
class TextTask:
    world: TextWorld
    start: int
    target: str
    key: str

    @property
    def goal(self) -> str:
        return f"take the {self.target}"

    def compiled(self) -> Path:
        """The task's game file (what Episode plays; textworld_games' tasks have their own)."""
        return game_file(self)


def cache_root() -> Path:
    root = os.environ.get("DISCOVERY_CACHE_DIR") or (Path.home() / ".cache" / "discovery")
    return Path(root) / "textworld"


def _folder(spec: WorldSpec) -> Path:
    """The cache folder of a world: a new generator (textworld's version, this file) or new
    settings make a new folder, never a stale game."""
    textworld = _textworld()
    digest = hashlib.sha256(json.dumps([spec.seed, spec.rooms, spec.holders, spec.objects,
                                        spec.doors, textworld.__version__]).encode())
    digest.update(_SOURCE)
    return cache_root() / digest.hexdigest()[:24]


@functools.cache
def _knowledge_base():
    from textworld.challenges.tw_treasure_hunter.treasure_hunter import KB_PATH
    from textworld.generator.data import KnowledgeBase

    return KnowledgeBase.load(KB_PATH)


def _generate(spec: WorldSpec, start: int, target: str | None):
    """The world's Game with the player in room `start` and the quest "take `target`" (the
    first object when None: the game whose names describe the world)."""
    import numpy as np
    from textworld.generator import make_game_with, make_grammar, make_map
    from textworld.generator.game import Event, GameOptions, Quest
    from textworld.generator.vtypes import get_new
    from textworld.generator.world import World
    from textworld.logic import Proposition, Variable

    options = GameOptions()
    kb = options.kb = _knowledge_base()
    options.seeds = spec.seed
    rngs = options.rngs
    doors = {"none": None, "open": ["open"], "closed": ["closed"]}[spec.doors]
    world = World.from_map(make_map(n_rooms=spec.rooms, rng=rngs["map"],
                                    possible_door_states=doors))
    counts = kb.types.count(world.state)
    holders = [rngs["objects"].choice(["c", "s"]) for _ in range(spec.holders)]
    portable = [kb.types.sample(parent_type="o", rng=rngs["objects"], include_parent=True)
                for _ in range(spec.objects)]
    things = [Variable(get_new(kind, counts), kind) for kind in holders + portable]
    world.populate_with(things, rng=rngs["objects"])
    for fact in list(world.state.facts):  # every object can be taken: no keys to find
        if fact.name == "locked":
            world.state.remove_fact(fact)
            world.state.add_fact(Proposition("closed", fact.arguments))
    rooms = sorted(world.rooms, key=lambda room: room.id)
    world.set_player_room(rooms[start])
    objects = things[spec.holders:]
    grammar = make_grammar(options.grammar, rng=np.random.RandomState(spec.seed))
    # the quest is made after naming (the grammar names every entity in order), so the names
    # do not depend on the task
    game = make_game_with(world, [], grammar)
    names = [game.infos[thing.name].name for thing in objects]
    wanted = objects[names.index(target)] if target is not None else objects[0]
    game.quests = (Quest(win_events=[Event(conditions={
        Proposition("in", [wanted, world.inventory])})]),)
    game.objective = f"Find the {game.infos[wanted.name].name} and take it."
    room_names = tuple(game.infos[room.id].name for room in rooms)
    unique = tuple(name for name in names if names.count(name) == 1)
    return game, room_names, unique


def make_world(name: str, spec: WorldSpec) -> TextWorld:
    """The world's description, from its cache folder (generated there the first time)."""
    folder = _folder(spec)
    described = folder / "world.json"
    if not described.exists():
        _, rooms, objects = _generate(spec, 0, None)
        if len(objects) < 2:
            raise ValueError(f"TextWorld world {spec} has fewer than two objects with a unique "
                             "name: give it more objects")
        _write_atomic(described, json.dumps({"rooms": rooms, "objects": objects}).encode())
    data = json.loads(described.read_text())
    return TextWorld(name, spec, tuple(data["rooms"]), tuple(data["objects"]))


def make_tasks(worlds: list[TextWorld], per_world: int, seed: int) -> list[TextTask]:
    """`per_world` distinct (start room, object) pairs per world, drawn from `seed`."""
    tasks = []
    for world in worlds:
        rng = random.Random(f"{seed}-{world.name}")
        pairs = [(start, target) for start in range(len(world.rooms))
                 for target in world.objects]
        for start, target in rng.sample(pairs, min(per_world, len(pairs))):
            tasks.append(TextTask(world, start, target, f"{world.name}-{start}-{target}"))
    return tasks


def game_file(task: TextTask) -> Path:
    """The task's compiled game (compiled into the cache the first time)."""
    folder = _folder(task.world.spec)
    index = task.world.objects.index(task.target)
    path = folder / f"s{task.start}-o{index}.z8"
    if not path.exists():
        from textworld.generator import compile_game
        from textworld.generator.game import GameOptions

        game, _, _ = _generate(task.world.spec, task.start, task.target)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            options = GameOptions()
            options.path, options.force_recompile = str(Path(scratch) / path.name), True
            compiled = Path(compile_game(game, options))
            # the game's json first, its story file last: a present .z8 is a complete game,
            # whoever compiled it (two evaluations may race here; both write the same files)
            os.replace(compiled.with_suffix(".json"), path.with_suffix(".json"))
            os.replace(compiled, path)
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
        out.write(data)
    os.replace(out.name, path)


class Agent(Protocol):
    def act(self, obs: dict[str, Any]) -> str: ...


_ROOM = re.compile(r"-= (.+?) =-")


class Episode:
    """One task played once: the game from its cache, `budget` commands at most."""

    def __init__(self, task: TextTask, budget: int):
        self.task, self.budget = task, budget

    def opening(self) -> Recorder:
        """The recorder of the episode before any command (the game's first observation)."""
        return Recorder(_first_obs(self.task, self.budget), self.task.goal)

    def play(self, agent: Agent) -> Recorder:
        with _game(self.task) as (env, state):
            obs = _obs(self.task, state, state["description"], self.budget)
            recorder = Recorder(obs, self.task.goal)
            for step in range(1, self.budget + 1):
                command = agent.act(obs)
                state, score, done = env.step(command)
                obs = _obs(self.task, state, state["feedback"], self.budget - step)
                reward = score / state["max_score"]
                done = done or step == self.budget
                recorder.log(command, obs, reward, done)
                if done:
                    recorder.reward = reward
                    break
        return recorder


@contextlib.contextmanager
def _game(task: TextTask):
    """The task's game, started: (the environment, its first state)."""
    textworld = _textworld()
    infos = textworld.EnvInfos(admissible_commands=True, description=True, score=True,
                               max_score=True)
    with warnings.catch_warnings():  # jericho: "not fully supported" (textworld keeps score)
        warnings.simplefilter("ignore")
        env = textworld.start(str(task.compiled()), request_infos=infos)
    try:
        yield env, env.reset()
    finally:
        env.close()


def _obs(task: TextTask, state, text: str, steps_left: int) -> dict[str, Any]:
    rooms = _ROOM.findall(state["description"])
    return {"world": task.world.name, "room": rooms[-1] if rooms else "",
            "text": " ".join(text.split()), "admissible": sorted(state["admissible_commands"]),
            "steps_left": steps_left}


@functools.lru_cache(maxsize=4096)
def _first_obs(task: TextTask, budget: int) -> dict[str, Any]:
    """What a task's game shows before the first command: the opening every retrieval gets,
    read once per task (starting a game costs a few tenths of a second)."""
    with _game(task) as (_, state):
        return _obs(task, state, state["description"], budget)
