"""Baseline: trajectory retrieval (ALMA's): the nearest past episode in the same world (the same
goal first, then the nearest start); if it reached that goal, its end is the target and, from
the same start, its moves are the plan. The trajectory itself goes along for an LLM agent."""
from memory_loop import run


# EVOLVE-BLOCK-START
class Memory:
    def __init__(self):
        self.episodes = []

    def general_update(self, recorder):
        init, steps = recorder["init"], recorder["steps"]
        self.episodes.append({
            "world": init["obs"]["world"], "goal": init["goal"],
            "start": init["obs"]["position"], "actions": [step["action"] for step in steps],
            "end": steps[-1]["obs"]["position"] if steps else init["obs"]["position"],
            "reward": recorder["reward"]})

    def general_retrieve(self, recorder):
        obs, goal = recorder["init"]["obs"], recorder["init"]["goal"]
        same_world = [e for e in self.episodes if e["world"] == obs["world"]]
        if not same_world:
            return {}
        x, y = obs["position"]
        nearest = min(same_world, key=lambda e: (e["goal"] != goal,
                                                 abs(e["start"][0] - x) + abs(e["start"][1] - y)))
        hints = {"trajectory": nearest}
        if nearest["goal"] == goal and nearest["reward"] > 0:
            hints["targets"] = [nearest["end"]]
            if nearest["start"] == obs["position"]:
                hints["plan"] = nearest["actions"]
        return hints
# EVOLVE-BLOCK-END


def run_stream(stream):
    return run(Memory, stream)
