"""A persistent grid world for memory tasks (trusted: it never reaches the sandbox).

A world is a walled square with interior wall segments and a few named items, generated from a
seed; it does not change between episodes, so what one episode sees (where the walls and the
items are) is true in the next one in the same world. That is what makes memory pay: a task is
a world, a start cell and an item to reach, the agent sees only the cells within `radius`
(Chebyshev) of its own, and it has a step budget too small to search a whole world every time.

Coordinates are `(x, y)` with y growing southwards; the world's name (`w0`, `w1`...) is all a
memory learns of which world it is in, never its seed.
"""

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from memory_recorder import Recorder

MOVES = {"north": (0, -1), "south": (0, 1), "east": (1, 0), "west": (-1, 0)}
ITEMS = ("apple", "key", "lamp", "book", "coin", "cup", "gem", "hat", "map", "rope", "shell",
         "torch", "bell", "comb", "drum", "flute")

Cell = tuple[int, int]


@dataclass(frozen=True)
class World:
    name: str
    size: int
    walls: frozenset[Cell]
    items: dict[str, Cell] = field(hash=False)
    doors: frozenset[Cell] = frozenset()
    """Open cells in a wall between rooms (BabyAI's layouts): no task starts in one."""
    level: tuple[str, int] | None = None
    """(level, seed) of the BabyAI level the world was read from, where it was: its episodes
    can then run in the real level (babyai_worlds.LevelEpisode)."""

    def free(self, cell: Cell) -> bool:
        x, y = cell
        return 0 <= x < self.size and 0 <= y < self.size and cell not in self.walls


@dataclass(frozen=True)
class GridTask:
    """One task of a stream: reach `target` in `world` from `start`. `key` seeds the agent's
    tie-breaks, so the same task played again explores the same way."""

    world: World
    start: Cell
    target: str
    key: str

    @property
    def goal(self) -> str:
        return f"go to the {self.target}"


def make_world(name: str, seed: int, size: int, n_items: int, wall_share: float) -> World:
    """Border walls, then random wall segments until `wall_share` of the interior is wall; cells
    cut off from the largest open region become wall too, so every item can be reached."""
    if not 2 <= n_items <= len(ITEMS):
        raise ValueError(f"n_items must be from 2 to {len(ITEMS)}, not {n_items}")
    rng = random.Random(seed)
    walls = {(x, y) for x in range(size) for y in range(size)
             if x in (0, size - 1) or y in (0, size - 1)}
    interior = (size - 2) ** 2
    while sum(1 for w in walls if 0 < w[0] < size - 1 and 0 < w[1] < size - 1) \
            < wall_share * interior:
        x, y = rng.randrange(1, size - 1), rng.randrange(1, size - 1)
        dx, dy = rng.choice([(1, 0), (0, 1)])
        for i in range(rng.randint(2, 5)):
            walls.add((min(x + i * dx, size - 2), min(y + i * dy, size - 2)))
    open_cells = {(x, y) for x in range(size) for y in range(size)} - walls
    region = max(_regions(open_cells), key=len)
    walls |= open_cells - region
    cells = sorted(region)
    names = rng.sample(ITEMS, n_items)
    return World(name, size, frozenset(walls), dict(zip(names, rng.sample(cells, n_items),
                                                        strict=True)))


def make_rooms_world(name: str, seed: int, size: int, n_items: int, rooms: int = 3) -> World:
    """Another domain on the same engine: `rooms` x `rooms` rooms (BabyAI's GoTo layout) whose
    walls are long straight lines with one door between each pair of neighbouring rooms, and
    the items anywhere inside. Its structure is what a memory of the scattered worlds never
    had to learn: a room's far side is reached only through the right door."""
    step = (size - 1) // rooms
    if step < 3 or not 2 <= n_items <= len(ITEMS):
        raise ValueError(f"a rooms world needs size >= {3 * rooms + 1} and n_items from 2 to "
                         f"{len(ITEMS)}, not size {size} and n_items {n_items}")
    rng = random.Random(seed)
    lines = [i * step for i in range(rooms)] + [size - 1]
    walls = {(x, y) for x in range(size) for y in range(size) if x in lines or y in lines}
    doors = set()
    for i in range(1, rooms):  # a door in each wall segment between two rooms
        for j in range(rooms):
            doors.add((lines[i], rng.randrange(lines[j] + 1, lines[j + 1])))  # east-west
            doors.add((rng.randrange(lines[j] + 1, lines[j + 1]), lines[i]))  # north-south
    walls -= doors
    cells = sorted({(x, y) for x in range(size) for y in range(size)} - walls - doors)
    names = rng.sample(ITEMS, n_items)
    return World(name, size, frozenset(walls), dict(zip(names, rng.sample(cells, n_items),
                                                        strict=True)), frozenset(doors))


def _regions(cells: set[Cell]) -> list[set[Cell]]:
    left, regions = set(cells), []
    while left:
        first = left.pop()
        region, queue = {first}, deque([first])
        while queue:
            x, y = queue.popleft()
            for dx, dy in MOVES.values():
                near = (x + dx, y + dy)
                if near in left:
                    left.remove(near)
                    region.add(near)
                    queue.append(near)
        regions.append(region)
    return regions


def make_tasks(worlds: list[World], per_world: int, seed: int) -> list[GridTask]:
    """`per_world` tasks in each world: a random open start that holds no item (and is no
    door), a random item of that world (so a stream often asks for the same item twice)."""
    rng = random.Random(seed)
    tasks = []
    for world in worlds:
        taken = set(world.items.values()) | world.doors
        starts = sorted(c for x in range(world.size) for y in range(world.size)
                        if world.free(c := (x, y)) and c not in taken)
        for i in range(per_world):
            tasks.append(GridTask(world, rng.choice(starts), rng.choice(sorted(world.items)),
                                  key=f"{seed}-{world.name}-{i}"))
    return tasks


class Agent(Protocol):
    def act(self, obs: dict) -> str: ...


class Episode:
    """One run of a task: moves, what the agent sees after each, and the reward (1 on reaching
    the target item, else 0 when the budget is spent)."""

    def __init__(self, task: GridTask, radius: int, budget: int):
        self.task, self.radius, self.budget = task, radius, budget
        self.position = task.start
        self.steps = 0
        self.reward = 0.0
        self.done = False

    def observe(self) -> dict:
        """Plain data: the world's name and size, the agent's cell, the rows of the square of
        cells within `radius` (`#` wall, `.` open, from the north-west corner of the square;
        cells past the world's edge are `#`), the items in sight with their cells, the steps
        left."""
        world, (px, py), r = self.task.world, self.position, self.radius
        view = ["".join("." if world.free((x, y)) else "#" for x in range(px - r, px + r + 1))
                for y in range(py - r, py + r + 1)]
        items = {name: list(cell) for name, cell in sorted(world.items.items())
                 if abs(cell[0] - px) <= r and abs(cell[1] - py) <= r}
        return {"world": world.name, "size": world.size, "position": [px, py], "view": view,
                "items": items, "steps_left": self.budget - self.steps}

    def step(self, action: str) -> None:
        """Move one cell (into a wall or with an unknown action: stay) and spend one step."""
        if self.done:
            raise ValueError("the episode is over")
        dx, dy = MOVES.get(action, (0, 0))
        target = (self.position[0] + dx, self.position[1] + dy)
        if self.task.world.free(target):
            self.position = target
        self.steps += 1
        if self.position == self.task.world.items[self.task.target]:
            self.reward, self.done = 1.0, True
        elif self.steps >= self.budget:
            self.done = True

    def opening(self) -> Recorder:
        """The recorder of this episode before its first step: what a retrieval is asked with."""
        return Recorder(self.observe(), self.task.goal)

    def play(self, agent: Agent) -> Recorder:
        """Let `agent` act until the episode is over; its recorder."""
        recorder = self.opening()
        obs = recorder.obs
        while not self.done:
            action = agent.act(obs)
            self.step(action)
            obs = self.observe()
            recorder.log(action, obs, self.reward, self.done)
        recorder.reward = self.reward
        return recorder
