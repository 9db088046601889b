"""Baseline: per game, the commands of its best episode so far up to the last one that raised
the score, replayed as the plan (the games are deterministic: the same commands score the
same); and the commands that ended a lost episode, avoided (ALMA's trajectory memory at its
simplest: what worked in this game, nothing carried across games)."""
from memory_loop import run


# EVOLVE-BLOCK-START
class Memory:
    def __init__(self):
        self.best = {}
        """game -> (reward, its commands up to the last that raised the score)"""
        self.losing = {}
        """game -> commands that ended an episode without a win"""

    def general_update(self, recorder):
        game = recorder["init"]["obs"]["world"]
        score, scoring = 0.0, []
        for i, step in enumerate(recorder["steps"]):
            if step["reward"] > score:
                scoring = [s["action"] for s in recorder["steps"][:i + 1]]
            score = step["reward"]
        if recorder["reward"] > self.best.get(game, (0.0, []))[0]:
            self.best[game] = (recorder["reward"], scoring)
        last = recorder["steps"][-1] if recorder["steps"] else None
        if last and last["done"] and recorder["reward"] < 1 and last["obs"]["steps_left"] > 0:
            self.losing.setdefault(game, set()).add(last["action"])

    def general_retrieve(self, recorder):
        game = recorder["init"]["obs"]["world"]
        return {"plan": self.best.get(game, (0.0, []))[1],
                "avoid": sorted(self.losing.get(game, ()))}
# EVOLVE-BLOCK-END


def run_stream(stream):
    return run(Memory, stream)
