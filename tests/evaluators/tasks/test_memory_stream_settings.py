"""ALMA's loop details the memory streams keep (issue 26): a memory that raises costs that
episode (scored 0, the error recorded and shown), not the evaluation; the collection size and
the distribution-shift test (collect on one task set, deploy on another) as case settings."""

import json

import pytest
from memory_helpers import program, smoke

from evaluators.task import Case, load_task
from evaluators.workers import WorkerPool

TASK = load_task("gridworld_memory")
SCORER = TASK.scorer.SCORER
from memory_recorder import Recorder  # noqa: E402
from memory_stream import alma_stream, play_in_process, split  # noqa: E402

FLAKY = """
class Memory:
    def __init__(self):
        self.calls = 0

    def general_update(self, recorder):
        if recorder["init"]["goal"].endswith("3"):
            raise KeyError("lost my notes")

    def general_retrieve(self, recorder):
        self.calls += 1
        if self.calls % 4 == 0:
            raise ZeroDivisionError("every fourth retrieval")
        return {"seen": recorder["init"]["obs"]["task"]}
"""


def flaky_class() -> type:
    namespace: dict = {}
    exec(FLAKY, namespace)
    return namespace["Memory"]


def toy_stream(n: int = 12, **settings):
    """n trivial tasks scoring 1 when the memory retrieved anything, goals `g<task>`."""
    def play(task, retrieved, repeat):
        recorder = Recorder({"task": task}, f"g{task}")
        recorder.log("wait", {"task": task}, 0.0, True)
        recorder.reward = 1.0 if retrieved else 0.0
        return recorder
    return alma_stream(range(n), lambda task: Recorder({"task": task}, f"g{task}"), play,
                       mode="batched", seed=0, **settings)


def test_a_memory_that_raises_costs_only_that_episode_which_scores_zero():
    result = play_in_process(toy_stream(), flaky_class()).result
    rewards = [reward for group in result.groups for reward in group]
    assert len(rewards) == 18 and rewards.count(0.0) == 4  # retrievals 4, 8, 12, 16 of 18
    # a failed retrieval's episode is not played: no steps, reward 0, its error recorded
    assert sorted(result.steps).count(0) == 4
    collected_3 = 3 in split(range(12), 0)[0]
    assert len(result.errors) == 4 + collected_3
    assert all("ZeroDivisionError: every fourth retrieval" in e for e in result.errors
               if e.startswith("general_retrieve raised in deployment"))
    assert ("general_update raised in collection (goal: g3): KeyError: 'lost my notes'"
            in result.errors) == collected_3
    shown = [json.loads(line) for line in result.episodes_text().splitlines()]
    errors = [e for e in shown if "error_info" in e]  # ALMA's error examples, reward 0
    assert any(e["error_info"].startswith("general_retrieve raised in deployment")
               for e in errors) and all(e["final_reward"] == 0.0 for e in errors)
    # as ALMA: an episode whose retrieval failed is among the errors, not the reward bins
    assert len(result.episodes) == 18 - 4
    assert {e["final_reward"] for e in shown if "steps" in e} == {1.0}  # the 0s: errors


def test_the_analysis_sample_is_alma_s_three_random_episodes_per_fixed_reward_bin():
    """ALMA (evals/launch.py): fixed bins 0-0.33, 0.33-0.66, 0.66-1; up to 3 episodes drawn
    at random in each (the same for the same stream), and up to 3 errors."""
    def play(task, retrieved, repeat):
        recorder = Recorder({"task": task}, f"g{task}")
        recorder.log("wait", {"task": task}, 0.0, True)
        recorder.reward = (task % 4) / 3  # 0, 1/3 (first bin), 2/3 (second), 1 (third)
        return recorder
    stream = alma_stream(range(40), lambda task: Recorder({"task": task}, f"g{task}"), play,
                         mode="batched", seed=3)
    result = play_in_process(stream, flaky_class()).result
    shown = [json.loads(line) for line in result.episodes_text().splitlines()]
    played = [e for e in shown if "steps" in e]
    bins = [min(int(e["final_reward"] / 0.33), 2) for e in played]
    assert bins == [0] * 3 + [1] * 3 + [2] * 3  # 3 a bin, low to high
    # ALMA's example: the initial environment, the retrieval, every step, the final reward
    assert set(played[0]) == {"init_environment", "memo_retrieved", "steps", "final_reward"}
    assert played[0]["init_environment"]["goal"].startswith("g")
    assert played[0]["steps"] == [{"action": "wait", "obs": played[0]["steps"][0]["obs"],
                                   "reward": 0.0}]
    assert sum("error_info" in e for e in shown) == 3
    # not the first episodes of each bin: drawn, and drawn the same way again
    first = [e["init_environment"]["goal"] for e in result.episodes][:3]
    assert [e["init_environment"]["goal"] for e in played[:3]] != first
    assert result.episodes_text() == result.episodes_text()


def test_through_the_sandbox_an_error_episode_is_counted_and_the_evaluation_scores():
    """The smoke case through the sandbox, as a case of the full stages (no probe): status
    ok, the errors counted in the metrics and shown in `episodes`; a memory raising on every
    call scores 0 with every call counted. As the task's probe (ALMA's examination of new
    code), the same memory fails the case, the first errors in the reason."""
    stage, probe = smoke("gridworld_memory", cpu_s=60, wall_s=120)
    assert probe.secret["probe"] is True
    case = Case(probe.name, probe.inputs, {**probe.secret, "probe": False})
    always = FLAKY.replace("self.calls % 4 == 0", "True").replace(
        'endswith("3")', 'endswith("")')
    with WorkerPool(size=1) as pool:
        flaky = TASK.run_case(stage, case, program("gridworld_memory", FLAKY), pool)
        broken = TASK.run_case(stage, case, program("gridworld_memory", always), pool)
        probed = TASK.run_case(stage, probe, program("gridworld_memory", FLAKY), pool)
    assert flaky.status == "ok", flaky.reason
    errors = flaky.metrics.public["memory_errors"]
    assert errors >= 6  # 24 retrievals, every fourth raises
    shown = flaky.metrics.public["episodes"]
    assert '"error_info": "general_retrieve raised in deployment' in shown
    assert broken.status == "ok" and broken.metrics.score == 0.0
    assert broken.metrics.public["memory_errors"] == 8 + 24  # 8 updates, 24 retrievals
    assert broken.metrics.public["gain"] == -broken.metrics.public["no_memory"]
    assert probed.status == "invalid"
    assert f"the memory raised on {errors} of its calls in the probe" in probed.reason
    assert "general_retrieve raised in deployment" in probed.reason


def test_the_collection_size_is_a_setting():
    updates = []

    class Counting:
        def general_update(self, recorder):
            updates.append(recorder["init"]["goal"])

        def general_retrieve(self, recorder):
            return {"updates": len(updates)}

    for collection, expected in ((None, 6), (2, 2), (0, 0)):
        updates.clear()
        play_in_process(toy_stream(collection=collection), Counting)
        assert len(updates) == expected
    with pytest.raises(ValueError, match="collection is 0 to 6 tasks here, not 7"):
        play_in_process(toy_stream(collection=7), Counting)


def test_distribution_shift_collects_on_one_task_set_and_deploys_on_another():
    """`deploy_seed`: the collection phase is this case's tasks (up to all of them), the
    deployment exactly the deploy_seed case's own deployment half."""
    shifted = SCORER.case({"seed": 0, "worlds": 2, "tasks_per_world": 6, "deploy_seed": 5,
                           "collection": 12})
    own = SCORER.case({"seed": 5, "worlds": 2, "tasks_per_world": 6})
    goals = {"collected": [], "deployed": []}

    class Watching:
        def general_update(self, recorder):
            goals["collected"].append(recorder["init"]["obs"]["world"])

        def general_retrieve(self, recorder):
            opening = recorder["init"]
            goals["deployed"].append((opening["goal"], opening["obs"]["position"]))
            return {}

    play_in_process(SCORER.stream(shifted), Watching)
    assert len(goals["collected"]) == 12
    shifted_deployed, goals["deployed"] = goals["deployed"], []
    play_in_process(SCORER.stream(own), Watching)
    assert shifted_deployed == goals["deployed"] and len(shifted_deployed) == 6 * 3
    # the no-memory baseline of the shifted case is the deploy case's deployment
    assert SCORER.no_memory(shifted).groups == SCORER.no_memory(own).groups
    with pytest.raises(ValueError, match="collection is 0 to 6 tasks here"):
        SCORER.case({"seed": 0, "worlds": 2, "tasks_per_world": 6, "collection": 7})
