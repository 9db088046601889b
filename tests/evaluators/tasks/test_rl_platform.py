"""RL anchors travel only where they hold (issue 28): they are keyed by the trainer's code, the
torch version and the training device's capability; a platform without its own is refused in
one line naming the command that measures them; the scorer trains on the evaluation slot's
device. Fingerprints are faked here: this machine has one CPU kind and no GPU."""

import sys
from types import SimpleNamespace

import pytest
import torch

from evaluators.devices import Gpu, using
from evaluators.task import TASKS_DIR, Case, TaskError, load_task

sys.path.insert(0, str(TASKS_DIR / "rl" / "_shared"))
from drift_graph import trace
from ppo import ppo_clip

HURDLE_RUN, HURDLE_SEEDS = {"env": "cartpole", "steps": 25_000}, [0, 1, 2, 3]


@pytest.fixture
def task():
    return load_task("ppo_objective")


@pytest.fixture
def scorer(task):
    return task.scorer


def test_every_stage_has_anchors_for_this_code_on_this_platform():
    load_task("ppo_objective").prepare()


def test_anchors_of_another_platform_are_refused_in_one_line(task, scorer, monkeypatch):
    here = scorer.platform("cpu")
    assert here["torch"] == torch.__version__
    assert here["device"] == f"cpu {torch.backends.cpu.get_cpu_capability()}"
    assert scorer.stored_anchor(HURDLE_RUN, HURDLE_SEEDS)["ppo"]
    monkeypatch.setattr(scorer, "platform", lambda device: {"torch": "9.9.9",
                                                            "device": "cpu AVX2"})
    with pytest.raises(ValueError) as raised:
        scorer.stored_anchor(HURDLE_RUN, HURDLE_SEEDS)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    assert "with torch 9.9.9 on cpu AVX2" in message
    assert f"stored: measured with torch {here['torch']} on {here['device']}" in message
    assert message.endswith("run `python bench/rl_reference_bench.py --anchors` on this "
                            "machine to measure them")
    with pytest.raises(TaskError) as refused:  # before a campaign starts
        task.prepare()
    assert len(str(refused.value).splitlines()) == 1 and "cpu AVX2" in str(refused.value)


def fake_gpu(monkeypatch) -> None:
    """torch describes an H100 at any CUDA index (this machine's torch has no CUDA)."""
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device: SimpleNamespace(name="NVIDIA H100 80GB HBM3", major=9,
                                                       minor=0))


def test_a_gpu_platform_is_named_by_device_and_capability(scorer, monkeypatch):
    fake_gpu(monkeypatch)
    assert scorer.platform("cuda:1") == {"torch": torch.__version__,
                                         "device": "cuda NVIDIA H100 80GB HBM3 sm_90"}
    with pytest.raises(ValueError, match=r"on cuda NVIDIA H100 80GB HBM3 sm_90 \(stored: .*"
                                         r"run `python bench/rl_reference_bench.py --anchors "
                                         r"--device cuda:1` on this machine"):
        scorer.stored_anchor(HURDLE_RUN, HURDLE_SEEDS, "cuda:1")


def test_the_scorer_trains_on_the_slots_device(task, scorer, monkeypatch):
    """In a slot with GPUs the trusted trainer gets the slot's first GPU; outside one, the
    CPU (never a GPU another slot owns)."""
    fake_gpu(monkeypatch)
    seen = []

    def train(env, drift, seeds, steps, config, device):
        seen.append(device)
        raise RuntimeError("stop here")
    monkeypatch.setattr(scorer, "train", train)
    monkeypatch.setattr(scorer, "_REUSED", {})
    case = Case("suite", {}, {"seeds": HURDLE_SEEDS, "runs": [HURDLE_RUN]})
    outputs = trace(ppo_clip)
    for gpus in ((Gpu(2, "/dev/nvidia2"), Gpu(3, "/dev/nvidia3")), ()):
        with using(gpus), pytest.raises(TaskError, match="stop here"):
            task._call_scorer("score", task.config.stages[0], case, outputs, None)
    assert seen == ["cuda:2", "cpu"]
