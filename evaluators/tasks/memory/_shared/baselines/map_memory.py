"""Baseline: a map of each world: every item and every wall seen; the goal item's cell as the
target, the walls to avoid (so the agent's paths go around them from the start)."""
from memory_loop import run


# EVOLVE-BLOCK-START
class Memory:
    def __init__(self):
        self.items = {}
        self.walls = {}

    def general_update(self, recorder):
        world = recorder["init"]["obs"]["world"]
        walls = self.walls.setdefault(world, set())
        for obs in [recorder["init"]["obs"]] + [step["obs"] for step in recorder["steps"]]:
            for name, cell in obs["items"].items():
                self.items[world, name] = cell
            x, y = obs["position"]
            r = len(obs["view"]) // 2
            for j, row in enumerate(obs["view"]):
                for i, mark in enumerate(row):
                    if mark == "#":
                        walls.add((x - r + i, y - r + j))

    def general_retrieve(self, recorder):
        init = recorder["init"]
        world = init["obs"]["world"]
        hints = {"avoid": [list(cell) for cell in sorted(self.walls.get(world, ()))]}
        cell = self.items.get((world, init["goal"].removeprefix("go to the ")))
        if cell:
            hints["targets"] = [cell]
        return hints
# EVOLVE-BLOCK-END


def run_stream(stream):
    return run(Memory, stream)
