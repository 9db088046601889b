"""MiniHack's LLM agent is the grid LLM agent's loop with the maze's eight moves and its
scripted maze agent: checked on hand-drawn maps, so it runs without NetHack installed."""

import json

from evaluators.task import load_task

load_task("minihack_memory")  # puts the task's modules (and _shared's) on the path
from minihack_agent import MazeLLMAgent, read_hints  # noqa: E402
from minihack_worlds import Screen  # noqa: E402

CORRIDOR = ["", " .....", "", ""]


def at(x: int) -> tuple[dict, Screen]:
    """The observation and screen with the player at (x, 1) in the corridor."""
    rows = [row.ljust(79) for row in CORRIDOR] + [" " * 79] * (21 - len(CORRIDOR))
    obs = {"world": "m0", "level": "MazeWalk-9x9", "position": [x, 1], "message": "",
           "steps_left": 9}
    return obs, Screen(rows, (x, 1), "")


def test_replies_name_the_mazes_eight_moves_and_no_move_falls_back_to_the_scripted_agent():
    replies = iter([json.dumps({"answer": "NorthEast, then south; northwest"}), "{}"])
    references = []

    def model(messages, *, temperature=None, reference=None):
        references.append(reference)
        assert "MiniHack maze" in messages[0]["content"]
        assert "Memory: {\"plan\": [\"east\"" in messages[-1]["content"]
        return next(replies)

    retrieved = {"plan": ["east", "east", "east", "east", "east"]}
    agent = MazeLLMAgent(model, "go down", ">", retrieved, read_hints(retrieved), "t")
    moves = [agent.act(*at(x)) for x in (1, 2, 3, 4)]
    assert moves == ["northeast", "south", "northwest", "east"]  # not `north` of `northeast`
    assert references == ["east", "east"]  # the scripted agent's plan, asked at 1 and 4
    assert (agent.calls, agent.fallbacks) == (2, 1)
    assert agent.history[-1] == "east from [4, 1]"
