"""Baseline: remember where successful episodes ended (the goal item's cell), by world and goal."""
from memory_loop import run


# EVOLVE-BLOCK-START
class Memory:
    def __init__(self):
        self.ends = {}

    def general_update(self, recorder):
        if recorder["reward"] > 0:
            init = recorder["init"]
            self.ends[init["obs"]["world"], init["goal"]] = recorder["steps"][-1]["obs"]["position"]

    def general_retrieve(self, recorder):
        init = recorder["init"]
        end = self.ends.get((init["obs"]["world"], init["goal"]))
        return {"targets": [end]} if end else {}
# EVOLVE-BLOCK-END


def run_stream(stream):
    return run(Memory, stream)
