"""Parent selection strategies over one island of the archive. Each draw costs the same at 100
or 100k programs: the ranked ones read a bounded slice of the ranking index, MAP-Elites keeps
its grid of cell elites in memory (rebuilt by one scan on resume)."""

import math
import random
from dataclasses import dataclass, field
from typing import Any

from archive import ArchiveReader, Program
from discovery.config import Selection
from evaluators.task import DescriptorConfig


def select_parent(reader: ArchiveReader, config: Selection, island: int,
                  rng: random.Random, grid: "EliteGrid | None" = None,
                  steps: "AlmaSteps | None" = None) -> Program | None:
    """The parent of the next child, or None when the island has no program to build on.
    `grid`: map_elites' cells; `steps`: alma's parents drawn a step at a time (without it,
    alma draws one parent at a time, with replacement)."""
    if config.strategy == "weighted":
        return reader.sample_parent(rng, island, lam=config.lam, pool=config.pool)
    if config.strategy == "map_elites" and grid is not None:
        elite = grid.choose(island, rng)
        return reader.program(elite) if elite is not None else None
    top = reader.top_k(config.pool, island)
    if not top:
        return None
    if config.strategy in ("greedy", "whole_archive"):
        return top[0]  # hill climbing; ADAS builds on its best, with the archive in context
    if config.strategy == "alma":
        if steps is not None:
            return steps.next(reader, config, island, rng, top)
        return rng.choices(top, weights=alma_weights(reader, config, top), k=1)[0]
    weights = [(rank + 1) ** -config.power for rank in range(len(top))]  # power_law
    return rng.choices(top, weights=weights, k=1)[0]


def adas_archive(reader: ArchiveReader) -> list[Program]:
    """ADAS's archive (`strategy = "adas"`): every program that evaluated (ok) under the current
    evaluator, of every island, oldest first, each code once (the seeds of other islands and
    migrants are copies). ADAS keeps the zero-scoring ones too: they tell the model what failed.
    One scan, as a whole-archive prompt needs them all anyway."""
    seen: set[str] = set()
    archive = []
    for program in reader.programs([row[0] for row in reader.scored()]):
        if program.code_hash not in seen:
            seen.add(program.code_hash)
            archive.append(program)
    return archive


def alma_weights(reader: ArchiveReader, config: Selection, top: list[Program]) -> list[float]:
    """ALMA's parent selection (zksha/alma core/memo_manager.py, update_reward and
    select_structure): w = sigmoid(s - r0) - penalty * log1p(visits), drawn by
    softmax(w / temperature), ALMA's penalty 0.5 and temperature 0.5; r0 is the seed's score
    (for memory tasks: no memory, ALMA's no_memo_reward), visits the program's children so far
    (ALMA counts each time it was selected, which makes one child). Better than the seed
    counts, and a parent tried often yields to untried ones."""
    seed = reader.program(1) if reader.count() else None
    r0 = seed.score if seed is not None and seed.score is not None else 0.0
    raw = [1 / (1 + math.exp(-(p.score - r0)))
           - config.alma_visit_penalty * math.log1p(len(reader.children(p.id))) for p in top]
    peak = max(raw)
    return [math.exp((w - peak) / config.alma_temperature) for w in raw]


@dataclass
class AlmaSteps:
    """ALMA's steps (zksha/alma core/meta_agent.py forward, memo_manager.select_structure): a
    step draws `alma_parents` distinct parents at once (numpy's choice without replacement:
    one at a time, the rest renormalised), and each of them gets one child; when the step's
    parents are used up, the next step draws again from the archive as it is then. ALMA
    waits for a step's children before the next draw; here the draw happens when the next
    plan needs a parent, so with parallel proposals a step may be drawn before the last
    step's children are scored."""

    waiting: dict[int, list[int]] = field(default_factory=dict)
    """island -> the ids of this step's parents not yet given a child, in draw order."""

    def next(self, reader: ArchiveReader, config: Selection, island: int, rng: random.Random,
             top: list[Program]) -> Program:
        queue = self.waiting.get(island)
        if not queue:
            queue = self.waiting[island] = alma_draw(
                [p.id for p in top], alma_weights(reader, config, top), config.alma_parents, rng)
        return reader.program(queue.pop(0))


def alma_draw(ids: list[int], weights: list[float], k: int, rng: random.Random) -> list[int]:
    """min(k, len(ids)) distinct ids drawn by weight without replacement, as numpy's
    `choice(replace=False, p=...)` draws them: each draw among those left, by their weights."""
    left, drawn = list(zip(ids, weights, strict=True)), []
    for _ in range(min(k, len(left))):
        index = rng.choices(range(len(left)), weights=[w for _, w in left], k=1)[0]
        drawn.append(left.pop(index)[0])
    return drawn


@dataclass
class EliteGrid:
    """MAP-Elites (Mouret & Clune 2015): the behaviour space is cut into cells by the task's
    descriptors; each cell keeps its best program (its elite), and a parent is an elite drawn
    uniformly over the occupied cells, so a niche with a modest score is explored as often as
    the best one."""

    descriptors: list[DescriptorConfig]
    elites: dict[int, dict[tuple[int, ...], tuple[float, int]]] = field(default_factory=dict)
    """island -> cell -> (score, program id)."""

    @classmethod
    def rebuild(cls, reader: ArchiveReader, descriptors: list[DescriptorConfig]) -> "EliteGrid":
        grid = cls(descriptors)
        for program_id, island, score, length, metrics in reader.scored():
            grid.place(program_id, island, score, length, metrics)
        return grid

    def cell(self, code_length: int, metrics: dict[str, Any]) -> tuple[int, ...] | None:
        """The program's cell, or None when a descriptor metric is missing or not a number."""
        cell = []
        for d in self.descriptors:
            value = code_length if d.name == "code_length" else metrics.get(d.name)
            if not isinstance(value, int | float) or value != value:
                return None
            position = int((value - d.low) / (d.high - d.low) * d.bins)
            cell.append(min(max(position, 0), d.bins - 1))
        return tuple(cell)

    def place(self, program_id: int, island: int, score: float, code_length: int,
              metrics: dict[str, Any]) -> bool:
        """Make the program its cell's elite if it beats the one there; True if it did."""
        cell = self.cell(code_length, metrics)
        if cell is None:
            return False
        cells = self.elites.setdefault(island, {})
        if cell in cells and cells[cell][0] >= score:
            return False
        cells[cell] = (score, program_id)
        return True

    def choose(self, island: int, rng: random.Random) -> int | None:
        cells = self.elites.get(island)
        if not cells:
            return None
        return cells[rng.choice(sorted(cells))][1]
