"""What a memory is told about an episode: ALMA's recorder, as plain data.

`general_update(recorder)` gets a finished episode; `general_retrieve(recorder)` gets the
opening of the next one (its initial observation and goal, no steps yet). The same shape in
every domain of memory tasks, so that a memory written for one can at least run on another:

    {"init": {"obs": <observation>, "goal": "<text>"},
     "steps": [{"action": "<action>", "obs": <observation>, "reward": 0.0, "done": false}, ...],
     "reward": <final reward, 0 to 1>}

An observation is the domain's plain data (the grid world's is a dict, see gridworld.Episode).
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    action: str
    obs: Any
    reward: float
    done: bool


@dataclass
class Recorder:
    obs: Any
    goal: str
    steps: list[Step] = field(default_factory=list)
    reward: float = 0.0

    def log(self, action: str, obs: Any, reward: float, done: bool) -> None:
        self.steps.append(Step(action, obs, reward, done))

    def plain(self) -> dict[str, Any]:
        return {"init": {"obs": self.obs, "goal": self.goal},
                "steps": [{"action": s.action, "obs": s.obs, "reward": s.reward, "done": s.done}
                          for s in self.steps],
                "reward": self.reward}
