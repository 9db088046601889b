"""Parent selection strategies over one island of the archive (each reads a bounded slice of the
ranking index, so a draw costs the same at 100 or 100k programs)."""

import random

from archive import ArchiveReader, Program
from discovery.config import Selection


def select_parent(reader: ArchiveReader, config: Selection, island: int,
                  rng: random.Random) -> Program | None:
    if config.strategy == "weighted":
        return reader.sample_parent(rng, island, lam=config.lam, pool=config.pool)
    top = reader.top_k(config.pool, island)
    if not top:
        return None
    if config.strategy in ("greedy", "whole_archive"):
        return top[0]  # hill climbing; ADAS builds on its best, with the archive in context
    weights = [(rank + 1) ** -config.power for rank in range(len(top))]  # power_law
    return rng.choices(top, weights=weights, k=1)[0]
