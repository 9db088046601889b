"""ALMA's TextWorld games as memory tasks (trusted; needs `textworld`): BALROG's
`treasure_hunter` and `the_cooking_game`, which ALMA's TextWorld domain plays, generated here by
TextWorld's own challenges (`tw-treasure_hunter`, `tw-cooking`) from seeds and compiled offline
(Inform 7 and 6 ship in the wheel), instead of BALROG's pregenerated games, which are a download.

A world is one game: its own map, objects and quest, compiled once into the cache of
textworld_worlds (keyed by its settings, textworld's version and this file: 5 to 15 s a game
the first time). A task plays a game from its start; `tasks_per_world` tasks replay the same
game, so a stream meets each game a few times: what a memory keeps of one game (the commands
that scored, the command that lost it) is true the next time, and what it keeps across games
(how a recipe is followed, that keys unlock doors) is ALMA's kind of transferable insight.

The goal is the game's objective text (the treasure hunter's names the way; the cooking game's
says: read the cookbook). The reward is the game's score over its maximum, ALMA's progression
(the cooking game scores each step of its recipe). Observations are textworld_worlds': room,
text, admissible commands, steps left.
"""

import hashlib
import json
import tempfile
from dataclasses import dataclass
from os import replace
from pathlib import Path
from typing import Literal

from textworld_worlds import _textworld, _write_atomic, cache_root

Challenge = Literal["treasure_hunter", "cooking"]

TRIES: dict[str, tuple[str, ...]] = {
    "treasure_hunter": ("unlock",),
    "cooking": ("take", "slice", "chop", "dice", "cook", "prepare", "eat"),
}
"""What the scripted agent tries in each room of a challenge's games (textworld_agent): the
hunter's keys are in its inventory (hard levels), so `unlock` is always safe; the cook tries
every recipe verb once per room, which wins some games and loses others (an ingredient cooked
the wrong way ends the game): the memory's to learn which."""

ATTEMPTS = 10
"""Seeds tried for a game (the spec's, then others drawn from it in order) when TextWorld's
generator finds no quest of the level's length on a map."""

_SOURCE = Path(__file__).read_bytes()


@dataclass(frozen=True)
class GameSpec:
    challenge: Challenge
    seed: int
    level: int = 20
    """treasure_hunter: 1 to 30 (11-20: 10 rooms, closed doors and containers; 21-30: 20
    rooms, locked ones, keys in the inventory)."""
    recipe: int = 2
    """cooking: ingredients in the recipe (and to find: `take`)."""
    go: int = 6
    """cooking: rooms (1, 6, 9 or 12)."""

    def settings(self) -> dict:
        if self.challenge == "treasure_hunter":
            return {"level": self.level}
        return {"recipe": self.recipe, "take": self.recipe, "go": self.go, "open": True,
                "cook": True, "cut": True, "drop": False, "recipe_seed": self.seed,
                "split": None}


@dataclass(frozen=True)
class GameWorld:
    name: str
    spec: GameSpec
    objective: str
    target: str
    """The object the treasure hunter's quest takes ("" for the cooking game)."""
    walkthrough: int
    """Commands of the game's own walkthrough: a lower bound on what a task needs."""


@dataclass(frozen=True)
class GameTask:
    world: GameWorld
    replay: int
    key: str

    @property
    def goal(self) -> str:
        return self.world.objective

    @property
    def target(self) -> str:
        return self.world.target

    def compiled(self) -> Path:
        return game_file(self.world.spec)


def _path(spec: GameSpec) -> Path:
    digest = hashlib.sha256(json.dumps([spec.challenge, spec.seed, spec.settings(),
                                        _textworld().__version__]).encode())
    digest.update(_SOURCE)
    return cache_root() / "games" / f"{spec.challenge}-{digest.hexdigest()[:20]}.z8"


def game_file(spec: GameSpec) -> Path:
    """The game's story file, generated and compiled into the cache the first time (its json
    first, the story file last: a present .z8 is a complete game)."""
    path = _path(spec)
    if not path.exists():
        textworld = _textworld()
        from textworld.challenges import CHALLENGES
        from textworld.generator import compile_game
        from textworld.generator.chaining import QuestGenerationError

        make = CHALLENGES[f"tw-{spec.challenge}"][1]
        options = textworld.GameOptions()
        for attempt in range(ATTEMPTS):  # some maps admit no quest of the level's length
            options.seeds = spec.seed + attempt * 1_000_003
            try:
                game = make(spec.settings(), options)
                break
            except QuestGenerationError:
                continue
        else:
            raise ValueError(f"TextWorld made no {spec.challenge} game of {spec} in "
                             f"{ATTEMPTS} seeds: choose another level or seed")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            options.path, options.force_recompile = str(Path(scratch) / path.name), True
            compiled = Path(compile_game(game, options))
            replace(compiled.with_suffix(".json"), path.with_suffix(".json"))
            replace(compiled, path)
    return path


def make_world(name: str, spec: GameSpec) -> GameWorld:
    """The game's objective, quest object and walkthrough length, read once from its json."""
    path = game_file(spec)
    described = path.with_suffix(".world.json")
    if not described.exists():
        from textworld.generator.game import Game

        game = Game.load(str(path.with_suffix(".json")))
        last = game.walkthrough[-1] if spec.challenge == "treasure_hunter" else ""
        target = last.removeprefix("take ").split(" from ")[0] if last.startswith("take ") \
            else ""
        _write_atomic(described, json.dumps({
            "objective": " ".join(game.objective.split()), "target": target,
            "walkthrough": len(game.walkthrough)}).encode())
    data = json.loads(described.read_text())
    return GameWorld(name, spec, data["objective"], data["target"], data["walkthrough"])


def make_tasks(worlds: list[GameWorld], per_world: int) -> list[GameTask]:
    """Each game `per_world` times (the stream's shuffle spreads the replays)."""
    return [GameTask(world, replay, f"{world.name}-{replay}") for world in worlds
            for replay in range(per_world)]
