"""The Ray executor against a local Ray instance started here (about 5 s to start)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from evaluators.sandbox import Sandbox
from evaluators.task import TaskError, load_task

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from evaluators.ray_executor import RayExecutor  # noqa: E402


@pytest.fixture(scope="module")
def executor():
    temp = tempfile.mkdtemp(prefix="ray-")  # Ray's session files; short for its socket paths
    try:
        ex = RayExecutor(slots=2, init_kwargs={"num_cpus": 2, "_temp_dir": temp})
        yield ex
        ex.close()
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_scores_match_the_local_executor(executor):
    for name in ("circle_packing", "function_minimisation"):
        task = load_task(name)
        remote = task.evaluate(task.seed_code, executor, held_out=True)
        local = task.evaluate(task.seed_code, Sandbox(), held_out=True)
        assert [(r.stage, r.status, r.score) for r in remote] == \
            [(r.stage, r.status, r.score) for r in local]
        assert remote[-1].private_metrics == local[-1].private_metrics
        assert remote[-1].resources["executor"] == "ray"
    assert executor.level.startswith("ray/")


def test_hostile_candidates_fail_cleanly_on_ray(executor, tmp_path):
    root = tmp_path / "quick_packing"
    shutil.copytree(load_task("circle_packing").root, root)
    toml = root / "task.toml"
    toml.write_text(toml.read_text().replace("limits = { wall_s = 20, cpu_s = 20 }",
                                             "limits = { wall_s = 1, cpu_s = 20 }"))
    task = load_task(root)
    hang = "def construct_packing(n):\n    while True:\n        pass\n"
    result = task.evaluate(hang, executor)[-1]
    assert result.status == "timeout" and "wall time limit of 1 s" in result.reason
    crash = "def construct_packing(n):\n    raise RuntimeError('nope')\n"
    final = task.evaluate(crash, executor)[-1]
    assert final.status == "crashed" and "RuntimeError: nope" in final.reason


def test_a_node_with_other_task_files_is_refused(executor, tmp_path):
    root = tmp_path / "drifting"
    shutil.copytree(load_task("circle_packing").root, root)
    task = load_task(root)
    (root / "scorer.py").write_text((root / "scorer.py").read_text() + "\n# edited later\n")
    with pytest.raises(TaskError, match="give every node the same task files"):
        task.evaluate(task.seed_code, executor)


def test_an_agent_task_is_refused_with_the_reason(executor):
    """Agent models live in the driver: a case that carries one gets a clear refusal, not a
    model call refused on the node as if no model had been configured."""
    from evaluators.task import Case

    task = load_task("arithmetic")
    stage = task.config.stages[0]
    config = stage.cases[0]
    case = Case(config.name, config.inputs, config.secret, model=lambda *a, **k: "42")
    with pytest.raises(TaskError, match="Ray executor cannot serve"):
        executor.run_case(task, stage, case, task.seed_code)


def test_a_node_finds_the_task_where_the_driver_left_it(tmp_path, monkeypatch):
    """The driver's path (a shared file system), else the same place under the node's working
    directory (a runtime_env working_dir), else the shipped task of that name."""
    from evaluators.ray_executor import find_task

    shipped = load_task("circle_packing").root
    (tmp_path / "tasks").mkdir()
    copy = shutil.copytree(shipped, tmp_path / "tasks" / "mine")
    assert find_task(str(copy), None, "mine") == copy
    monkeypatch.chdir(tmp_path)
    assert find_task("/elsewhere/tasks/mine", "tasks/mine", "mine") == copy
    assert find_task("/elsewhere/circle_packing", None, "circle_packing") == shipped
    with pytest.raises(TaskError, match="ship it with runtime_env working_dir"):
        find_task("/elsewhere/mine", "nowhere/mine", "mine")


STALE_RECORD_DRIVER = """
import sys
from pathlib import Path
from evaluators.ray_executor import RayExecutor
from evaluators.task import load_task
(Path(sys.argv[1]) / "ray").mkdir()  # a Ray that crashed left its record of the latest cluster
(Path(sys.argv[1]) / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")
task = load_task("function_minimisation")
print(task.evaluate(task.seed_code, RayExecutor(slots=1))[-1].status)
"""


def test_without_an_address_a_local_instance_starts_whatever_ray_recorded(tmp_path):
    """No address and no RAY_ADDRESS start a local Ray instance, as documented: Ray's own
    default would join the cluster recorded in its temp root by an earlier `ray start` (here
    one that is gone, so ray.init would fail to connect). A second driver (a subprocess):
    this module's Ray is already initialised."""
    root = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths must fit 107 bytes
    try:
        result = subprocess.run(
            [sys.executable, "-c", STALE_RECORD_DRIVER, str(root)], capture_output=True,
            text=True, timeout=300, env={**os.environ, "RAY_TMPDIR": str(root)})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert result.stdout.split()[-1:] == ["ok"], result.stderr[-3000:]
