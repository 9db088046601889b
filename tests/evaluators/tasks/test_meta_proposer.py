"""The meta task (evaluators/tasks/meta): a proposer program is scored by short inner
campaigns run on the trusted side. The model everywhere here is a TEST DOUBLE (scripted
answers): these tests show the plumbing and the scoring, not what a real model's proposer
would achieve."""

import gc
import threading
import time

import pytest
from meta_doubles import CRASH_1, CRASH_2, GOOD, meta_task, script

from discovery.models import agent_models
from discovery.models.agent import AgentModelConfig
from evaluators.sandbox import Sandbox
from evaluators.task import load_task


def evaluate(task, code, model_script, **budgets):
    """One evaluation of a proposer program with a fresh scripted agent model."""
    models = agent_models(AgentModelConfig(name=f"scripted:{model_script}", **budgets))
    return task.evaluate(code, Sandbox(), model=models.for_evaluation([]))[-1]


def test_a_best_of_two_proposer_beats_the_seed_proposer_with_scripted_answers(tmp_path):
    task = load_task(meta_task(tmp_path, [{"task": "circle_packing", "iterations": 3,
                                           "seed": 1}]))
    answers = script(tmp_path / "inner.jsonl", [CRASH_1, CRASH_2, GOOD])
    seed = evaluate(task, task.seed_code, answers)
    better = evaluate(task, task.baselines["best_of_two"], answers)
    assert seed.status == better.status == "ok", (seed.reason, better.reason)
    assert seed.score == 0.0 and seed.public_metrics["model_calls"] == 2
    assert better.score > 0.01 and better.public_metrics["evaluations"] >= 2
    assert better.private_metrics["circle_packing_best"] > \
        better.private_metrics["circle_packing_seed"]
    assert better.public_metrics["ci_low"] <= better.score <= better.public_metrics["ci_high"]


@pytest.mark.parametrize("body", [
    'raise RuntimeError("no idea")',
    "return {'not': 'text'}",
    "return [tools.model(request['messages']) for _ in range(50)][-1]",
    "return tools.evaluate(12)",
])
def test_a_broken_proposer_scores_no_improvement_and_stops_nothing(tmp_path, body):
    task = load_task(meta_task(tmp_path, [{"task": "circle_packing", "iterations": 2}]))
    code = task.seed_code.replace('return tools.model(request["messages"])', body)
    result = evaluate(task, code, script(tmp_path / "inner.jsonl", [GOOD]))
    assert result.status == "ok" and result.score == 0.0, result.reason


def test_a_proposer_that_returns_at_once_or_crashes_loses_its_evaluation_only(tmp_path):
    task = load_task(meta_task(tmp_path, [{"task": "circle_packing", "iterations": 2}]))
    early = task.seed_code.replace("return proposer_api.serve(propose, oracle)", "return 0")
    assert evaluate(task, early, script(tmp_path / "inner.jsonl", [GOOD])).status == "invalid"
    crash = task.seed_code.replace("return proposer_api.serve(propose, oracle)",
                                   "import os; os._exit(1)")
    assert evaluate(task, crash, script(tmp_path / "inner.jsonl", [GOOD])).status == "crashed"


def test_a_proposer_that_spends_the_channel_budget_loses_only_its_own_proposals(tmp_path):
    task = load_task(meta_task(tmp_path, [{"task": "circle_packing", "iterations": 4}]))
    greedy = task.seed_code.replace(
        'return tools.model(request["messages"])',
        'return [tools.model(request["messages"]) for _ in range(3)][0]')
    result = evaluate(task, greedy, script(tmp_path / "inner.jsonl", [GOOD]),
                      calls_per_evaluation=2)
    assert result.status == "ok" and result.score == 0.0
    # three requests: the first's third call is refused, and each later one's first
    assert result.public_metrics["requests"] == 3
    assert result.public_metrics["model_calls"] == 3 + 1 + 1


def test_a_generated_problem_is_a_task_of_its_own_size(tmp_path):
    """`generated = "sphere_points"`: a task folder written from the template, its size drawn
    from the problem's seed; a scripted answer with the golden angle beats the seed's spiral."""
    golden = ("```python\ndef place_points(n):\n    turn = 2.399963  # the golden angle\n"
              "    points = []\n    for i in range(n):\n        z = 1 - 2 * (i + 0.5) / n\n"
              "        r = math.sqrt(max(0.0, 1 - z * z))\n"
              "        points.append([r * math.cos(i * turn), r * math.sin(i * turn), z])\n"
              "    return points\n```")
    task = load_task(meta_task(tmp_path, [{"generated": "sphere_points", "iterations": 2,
                                           "seed": 1}]))
    result = evaluate(task, task.seed_code, script(tmp_path / "inner.jsonl", [golden]))
    assert result.status == "ok" and result.score > 0.05, result.reason
    assert result.private_metrics["sphere_points_19_best"] > \
        result.private_metrics["sphere_points_19_seed"]


def test_a_proposer_that_loops_times_out_alone(tmp_path):
    """The candidate spins inside propose: its run is killed at its CPU limit, the reason
    recorded; the inner campaign waiting for its answer gives up on its own at once: the oracle's
    finaliser closes its session, so no thread is left waiting."""
    task = load_task(meta_task(tmp_path, [{"task": "circle_packing", "iterations": 2}],
                               cpu_s=3))
    spin = task.seed_code.replace('return tools.model(request["messages"])', "while True: pass")
    result = evaluate(task, spin, script(tmp_path / "inner.jsonl", [GOOD]))
    assert result.status != "ok" and "CPU time limit" in result.reason, result.reason
    gc.collect()  # what a traceback kept of the oracle goes, and its finaliser with it
    deadline = time.monotonic() + 120
    while any(t.name.startswith("meta-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the inner campaigns still wait for the proposer"
        time.sleep(0.2)
