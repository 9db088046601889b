"""Baseline: a map per maze, from every episode, won or lost: the floor its observations showed
(`floor`), the cells the player stood on (`stood`: the agent then knows the rest around them is
rock, so it neither walks into explored dead ends again nor re-explores them, and goes on from
where earlier episodes stopped) and the staircase once any episode saw it (`stairs`: the agent
walks the shortest known way there, or explores towards it)."""
from memory_loop import run


# EVOLVE-BLOCK-START
class Memory:
    def __init__(self):
        self.floor, self.stood, self.stairs = {}, {}, {}
        """maze -> floor cells seen; maze -> cells stood on; maze -> the staircase's cell"""

    def general_update(self, recorder):
        maze = recorder["init"]["obs"]["world"]
        floor = self.floor.setdefault(maze, set())
        stood = self.stood.setdefault(maze, set())
        for obs in [recorder["init"]["obs"]] + [step["obs"] for step in recorder["steps"]]:
            x, y = obs["position"]
            stood.add((x, y))
            half = len(obs["view"]) // 2
            for dy, row in enumerate(obs["view"]):
                for dx, char in enumerate(row):
                    if char in ".>":
                        floor.add((x + dx - half, y + dy - half))
            if obs["stairs"]:
                self.stairs[maze] = obs["stairs"]

    def general_retrieve(self, recorder):
        maze = recorder["init"]["obs"]["world"]
        stood = self.stood.get(maze, set())
        hints = {"stood": [list(c) for c in sorted(stood)],
                 "floor": [list(c) for c in sorted(self.floor.get(maze, set()) - stood)]}
        if maze in self.stairs:
            hints["stairs"] = self.stairs[maze]
        return hints
# EVOLVE-BLOCK-END


def run_stream(stream):
    return run(Memory, stream)
