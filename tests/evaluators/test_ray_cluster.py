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

SLEEP_S = 0.3
"""What one case of the test task takes (the candidate sleeps): cases overlap, and a campaign
takes seconds. No test depends on it being long enough for anything: the node to kill is
held by the task's trusted side (see sleepy_task)."""
WAIT_S = 300
"""How long the test waits for a case to reach a node: only a broken executor takes it."""
HOLD_S = 60
"""How long the task's trusted side holds one case while `hold` exists (see sleepy_task): long
for a slot to start on a new node, bounded so that the campaign goes on even if the held
case is the only one it has in flight."""


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as nodes:
        for _ in range(2):
            nodes.add_node(num_cpus=1)
        ray.init(address=nodes.address, log_to_driver=False)
        nodes.wait_for_nodes()
        yield nodes


def sleepy_task(root: Path) -> Path:
    """A task whose case sleeps SLEEP_S and returns the program's constant. Its trusted side,
    as a case starts on a node, touches `<root>.marks/<node id>` and adds that id to
    `marks/log` (outside the folder: its files are the task's version), so the test knows a
    case reached the node; then it holds the case for good on the node named in `marks/victim`
    (it is in flight there until the node dies), and, while `marks/hold` exists, up to HOLD_S
    on every node but the one named in `marks/joined` (so that node gets a case while the
    campaign still has some)."""
    marks = root.with_suffix(".marks")
    marks.mkdir(parents=True)
    root.mkdir()
    (root / "task.toml").write_text(
        'name = "sleepy"\nsummary = "Return a large number."\nentry = "f"\n'
        '[[stages]]\nname = "only"\ncases = [{ name = "c" }]\n')
    (root / "seed.py").write_text(program(0))
    (root / "description.md").write_text("Return a large number.\n")
    (root / "scorer.py").write_text(
        "import time\nfrom pathlib import Path\n\nimport ray\n\n"
        "from evaluators.scoring import Metrics, finite_number\n\n"
        f"MARKS = Path({str(marks)!r})\n\n\n"
        "def named(name):\n"
        "    return (MARKS / name).read_text() if (MARKS / name).exists() else None\n\n\n"
        "def inputs(stage, case):\n"
        "    node = ray.get_runtime_context().get_node_id()\n"
        "    (MARKS / node).touch()\n"
        "    with open(MARKS / 'log', 'a') as log:\n"
        "        log.write(node + '\\n')\n"
        "    while node == named('victim'):\n"
        "        time.sleep(0.02)\n"
        f"    held = time.monotonic() + {HOLD_S}\n"
        "    while (MARKS / 'hold').exists() and node != named('joined') and "
        "time.monotonic() < held:\n"
        "        time.sleep(0.02)\n"
        "    return case.inputs\n\n\n"
        "def score(stage, case, outputs, oracle):\n"
        "    return Metrics(finite_number(outputs, 'f()'), {'value': outputs})\n")
    return root


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert time.monotonic() < deadline, f"no case reached {path.name} in {WAIT_S} s"
        time.sleep(0.02)


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
                            cwd=work, capture_output=True, text=True, timeout=WAIT_S)
    assert result.stdout.split()[-1:] == ["ok"], result.stderr[-3000:]
    assert not (work / "mine").exists()


def test_a_campaign_survives_a_killed_node_and_uses_a_new_one(cluster, tmp_path):
    """Three slots on three nodes, three evaluations in flight. When a worker node has a case
    in flight (held there by the task's trusted side) a new node joins and the first is
    killed: the lost case runs again on a live slot, the lost slot comes back on the new node,
    and the archive holds every program's evaluation once. The other nodes hold their cases a
    while until the new node has one, so the campaign does not end before the new slot is up
    on a slow machine."""
    task = sleepy_task(tmp_path / "task")
    script = tmp_path / "script.jsonl"
    script.write_text("".join(json.dumps({"text": f"```python\n{program(v)}```"}) + "\n"
                      for v in range(1, 60)))
    victim = cluster.list_all_nodes()[1]
    marks = task.with_suffix(".marks")
    (marks / "victim").write_text(victim.node_id)
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
        wait_for(marks / victim.node_id)  # its case is in flight, held there for good
        joined = cluster.add_node(num_cpus=1).node_id  # no slot there yet: all are placed
        (marks / "joined").write_text(joined)
        started = (marks / "log").read_text().count("\n")
        cluster.remove_node(victim)
        # once the lost case has started again (the only one in flight, if it was the seed),
        # the other nodes' cases wait a while for the new node's first
        while (marks / "log").read_text().count("\n") == started:
            time.sleep(0.02)
        (marks / "hold").touch()
        wait_for(marks / joined)
    finally:  # let every held case go, whatever happened
        for name in ("victim", "hold"):
            (marks / name).unlink(missing_ok=True)
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
