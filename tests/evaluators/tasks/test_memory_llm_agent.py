"""The grid world's LLM agent and the memory's model channel, with stand-in models: the
retrieved dict reaches the agent's prompt, replies become moves, a missing model is the task's
error, and a memory's `ask_model` is answered by the evaluation's model."""

import json

import pytest
from memory_helpers import Echo, program, smoke

from evaluators.task import Case, TaskError, load_task
from evaluators.workers import WorkerPool

TASK = load_task("gridworld_memory")
SCORER = TASK.scorer.SCORER
from memory_stream import NoMemory, play_in_process  # noqa: E402

SMALL = {"seed": 0, "worlds": 2, "tasks_per_world": 6}


class TargetsMemory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"targets": [[1, 1]], "notes": ["the key is in the north-west"]}


def test_an_llm_agent_that_takes_the_suggested_moves_plays_as_the_scripted_agent():
    echo = Echo()
    llm = play_in_process(SCORER.stream(SCORER.case({**SMALL, "agent": "llm"}), echo),
                          TargetsMemory, echo).result
    scripted = play_in_process(SCORER.stream(SCORER.case(SMALL)), TargetsMemory).result
    assert llm == scripted
    deployment = [p for p in echo.prompts if "north-west" in p]
    assert deployment and all('"targets": [[1, 1]]' in p for p in deployment)
    assert all("Goal: go to the " in p and "steps left" in p for p in echo.prompts)


def test_replies_become_moves_and_a_reply_without_moves_falls_back_to_the_scripted_agent():
    def walker(messages, *, temperature=None, reference=None):
        return "I will go North, north and then west."

    def mute(messages, *, temperature=None, reference=None):
        return "{}"

    case = SCORER.case({**SMALL, "agent": "llm"})
    walked = play_in_process(SCORER.stream(case, walker), NoMemory, walker).result
    assert max(walked.steps) == case.budget  # three moves a call never reach every item
    fallen = play_in_process(SCORER.stream(case, mute), NoMemory, mute).result
    assert fallen == play_in_process(SCORER.stream(SCORER.case(SMALL)), NoMemory).result


def test_the_llm_agent_is_the_default_wherever_a_model_is_configured():
    """`agent = "auto"` (the default): the LLM agent plays when the evaluation has an agent
    model, the scripted agent (the offline, model-free setting) when it has none; each has its
    own no-memory baseline."""
    echo = Echo()
    case = SCORER.case(SMALL)
    assert case.agent == "auto"
    with_model = play_in_process(SCORER.stream(case, echo), TargetsMemory, echo).result
    assert echo.prompts and all("Goal: go to the " in p for p in echo.prompts)
    assert any('"targets": [[1, 1]]' in p for p in echo.prompts)
    calls = len(echo.prompts)
    without = play_in_process(SCORER.stream(case), TargetsMemory).result
    assert len(echo.prompts) == calls  # no model: nobody asked
    assert with_model == without  # the echo takes the scripted agent's moves
    SCORER.no_memory(case, echo)
    assert len(echo.prompts) > calls  # the LLM agent's baseline is its own, played with it
    assert (case, True) in SCORER.no_memory_results


def test_the_llm_agent_without_a_model_is_the_tasks_error():
    stage, case = smoke("gridworld_memory")
    llm = Case(case.name, {}, {**case.secret, "agent": "llm"})
    with WorkerPool(size=1) as pool, pytest.raises(TaskError, match="no agent model"):
        TASK.run_case(stage, llm, TASK.seed_code, pool)


ASKS = """
from memory_loop import ask_model


class Memory:
    def __init__(self):
        self.answer = None

    def general_update(self, recorder):
        if self.answer is None:
            self.answer = ask_model([{"role": "user", "content": recorder["init"]["goal"]}])

    def general_retrieve(self, recorder):
        return {"targets": [json.loads(self.answer)["answer"]]}
"""


def test_a_memory_asks_the_evaluations_model_over_the_channel():
    def model(messages, *, temperature=None, reference=None):
        assert messages == [{"role": "user", "content": messages[0]["content"]}]
        assert messages[0]["content"].startswith("go to the ")
        return json.dumps({"answer": [1, 1]})

    stage, config = smoke("gridworld_memory")
    code = program("gridworld_memory", "import json\n" + ASKS)
    # the model answers the memory only; a case of the full stages (not the probe, where a
    # memory that raises fails the case: test_memory_stream_settings)
    scripted = {**config.secret, "agent": "scripted", "probe": False}
    with WorkerPool(size=1) as pool:
        asked = TASK.run_case(stage, Case(config.name, {}, scripted, model), code, pool)
        alone = TASK.run_case(stage, Case(config.name, {}, scripted), code, pool)
    assert asked.status == "ok", asked.reason
    assert asked.metrics.private["model_calls"] == 1
    # without a model the call raises in the memory (each update asks again, each retrieval
    # then fails on the missing answer): each such call costs its episode, and the errors are
    # in the metrics the analysis reads
    assert alone.status == "ok" and alone.metrics.public["memory_errors"] == 8 + 24
    assert alone.metrics.score == 0 and "raised in" in alone.metrics.public["episodes"]
