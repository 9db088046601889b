"""The Ray executor on a real multi-node cluster on this machine: a head and two worker nodes
(separate raylets, one CPU each), started by local_cluster (about 5 s), with its session files
in a temporary folder removed afterwards. A campaign spreads its evaluations
over the nodes; a node killed mid-campaign costs only the cases it had in flight, which run
again elsewhere and are recorded once; a node added later gets work. A candidate's own
failure is never retried. About 30 s on 2 cores."""

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import discover

from evaluators.task import load_task

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from evaluators.ray_executor import RayExecutor, local_cluster  # noqa: E402

SLEEP_S = 0.8
"""What one case of the test task takes (the candidate sleeps): long enough to kill a node
under it, short enough for a campaign of seconds."""


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as nodes:
        for _ in range(2):
            nodes.add_node(num_cpus=1)
        ray.init(address=nodes.address, log_to_driver=False)
        nodes.wait_for_nodes()
        yield nodes


def sleepy_task(root: Path) -> Path:
    """A task whose case sleeps SLEEP_S and returns the program's constant; its trusted side
    touches `<root>.marks/<node id>` as a case starts there (outside the folder: its files are
    the task's version), so the test can tell when a node has one in flight."""
    marks = root.with_suffix(".marks")
    marks.mkdir(parents=True)
    root.mkdir()
    (root / "task.toml").write_text(
        'name = "sleepy"\nsummary = "Return a large number."\nentry = "f"\n'
        '[[stages]]\nname = "only"\ncases = [{ name = "c" }]\n')
    (root / "seed.py").write_text(program(0))
    (root / "description.md").write_text("Return a large number.\n")
    (root / "scorer.py").write_text(
        "from pathlib import Path\n\nimport ray\n\n"
        "from evaluators.scoring import Metrics, finite_number\n\n\n"
        "def inputs(stage, case):\n"
        f"    (Path({str(marks)!r}) / ray.get_runtime_context().get_node_id()).touch()\n"
        "    return case.inputs\n\n\n"
        "def score(stage, case, outputs, oracle):\n"
        "    return Metrics(finite_number(outputs, 'f()'), {'value': outputs})\n")
    return root


def program(value: int, body: str = "") -> str:
    return ("# EVOLVE-BLOCK-START\nimport time\n\n\ndef f():\n"
            f"    time.sleep({SLEEP_S})\n{body}    return {value}\n# EVOLVE-BLOCK-END\n")


def test_a_candidates_own_failure_is_a_result_not_a_lost_slot(cluster, tmp_path):
    task = load_task(sleepy_task(tmp_path / "task"))
    executor = RayExecutor(slots=3)
    try:
        crash = task.evaluate(program(1, "    raise RuntimeError('nope')\n"), executor)[-1]
        assert crash.status == "crashed" and "RuntimeError: nope" in crash.reason
        # the candidate kills its warm worker (the fork server, its parent in the sandbox)
        kill = "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        killed = task.evaluate(program(1, kill), executor)[-1]
        assert killed.status == "crashed" and "warm worker died" in killed.reason
        assert executor.lost == 0 and "lost_attempts" not in killed.resources
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda v: task.evaluate(program(v), executor)[-1],
                                    range(6)))
        assert [r.score for r in results] == list(range(6))
        assert len({r.resources["node"] for r in results}) >= 2  # spread, not one node
    finally:
        executor.close()


WORKING_DIR_DRIVER = """
import shutil, sys
import ray
from evaluators.ray_executor import RayExecutor
from evaluators.task import load_task
ray.init(address=sys.argv[1], runtime_env={"working_dir": "."}, log_to_driver=False)
task = load_task("mine")
shutil.move("mine", "../hidden")  # now the nodes can only find it in the shipped copy
print(task.evaluate(task.seed_code, RayExecutor(slots=1))[-1].status)
"""


def test_a_task_folder_shipped_as_working_dir_runs_on_the_nodes(cluster, tmp_path):
    """A driver whose task folder the nodes cannot see at its path, and which ships it with
    `runtime_env={"working_dir": "."}` (a second Ray job, here a subprocess): the nodes find
    it in their copy of that directory, at the same place relative to it."""
    work = tmp_path / "work"
    shutil.copytree(load_task("function_minimisation").root, work / "mine")
    toml = work / "mine" / "task.toml"  # another name: no node may fall back to the shipped one
    toml.write_text(toml.read_text().replace('"function_minimisation"', '"mine"', 1))
    result = subprocess.run([sys.executable, "-c", WORKING_DIR_DRIVER, cluster.address],
                            cwd=work, capture_output=True, text=True, timeout=120)
    assert result.stdout.split()[-1:] == ["ok"], result.stderr[-3000:]
    assert not (work / "mine").exists()


def test_a_campaign_survives_a_killed_node_and_uses_a_new_one(cluster, tmp_path):
    """Three slots on three nodes, three evaluations in flight. When a worker node has a case
    in flight it is killed, and a new node joins: the lost case runs again on a live slot, the
    lost slot comes back on the new node, and the archive holds every program's evaluation
    once."""
    task = sleepy_task(tmp_path / "task")
    script = tmp_path / "script.jsonl"
    script.write_text("".join(json.dumps({"text": f"```python\n{program(v)}```"}) + "\n"
                      for v in range(1, 60)))
    victim = cluster.list_all_nodes()[1]
    outcome = []

    def campaign() -> None:
        outcome.append(discover(
            tmp_path / "runs", "run", str(task), "--name", "c", "--iterations", "40",
            "--progress", "quiet", "--set", f'models=[{{name="scripted:{script}"}}]',
            "--set", 'executor="ray"', "--set", "parallel.evaluations=3",
            "--set", "parallel.proposals=3", "--set", "edits.tune_share=0",
            "--set", "edits.restart_share=0", "--set", "edits.novelty_threshold=1"))

    running = threading.Thread(target=campaign)  # nodes start from the main thread only
    running.start()
    try:
        mark = task.with_suffix(".marks") / victim.node_id
        deadline = time.monotonic() + 60
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(SLEEP_S / 4)  # the case is in the candidate's sleep now
        cluster.remove_node(victim)
        joined = cluster.add_node(num_cpus=1).node_id
    finally:
        running.join()
    (result,) = outcome
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "runs" / "c" / "archive.sqlite") as db:
        per_program = db.execute("SELECT p.status, count(e.id) FROM programs p LEFT JOIN "
                                 "evaluations e ON e.program_id = p.id GROUP BY p.id").fetchall()
        resources = [json.loads(r) for (r,) in db.execute("SELECT resources FROM evaluations")]
    assert len(per_program) > 9 and set(per_program) == {("ok", 1)}, per_program
    nodes = {r["node"] for r in resources if r}  # {}: an island's copy of the seed, not run
    survivors = {n.node_id for n in cluster.list_all_nodes()} - {joined}
    assert survivors <= nodes, "every node that lived ran evaluations"
    assert joined in nodes, "the node added mid-campaign got work"
    assert any(r.get("lost_attempts") == 1 for r in resources), "the lost case ran again"
