"""Speed as a task metric: a scorer that declares `cpu_s` gets the run's CPU time as the sandbox
measured it (examples/speed_task). The figures compared are CPU times of clearly different
work (a busy loop of ~0.2 s against a sieve of milliseconds), never wall-clock thresholds."""

import shutil
from pathlib import Path

import pytest
from helpers import discover

from archive import ArchiveReader
from evaluators import sandbox as sandbox_module
from evaluators.sandbox import Sandbox
from evaluators.task import Case, TaskError, load_task
from evaluators.workers import WorkerPool

EXAMPLE = Path(__file__).parents[2] / "examples" / "speed_task"
BUSY = """
def busy():
    total = 0
    for i in range(3_000_000):
        total += i * i
    return total
"""
SLOW = "{sieve}\n" + BUSY + """
_fast = count_primes

def count_primes(n):
    busy()
    return _fast(n)
"""
ORPHANED = "{sieve}\n" + BUSY + """
import os

_fast = count_primes

def count_primes(n):
    # the busy work runs in a grandchild that is never waited for: its parent exits at once,
    # so whoever reaps it is not this process (wait4 of this process would never see it)
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        if os.fork() == 0:
            busy()
            os.write(ready_w, b"x")
        os._exit(0)
    os.wait()
    os.read(ready_r, 1)  # blocked, not computing, until the grandchild is done
    return _fast(n)
"""
FORGED = BUSY + """
import os
import sys

def count_primes(n):
    busy()
    # write a result of its own on the harness's channel, claiming no CPU time, and leave
    # before the harness sends the real one
    harness = sys.modules.get("harness") or sys.modules["__main__"]
    harness._send({{"kind": "result", "outputs": {{"cpu_s": 0.0}},
                    "resources": {{"cpu_s": 0.0, "cpu_all_processes": True}}, "cpu_s": 0.0}})
    os._exit(0)
"""
ECHO_SCORER = """
from evaluators.scoring import Metrics

def score(stage, case, outputs, oracle, *, cpu_s):
    return Metrics(-cpu_s, {"cpu_s": cpu_s, "claimed": outputs["cpu_s"]})
"""


@pytest.fixture(scope="module")
def task():
    return load_task(EXAMPLE)


@pytest.fixture(scope="module", params=["fresh", "warm"])
def executor(request):
    if request.param == "fresh":
        yield Sandbox()
    else:
        with WorkerPool(size=1) as pool:
            yield pool


def run_full(task, code, executor):
    """The full stage's one case, run and scored."""
    stage = task.config.stages[-1]
    config = stage.cases[0]
    return task.run_case(stage, Case(config.name, config.inputs, config.secret), code, executor)


def test_a_slower_candidate_scores_lower(task, executor):
    sieve = task.baselines["sieve"]
    fast = run_full(task, sieve, executor)
    slow = run_full(task, SLOW.format(sieve=sieve), executor)
    assert fast.status == slow.status == "ok", (fast.reason, slow.reason)
    assert slow.metrics.score < fast.metrics.score
    assert slow.metrics.public["cpu_s"] == slow.resources["cpu_s"] > 2 * fast.resources["cpu_s"]
    assert slow.resources["cpu_all_processes"] and fast.resources["cpu_all_processes"]
    wrong = run_full(task, "def count_primes(n):\n    return 17983\n", executor)
    assert wrong.status == "invalid" and "not the number of primes" in wrong.reason


def test_work_hidden_in_an_orphaned_process_is_counted(task, executor):
    sieve = task.baselines["sieve"]
    direct = run_full(task, SLOW.format(sieve=sieve), executor)
    hidden = run_full(task, ORPHANED.format(sieve=sieve), executor)
    assert direct.status == hidden.status == "ok", (direct.reason, hidden.reason)
    # the same busy work, whichever process did it (most of it, at least: a fork costs too)
    assert hidden.resources["cpu_s"] > 0.5 * direct.resources["cpu_s"]
    assert hidden.metrics.score < run_full(task, sieve, executor).metrics.score


def test_a_candidate_cannot_report_its_own_cpu_time(tmp_path, executor):
    root = tmp_path / "echo"
    shutil.copytree(EXAMPLE, root)
    (root / "scorer.py").write_text(ECHO_SCORER)
    echo = load_task(root)
    forged = run_full(echo, FORGED.format(), executor)
    honest = run_full(echo, BUSY + "\ndef count_primes(n):\n    busy()\n"
                      "    return {'cpu_s': 0.0}\n", executor)
    assert forged.status == honest.status == "ok", (forged.reason, honest.reason)
    assert forged.metrics.public["claimed"] == honest.metrics.public["claimed"] == 0.0
    assert forged.metrics.public["cpu_s"] > 0.5 * honest.metrics.public["cpu_s"] > 0.05


def test_cpu_time_that_misses_processes_is_a_task_error(task, monkeypatch):
    """Without a cpu cgroup a fresh sandbox sees only what wait4 reports, which misses work
    left in orphans (and all of it through bwrap): a speed task must not score on that."""
    assert task.scores_cpu_time and not load_task("circle_packing").scores_cpu_time
    monkeypatch.setattr(sandbox_module, "_make_group", lambda path, settings: None)
    with pytest.raises(TaskError, match="cannot count the CPU time of every process") as info:
        run_full(task, task.baselines["sieve"], Sandbox())
    assert "\n" not in str(info.value)


def test_a_campaign_finds_the_faster_program(tmp_path):
    """On warm workers, as campaigns run: a scripted rewrite to a sieve beats the seed's trial
    division by its CPU time, and a wrong count is refused."""
    script = Path(__file__).parents[1] / "data" / "speed_task_script.jsonl"
    run = discover(tmp_path, "run", str(EXAMPLE), "--name", "s", "--iterations", "3",
                   "--progress", "quiet", "--set", "selection.islands=1", "--set",
                   f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
                   "--set", "edits.tune_share=0", "--set", "edits.restart_share=0")
    assert run.exit_code == 0, run.output
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        seed, best = reader.program(1), reader.best()
        assert best.id != seed.id and "sieve" in best.code
        cpu = {p.id: reader.evaluations(p.id)[-1].public_metrics["cpu_s"] for p in (seed, best)}
        assert cpu[best.id] < cpu[seed.id] / 5, cpu
        assert "not the number of primes" in str(reader.failures_by_reason(5))
