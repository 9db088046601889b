"""The agents that use a memory's hints in MiniHack mazes (trusted): the scripted maze agent
(the offline, model-free setting) and the LLM agent.

A memory is scored by how much its retrieved dict helps the agent, so the scripted agent reads
a documented schema and does the obvious thing with it; other keys are ignored (left for the
LLM agent, which reads the whole dict). The hint schema (all keys optional):

    plan    ["north", "east", ...]  moves to make first, in order, every one of them (the
                                    levels are deterministic: an earlier episode's moves
                                    replayed from the same start go the same way)
    stairs  [x, y]                  where the staircase down is
    floor   [[x, y], ...]           cells known to be floor (an earlier episode saw them)
    stood   [[x, y], ...]           cells an earlier episode stood on: floor whose neighbours
                                    it saw (a neighbour not known as floor is rock)

After the plan, each step it walks the shortest path (8 moves, through floor it knows: seen
on the map now, or in `floor` or `stood`) to the staircase, if it has seen it or was told
`stairs` and knows a way; else it explores: it walks to the frontier cell (known floor next to
a cell nobody has seen: not floor, and next to no cell stood on) that is nearest by path, plus,
when it was told `stairs`, the frontier's straight-line
(Chebyshev) distance to them; ties are broken by a random generator seeded with the task, so
the same task is explored the same way. A move that did not move the player (rock the map
does not show) is never tried from that cell again. A malformed hint (a move that is not one
of MOVES, a cell that is not two integers on the map, more than grid_agent.MAX_HINTS = 4096
entries in a list) is the memory's fault: InvalidOutput naming the key.

The work hints can make this trusted agent do is bounded by their checked size: one
breadth-first search over the map's 79 x 21 cells a step, whatever the hints.
"""

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from grid_agent import entries
from grid_llm_agent import MOVES_PER_CALL, LLMAgent, move_pattern
from minihack_worlds import MOVES, STEP, Cell, Screen, map_text

from evaluators.scoring import InvalidOutput

WIDTH, HEIGHT = 79, 21
"""NetHack's map."""
FLOOR = set(".>#<{_")
"""Map characters the player can stand on in these levels."""


@dataclass
class Hints:
    plan: list[str]
    stairs: Cell | None
    floor: set[Cell]
    stood: set[Cell]


def read_hints(retrieved: dict) -> Hints:
    """The schema's keys of a retrieved dict, checked."""
    plan = entries(retrieved, "plan")
    for i, move in enumerate(plan):
        if move not in MOVES:
            raise InvalidOutput(f"retrieved plan[{i}] is {move!r:.80}, not one of "
                                f"{', '.join(MOVES)}")
    stairs = retrieved.get("stairs")
    floor, stood = ({_cell(cell, f"{key}[{i}]") for i, cell in enumerate(entries(retrieved,
                                                                                    key))}
                    for key in ("floor", "stood"))
    return Hints(list(plan), None if stairs is None else _cell(stairs, "stairs"), floor, stood)


def _cell(value: Any, key: str) -> Cell:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and 0 <= value[0] < WIDTH and 0 <= value[1] < HEIGHT):
        raise InvalidOutput(f"retrieved {key} is {value!r:.80}, not a map cell [x, y] (0 <= x "
                            f"< {WIDTH}, 0 <= y < {HEIGHT})")
    return value[0], value[1]


class ScriptedMazeAgent:
    """One episode's offline, model-free agent: the floor it knows, where it stood, the moves
    that bumped into rock."""

    def __init__(self, hints: Hints, seed: str):
        self.plan = list(reversed(hints.plan))
        self.stairs_hint, self.told, self.explored = hints.stairs, hints.floor | hints.stood, \
            hints.stood
        self.rng = random.Random(seed)
        self.order = self.rng.sample(MOVES, len(MOVES))
        self.stood: set[Cell] = set()
        self.bumped: set[tuple[Cell, str]] = set()
        self.last: tuple[Cell, str] | None = None

    def act(self, obs: dict[str, Any], screen: Screen) -> str:
        here = screen.position
        if self.last is not None and self.last[0] == here:
            self.bumped.add(self.last)
        self.stood.add(here)
        move = self.plan.pop() if self.plan else self._choose(screen)
        self.last = (here, move)
        return move

    def _choose(self, screen: Screen) -> str:
        floor = {(x, y) for y, row in enumerate(screen.rows) for x, c in enumerate(row)
                 if c in FLOOR} | self.told | self.stood
        explored = self.stood | self.explored
        stairs = screen.stairs() or self.stairs_hint
        if stairs is not None:
            floor.add(stairs)
        first, dist = self._search(screen.position, floor)
        if stairs in first:
            return first[stairs]

        def unseen(cell: Cell) -> bool:
            x, y = cell
            return cell not in floor and not any((x + dx, y + dy) in explored
                                                 for dx in (-1, 0, 1) for dy in (-1, 0, 1))

        frontier = [cell for cell in first if cell not in explored and any(
            unseen((cell[0] + dx, cell[1] + dy)) for dx, dy in STEP.values())]
        if not frontier:
            return self.rng.choice(MOVES)
        rank = {cell: i for i, cell in enumerate(first)}

        def cost(cell: Cell) -> tuple[int, int]:
            ahead = 0 if stairs is None else max(abs(cell[0] - stairs[0]),
                                                 abs(cell[1] - stairs[1]))
            return dist[cell] + ahead, rank[cell]

        return first[min(frontier, key=cost)]

    def _search(self, start: Cell, floor: set[Cell]) -> tuple[dict[Cell, str], dict[Cell, int]]:
        """Breadth-first over known floor from `start`: each reached cell's first move and
        distance (ties in the episode's seeded move order)."""
        first: dict[Cell, str] = {}
        dist = {start: 0}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            for move in self.order:
                if (cell, move) in self.bumped:
                    continue
                dx, dy = STEP[move]
                nxt = (cell[0] + dx, cell[1] + dy)
                if nxt in floor and nxt not in dist:
                    dist[nxt] = dist[cell] + 1
                    first[nxt] = first.get(cell, move)
                    queue.append(nxt)
        return first, dist


SYSTEM = f"""You play NetHack in a MiniHack maze: find the staircase down (>) and step onto it \
within the moves left. The map shows what you have seen: . floor, > the staircase, @ you; a \
blank is rock or not yet seen (in a dark maze you see only the cells next to you). A move is \
one of {", ".join(MOVES)}; walking into rock wastes the move. Coordinates are [x, y]: x grows \
eastwards, y southwards. A stream of episodes replays a few mazes from the same start, so the \
memory (notes from earlier episodes) may tell you the way or where the staircase is.

Reply in the following JSON format.
{{
    "thinking": "your reasoning, briefly",
    "answer": "the next 1 to {MOVES_PER_CALL} moves, separated by spaces"
}}"""


class MazeLLMAgent(LLMAgent):
    """grid_llm_agent.LLMAgent in a maze: its replies may name the maze's eight moves, and the
    scripted maze agent gives each call's reference and the fallback move. Each call shows the
    goal, the remembered map (cut to what was seen, with its top-left cell's coordinates), the
    player's cell, the game's message, the recent moves and the retrieved memory. `goal_item`
    is not used: the goal is always the staircase down."""

    MOVE_PATTERN = move_pattern(MOVES)
    SYSTEM = SYSTEM

    def scripted_agent(self, goal_item: str, hints: Hints, seed: str) -> ScriptedMazeAgent:
        return ScriptedMazeAgent(hints, seed)

    def _situation(self, obs: dict[str, Any], screen: Screen) -> str:
        rows, (left, top) = map_text(screen)
        x, y = obs["position"]
        picture = "\n".join(rows)
        return (f"Maze {obs['world']} ({obs['level']}); you are at [{x}, {y}] with "
                f"{obs['steps_left']} moves left.\nThe game says: {obs['message'] or 'nothing'}"
                f"\nThe map (its top-left character is [{left}, {top}]):\n{picture}")
