"""Baseline: insight notes, a short list of lessons written by rule: where an item was found
("In w3, the key is at 4,7.") and where a search failed; the notes about this world and goal
are retrieved (as text, for an LLM agent) and the cells they name become targets. At most 40
notes: the oldest are forgotten."""
from memory_loop import run


# EVOLVE-BLOCK-START
class Memory:
    LIMIT = 40

    def __init__(self):
        self.notes = []

    def general_update(self, recorder):
        obs, goal = recorder["init"]["obs"], recorder["init"]["goal"]
        item = goal.removeprefix("go to the ")
        if recorder["reward"] > 0:
            x, y = recorder["steps"][-1]["obs"]["position"]
            note = f"In {obs['world']}, the {item} is at {x},{y}."
        else:
            x, y = obs["position"]
            note = f"In {obs['world']}, the {item} was not found within reach of {x},{y}."
        if note not in self.notes:
            self.notes = [*self.notes, note][-self.LIMIT:]

    def general_retrieve(self, recorder):
        obs, goal = recorder["init"]["obs"], recorder["init"]["goal"]
        item = goal.removeprefix("go to the ")
        notes = [n for n in self.notes if n.startswith(f"In {obs['world']}, the {item} ")]
        targets = [[int(v) for v in n.rstrip(".").split(" at ")[1].split(",")]
                   for n in notes if " is at " in n]
        return {"notes": notes, "targets": targets}
# EVOLVE-BLOCK-END


def run_stream(stream):
    return run(Memory, stream)
