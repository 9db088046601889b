"""The fixed agent that uses a memory's hints in TextWorld games (trusted).

As in the grid worlds (grid_agent.py), a memory is scored by how much its retrieved dict helps
this agent, so the agent reads a documented schema and does the obvious thing with it; other
keys are ignored. The hint schema (both keys optional):

    plan   ["go east", "open chest", "take carrot from chest", ...]  commands to issue first,
           in order, each while it is admissible (the game lists it); the first that is not
           ends the plan
    avoid  ["go west", ...]  commands never to issue (the plan's included)

Each step it issues the first of: a command that takes the goal object ("take <object>" or
"take <object> from <holder>"), as soon as one is admissible; the plan; exploration, a
depth-first walk over the rooms: in each room open what is closed (holders and doors), then
take the exits not tried from it (in an order drawn from a random generator seeded with the
task, so the same task is explored the same way), going back the way it came when a room has
nothing left (and at once when an exit led to a room already seen). An agent made with `tries`
(verbs) first issues, in each room, each admissible command of those verbs once, in order. A
malformed hint (not a list of strings, too long) is the memory's fault: InvalidOutput naming
the key.

The work hints can make this trusted agent do is bounded by their checked size: each plan
command is issued or dropped once (at most MAX_HINTS an episode), and `avoid` is a set looked
up once per admissible command; no hint makes it search (unlike the grid agent, whose searches
are counted).
"""

import random
from dataclasses import dataclass
from typing import Any

from evaluators.scoring import InvalidOutput

MAX_HINTS = 256
"""Commands in one hint list: far more than any game here needs."""
MAX_COMMAND = 200

REVERSE = {"north": "south", "south": "north", "east": "west", "west": "east"}


@dataclass
class Hints:
    plan: list[str]
    avoid: set[str]


def read_hints(retrieved: dict) -> Hints:
    """The schema's keys of a retrieved dict, checked."""
    return Hints(_commands(retrieved, "plan"), set(_commands(retrieved, "avoid")))


def _commands(retrieved: dict, key: str) -> list[str]:
    value = retrieved.get(key, [])
    if not isinstance(value, list):
        raise InvalidOutput(f"retrieved {key} is {type(value).__name__}, not a list")
    if len(value) > MAX_HINTS:
        raise InvalidOutput(f"retrieved {key} has {len(value)} entries (at most {MAX_HINTS})")
    for i, command in enumerate(value):
        if not (isinstance(command, str) and len(command) <= MAX_COMMAND):
            raise InvalidOutput(f"retrieved {key}[{i}] is {command!r:.80}, not a command (a "
                                f"string of at most {MAX_COMMAND} characters)")
    return [" ".join(command.lower().split()) for command in value]


class TextAgent:
    """One episode's agent: the rooms it has seen, what it tried in each, the way back."""

    def __init__(self, target: str, hints: Hints, seed: str, tries: tuple[str, ...] = ()):
        """`tries`: verbs whose admissible commands it issues once in each room, before
        opening and leaving it (ALMA's challenge games: `unlock`, the cooking verbs)."""
        self.target, self.avoid, self.tries = target, hints.avoid, tries
        self.plan = list(reversed(hints.plan))
        self.rng = random.Random(seed)
        self.tried: dict[str, set[str]] = {}
        self.back: list[str] = []
        """Commands that retrace the walk, last first."""
        self.last: tuple[str, str] | None = None
        """(room, exit) of the last `go`, to see where it led."""

    def act(self, obs: dict[str, Any]) -> str:
        room = obs["room"]
        allowed = [c for c in obs["admissible"] if c not in self.avoid]
        returning = self._arrived(room)
        take = [c for c in allowed if c == f"take {self.target}"
                or c.startswith(f"take {self.target} from ")]
        if take:
            return take[0]
        while self.plan:
            command = self.plan.pop()
            if command in allowed:
                return self._issue(room, command)
            self.plan.clear()
        if returning is not None and returning in allowed:
            return self._issue(room, returning, back=True)
        tried = self.tried.setdefault(room, set())
        for verb in self.tries:
            chosen = sorted(c for c in allowed if c.startswith(f"{verb} ") and c not in tried)
            if chosen:
                return self._issue(room, chosen[0])
        opens = sorted(c for c in allowed if c.startswith("open ") and c not in tried)
        if opens:
            return self._issue(room, opens[0])
        exits = sorted(c for c in allowed if c.startswith("go ") and c not in tried)
        if exits:
            return self._issue(room, self.rng.choice(exits))
        while self.back:
            command = self.back.pop()
            if command in allowed:
                return self._issue(room, command, back=True)
        moves = sorted(c for c in allowed if c.startswith("go "))
        return self._issue(room, self.rng.choice(moves)) if moves else "look"

    def _arrived(self, room: str) -> str | None:
        """Note where the last `go` led; the command that returns at once, if it led to a room
        seen before (so the way back stays a path)."""
        last, self.last = self.last, None
        if last is None or last[0] == room:
            return None
        direction = REVERSE.get(last[1].removeprefix("go "))
        if room in self.tried:
            return f"go {direction}" if direction else None
        if direction:
            self.back.append(f"go {direction}")
        return None

    def _issue(self, room: str, command: str, back: bool = False) -> str:
        self.tried.setdefault(room, set()).add(command)
        if command.startswith("go ") and not back:
            self.last = (room, command)
        return command
