"""Baseline: embedding retrieval (ALMA's memories retrieve by embedding similarity): each past
episode is kept with the embedding of its goal (`embed`, the evaluation's embedding model); the
nearest in the same world is the most similar goal, then the nearest start. If it reached that
goal, its end is the target and, from the same start, its moves are the plan; the trajectory
goes along for an LLM agent. Each distinct goal is embedded once. Where the evaluation has no
embedding model (no agent model: `embed` raises), goals match by their exact text, as the
`trajectory` baseline does."""
import math

from memory_loop import embed, run


# EVOLVE-BLOCK-START
class Memory:
    def __init__(self):
        self.episodes = []
        self.vectors = {}  # goal text -> its embedding (None: no embedding model)

    def vector(self, goal):
        if goal not in self.vectors:
            try:
                self.vectors[goal] = embed([goal])[0]
            except RuntimeError:  # no embedding model, or its budget spent
                self.vectors[goal] = None
        return self.vectors[goal]

    def similarity(self, goal, other):
        a, b = self.vector(goal), self.vector(other)
        if a is None or b is None:
            return 1.0 if goal == other else 0.0
        norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0

    def general_update(self, recorder):
        init, steps = recorder["init"], recorder["steps"]
        self.vector(init["goal"])
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
        nearest = min(same_world, key=lambda e: (
            -round(self.similarity(goal, e["goal"]), 6),
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
