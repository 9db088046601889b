"""The fixed agent that uses a memory's hints in the grid world (trusted).

A memory is scored by how much its retrieved dict helps this agent, so the agent must read a
documented schema and do the obvious thing with it; everything else in the dict is ignored
(left for the LLM agent, which reads the whole dict). The hint schema (all keys optional):

    targets    [[x, y], ...]  cells where the goal item may be: visited nearest first, each
                              dropped once the agent has seen that cell without the item
    waypoints  [[x, y], ...]  cells to pass through, in order, before exploring
    avoid      [[x, y], ...]  cells never to step on (the goal item's cell excepted)
    plan       ["north", ...] moves to make first, in order, until one would walk into a
                              wall the agent has seen

Each step it takes the first of: the goal item in sight (or seen this episode) -> walk to it;
the plan; the nearest target; the next waypoint; the nearest unexplored cell (ties broken by a
random generator seeded with the task, so the same task is explored the same way). Paths are
shortest paths through the cells not known to be walls (unknown cells count as open).
A cell outside the world is never reached (a target or waypoint there is dropped); a malformed
hint (a position that is not two integers, an unknown move) is the memory's fault:
InvalidOutput naming the key.

The agent is trusted code that the candidate's hints steer, so its work is counted against
the episode, never left to the hints: a search for a path visits at most the world's cells,
and an episode may search at most SEARCHES_PER_STEP times per step of its budget (its first
observation's `steps_left`); past that the memory is at fault (InvalidOutput). Hints in
reach cost at most two searches a step (a target out of reach, then exploring; the baselines'
never cost more than one per step of the budget, on every case of the grid and BabyAI tasks);
each waypoint out of reach costs a search, and 4096 of them cost 1 s of trusted CPU an
episode (issue 23), where the candidate had spent 0.08 s in all.
"""

import random
from collections import deque
from dataclasses import dataclass

from gridworld import MOVES, Cell

from evaluators.scoring import InvalidOutput

MAX_HINTS = 4096
"""Entries in one hint list: more than a world has cells is a memory gone wrong."""
SEARCHES_PER_STEP = 3
"""Path searches an episode may make per step of its budget: one for the goal, a target or
the next waypoint, one to explore, and one spare for waypoints reached or out of reach."""


@dataclass
class Hints:
    targets: list[Cell]
    waypoints: list[Cell]
    avoid: set[Cell]
    plan: list[str]


def read_hints(retrieved: dict) -> Hints:
    """The schema's keys of a retrieved dict, checked."""
    cells = {key: [_cell(value, key, i) for i, value in enumerate(
        entries(retrieved, key))] for key in ("targets", "waypoints", "avoid")}
    plan = entries(retrieved, "plan")
    for i, move in enumerate(plan):
        if move not in MOVES:
            raise InvalidOutput(f"retrieved plan[{i}] is {move!r}, not one of "
                                f"{', '.join(MOVES)}")
    return Hints(cells["targets"], cells["waypoints"], set(cells["avoid"]), list(plan))


def entries(retrieved: dict, key: str) -> list:
    """The list under `key` (empty if absent), checked to be a list of at most MAX_HINTS
    entries: the hint lists of every grid-like task (MiniHack's too) are read through it."""
    value = retrieved.get(key, [])
    if not isinstance(value, list):
        raise InvalidOutput(f"retrieved {key} is {type(value).__name__}, not a list")
    if len(value) > MAX_HINTS:
        raise InvalidOutput(f"retrieved {key} has {len(value)} entries (at most {MAX_HINTS})")
    return value


def _cell(value, key: str, i: int) -> Cell:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise InvalidOutput(f"retrieved {key}[{i}] is {value!r}, not [x, y] (two integers)")
    return value[0], value[1]


class ScriptedAgent:
    """One episode's agent: what it has seen so far, and the hints it still follows."""

    def __init__(self, goal_item: str, hints: Hints, seed: str):
        self.goal_item, self.hints = goal_item, hints
        self.plan = deque(hints.plan)
        self.targets = list(hints.targets)
        self.waypoints = deque(hints.waypoints)
        self.rng = random.Random(seed)
        self.open: set[Cell] = set()
        self.walls: set[Cell] = set()
        self.goal: Cell | None = None
        self.size = 0
        self.searches = 0
        self.allowance: int | None = None
        """Searches this episode may make: SEARCHES_PER_STEP per step of its budget."""

    def act(self, obs: dict) -> str:
        if self.allowance is None:
            self.allowance = SEARCHES_PER_STEP * obs["steps_left"]
        here = self._see(obs)
        if self.goal is not None:
            return self._toward({self.goal}, here) or self.rng.choice(list(MOVES))
        while self.plan:
            move = self.plan.popleft()
            dx, dy = MOVES[move]
            if (here[0] + dx, here[1] + dy) not in self.walls:
                return move
            self.plan.clear()
        self.targets = [t for t in self.targets if t not in self.open and t not in self.walls]
        if self.targets:
            move = self._toward(set(self.targets), here)
            if move is not None:
                return move
            self.targets.clear()  # none can be reached
        while self.waypoints:
            move = self._toward({self.waypoints[0]}, here) if self.waypoints[0] != here else None
            if move is not None:
                return move
            self.waypoints.popleft()  # reached, or out of reach
        return self._toward(set(self._unknown_neighbours()), here) \
            or self.rng.choice(list(MOVES))

    def _see(self, obs: dict) -> Cell:
        """Add the view to what the agent knows; its cell."""
        px, py = obs["position"]
        self.size = obs["size"]
        r = len(obs["view"]) // 2
        for j, row in enumerate(obs["view"]):
            for i, mark in enumerate(row):
                cell = (px - r + i, py - r + j)
                (self.walls if mark == "#" else self.open).add(cell)
        if self.goal_item in obs["items"]:
            self.goal = tuple(obs["items"][self.goal_item])
        return px, py

    def _unknown_neighbours(self) -> list[Cell]:
        """Cells not seen yet next to seen open ones: where exploring learns something."""
        return sorted({(x + dx, y + dy) for x, y in self.open for dx, dy in MOVES.values()}
                      - self.open - self.walls)

    def _passable(self, cell: Cell, goals: set[Cell]) -> bool:
        x, y = cell
        return (cell in goals or cell not in self.hints.avoid) and cell not in self.walls \
            and 0 <= x < self.size and 0 <= y < self.size

    def _toward(self, goals: set[Cell], here: Cell) -> str | None:
        """The first move of a shortest path to the nearest of `goals` (ties: at random), or
        None if none can be reached. Counted against the episode's allowance: past it, the
        hints that asked for the searches are the memory's fault."""
        self.searches += 1
        if not self.searches <= self.allowance:
            raise InvalidOutput(f"the retrieved hints made the agent search for a path "
                                f"{self.searches} times in one episode (at most "
                                f"{self.allowance}: {SEARCHES_PER_STEP} per step of its "
                                "budget): waypoints or targets out of reach each cost a search "
                                "of the whole world")
        first: dict[Cell, str | None] = {here: None}
        layer, found = [here], []
        while layer and not found:
            following = []
            for x, y in layer:
                for move, (dx, dy) in MOVES.items():
                    cell = (x + dx, y + dy)
                    if cell in first or not self._passable(cell, goals):
                        continue
                    first[cell] = first[(x, y)] or move
                    following.append(cell)
                    if cell in goals:
                        found.append(cell)
            layer = following
        return first[self.rng.choice(found)] if found else None
