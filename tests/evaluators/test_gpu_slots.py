"""GPU evaluation slots (issue 28), checked on a machine without GPUs against fake device
lists: what each slot gets, that no two slots holding a case at once share a device, that a
slot without GPUs sees none, the bubblewrap argv binding exactly the slot's nodes, the trusted
scorer computing on the slot that ran the candidate, and one clear line when a campaign asks
for more GPUs than exist.

Real sandboxes run here with ordinary character devices standing in for /dev/nvidia<N>
(their nodes are what bubblewrap binds; nothing opens them)."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evaluators import devices, workers
from evaluators.devices import ENV, DeviceError, Gpu, discover, split, torch_device, using
from evaluators.executors import open_executor
from evaluators.sandbox import _wrap, available_level
from evaluators.task import TaskError, load_task
from evaluators.workers import WorkerPool

bwrap_only = pytest.mark.skipif(available_level() != "bwrap", reason="needs bubblewrap")

STAND_INS = [Gpu(0, "/dev/fuse", "GPU-aaaa"), Gpu(1, "/dev/loop-control", "GPU-bbbb"),
             Gpu(2, "/dev/loop0", "GPU-cccc"), Gpu(3, "/dev/loop1", "GPU-dddd")]
"""Four "GPUs": character and block devices this machine has and bubblewrap's /dev lacks."""

SEES = '''
import os

def devices():
    nodes = sorted("/dev/" + name for name in os.listdir("/dev")
                   if name.startswith(("fuse", "loop")))
    return {"nodes": nodes, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}
'''
"""A program that reports the device nodes of the stand-ins it can see, and what CUDA would."""


def test_discovery_reads_the_list_a_user_gives(monkeypatch):
    monkeypatch.setenv(ENV, "0, 2")
    assert discover() == [Gpu(0, "/dev/nvidia0"), Gpu(2, "/dev/nvidia2")]
    monkeypatch.setenv(ENV, "")
    assert discover() == []
    monkeypatch.setenv(ENV, "all")
    with pytest.raises(DeviceError) as raised:
        discover()
    assert len(str(raised.value).splitlines()) == 1 and f"{ENV}=0,1" in str(raised.value)


def test_slots_get_disjoint_sets_and_too_few_gpus_is_one_line():
    sets = split(STAND_INS, 2, 2)
    assert sets == [tuple(STAND_INS[:2]), tuple(STAND_INS[2:])]
    assert split(STAND_INS[:1], 3, 0) == [(), (), ()]
    with pytest.raises(DeviceError) as raised:
        split(STAND_INS, 3, 2)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert "need 6 GPUs and this machine has 4" in message and "gpus_per_evaluation" in message


def test_a_campaign_asking_for_more_gpus_than_exist_stops_with_one_line(monkeypatch):
    monkeypatch.setenv(ENV, "0,1")
    for kind in ("warm", "fresh"):
        with pytest.raises(TaskError) as raised, open_executor(kind, size=3, gpus=1):
            pass
        assert len(str(raised.value).splitlines()) == 1
        assert "3 evaluation slot(s) x 1 GPU(s) each need 3 GPUs" in str(raised.value)


def test_the_bwrap_argv_binds_exactly_the_slots_nodes(monkeypatch, tmp_path):
    control = tmp_path / "nvidiactl"
    control.write_text("")
    monkeypatch.setattr(devices, "CONTROL_NODES", (str(control), str(tmp_path / "absent")))
    slot = (Gpu(3, "/dev/nvidia3", "GPU-3"), Gpu(5, "/dev/nvidia5", None))
    argv = _wrap("bwrap", ["python"], 64, gpus=slot)
    binds = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--dev-bind"]
    assert binds == ["/dev/nvidia3", "/dev/nvidia5", str(control)]
    env = {argv[i + 1]: argv[i + 2] for i, arg in enumerate(argv) if arg == "--setenv"}
    assert env["CUDA_VISIBLE_DEVICES"] == "GPU-3,5"
    none = _wrap("bwrap", ["python"], 64)
    assert "--dev-bind" not in none  # not even the control nodes
    assert {none[i + 1]: none[i + 2] for i, a in enumerate(none) if a == "--setenv"}[
        "CUDA_VISIBLE_DEVICES"] == ""
    assert argv.index("--dev") < argv.index("--dev-bind")  # bound into the minimal /dev


@bwrap_only
@pytest.mark.parametrize("warm", [True, False])
def test_each_slot_sees_only_its_own_devices_and_holds_them_for_its_case(warm):
    """Two slots of two stand-in GPUs: every run sees exactly its slot's nodes and
    CUDA_VISIBLE_DEVICES, and no two slots held at the same time share a device."""
    held: set[str] = set()
    lock = threading.Lock()
    clashes: list[str] = []

    def case(_: int) -> tuple[tuple[Gpu, ...], dict]:
        with pool.slot() as slot:
            nodes = {gpu.node for gpu in slot.gpus}
            with lock:
                clashes.extend(nodes & held)
                held.update(nodes)
            run = slot.run(SEES, "devices", {})
            time.sleep(0.05)  # the trusted side's turn, still holding the slot
            with lock:
                held.difference_update(nodes)
            return slot.gpus, run
    with WorkerPool(size=2, gpus_per_slot=2, devices=STAND_INS, warm=warm) as pool, \
            ThreadPoolExecutor(4) as threads:
        seen = list(threads.map(case, range(8)))
    assert not clashes
    for gpus, run in seen:
        assert run.status == "ok", run
        assert run.outputs == {"nodes": sorted(g.node for g in gpus),
                               "cuda": ",".join(g.uuid for g in gpus)}
    assert {gpus for gpus, _ in seen} == {tuple(STAND_INS[:2]), tuple(STAND_INS[2:])}


@bwrap_only
def test_a_slot_without_gpus_sees_none():
    with WorkerPool(size=1) as pool:
        run = pool.run(SEES, "devices", {})
    assert run.status == "ok", run
    assert run.outputs == {"nodes": [], "cuda": ""}


SCORER = '''
from evaluators.devices import slot_gpus
from evaluators.scoring import Metrics


def score(stage, case, outputs, oracle):
    """Records where the trusted side computes: the slot's GPUs while it scores."""
    return Metrics(1.0, {"ran_on": outputs["cuda"],
                         "scored_on": ",".join(g.uuid for g in slot_gpus())})
'''


def gpu_task(root: Path) -> Path:
    """A task asking one GPU per slot, whose scorer reports the GPUs it scores with."""
    (root / "task.toml").write_text(
        'name = "gpu_probe"\nsummary = "Report the devices."\nentry = "devices"\n'
        'gpus = 1\n[[stages]]\nname = "only"\ncases = [{ name = "one" }]\n')
    (root / "seed.py").write_text("# EVOLVE-BLOCK-START\n" + SEES + "# EVOLVE-BLOCK-END\n")
    (root / "scorer.py").write_text(SCORER)
    (root / "description.md").write_text("Report the devices.\n")
    return root


@bwrap_only
def test_the_trusted_scorer_computes_on_the_slot_that_ran_the_candidate(tmp_path, monkeypatch):
    """Task.run_case holds one slot from the run to the score, through the executor a
    campaign opens (the task's `gpus` key, two slots); outside a slot the trusted side
    computes on the CPU."""
    monkeypatch.setattr(workers, "discover", lambda: STAND_INS[:2])
    task = load_task(gpu_task(tmp_path))
    assert task.config.gpus == 1
    with open_executor("warm", size=2, gpus=task.config.gpus) as pool, \
            ThreadPoolExecutor(2) as threads:
        results = list(threads.map(lambda _: task.evaluate(task.seed_code, pool)[-1], range(6)))
    for result in results:
        assert result.status == "ok", result
        assert result.public_metrics["scored_on"] == result.public_metrics["ran_on"]
    assert {r.public_metrics["ran_on"] for r in results} <= {"GPU-aaaa", "GPU-bbbb"}
    assert torch_device() == "cpu"


def test_trusted_code_computes_on_the_slots_first_gpu():
    """torch names the slot's first GPU (matched by uuid where torch lists it; by index on
    this machine, where it lists none); a slot without GPUs computes on the CPU."""
    with using((STAND_INS[2], STAND_INS[3])):
        assert torch_device() == "cuda:2"
        with using(()):
            assert torch_device() == "cpu"
    assert torch_device() == "cpu"


def test_the_campaign_key_overrides_the_tasks_default():
    from discovery.config import Parallel

    assert Parallel().gpus(2) == 2
    assert Parallel(gpus_per_evaluation=0).gpus(2) == 0
    assert Parallel(gpus_per_evaluation=3).gpus(0) == 3
    assert json.loads(Parallel().model_dump_json())["gpus_per_evaluation"] is None


def test_a_campaign_config_reaches_the_executor_and_too_few_gpus_is_one_line(tmp_path,
                                                                            monkeypatch):
    """`discover run` with `[parallel] gpus_per_evaluation` on a machine without GPUs: one
    line naming the shortfall and the fix, exit code 1, no traceback."""
    from helpers import discover as cli

    monkeypatch.setenv(ENV, "")
    result = cli(tmp_path, "run", "circle_packing", "--iterations", "1", "--progress", "quiet",
                 "--set", "parallel.gpus_per_evaluation=1")
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "1 evaluation slot(s) x 1 GPU(s) each need 1 GPUs and this " \
        "machine has 0: lower [parallel] evaluations or gpus_per_evaluation" in lines[0], lines
