"""The games tasks' shared memory (wire.py): through the sandbox and warm workers the arrays
travel in a sealed memfd the oracle made, with the same metrics as over the channel; a
candidate that writes into the region after answering, sends a wrong or garbage control
message, or truncates or closes the memfd is the program's failure or changes nothing, never
a TaskError or a halted evaluation."""

import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("pyspiel")

from helpers import assert_same_score_or_refused

from evaluators.sandbox import Limits, Sandbox
from evaluators.task import TASKS_DIR, load_task, task_folders
from evaluators.workers import WorkerPool

TASK = task_folders()["cfr"]
sys.path[:0] = [str(TASK), str(task_folders()["psro"]), str(TASKS_DIR / "games" / "_shared")]
import cfr_kernels  # noqa: E402
import psro_loop  # noqa: E402
from cfr_games import flatten  # noqa: E402
from cfr_loop import run  # noqa: E402
from cfr_oracle import CFR  # noqa: E402
from psro_oracle import PSRO  # noqa: E402
from wire import pack  # noqa: E402

GAME, CHECKPOINTS = "leduc_poker", [5, 40]


def seed_step():
    namespace: dict = {}
    exec(compile(load_task("cfr").seed_code, "seed.py", "exec"), namespace)
    return namespace["step"]


def over_the_channel() -> CFR:
    """The run as the channel carries it (JSON and packed arrays), in this process."""
    cfr = CFR(flatten(GAME).game, CHECKPOINTS)
    run(seed_step(), lambda *args: json.loads(json.dumps(cfr(json.loads(json.dumps(args))))))
    assert not cfr.sharing
    return cfr


@pytest.mark.parametrize("executor", ["sandbox", "warm"])
def test_the_shared_memory_gives_the_channels_exploitabilities(executor):
    """The seed through the sandbox (or a warm worker), its arrays in the shared region: the
    very exploitabilities of the run over the channel, bit for bit."""
    task = load_task("cfr")
    cfr = CFR(flatten(GAME).game, CHECKPOINTS)
    runner = Sandbox() if executor == "sandbox" else WorkerPool(1)
    try:
        result = runner.run(task.seed_code, "solve", {}, Limits(), oracle=cfr, oracle_arg="cfr",
                            files=task.support_files)
    finally:
        if executor == "warm":
            runner.close()
    assert result.status == "ok", result
    assert cfr.sharing and cfr.done
    assert cfr.exploitability == over_the_channel().exploitability


def test_psros_payoffs_through_the_shared_memory_are_the_channels():
    """PSRO's new payoff entries written into the shared region: the very exploitabilities of
    the run over the channel (the seed solver, Leduc, 6 iterations)."""
    task = load_task("psro")
    namespace: dict = {}
    exec(compile(task.seed_code, "seed.py", "exec"), namespace)
    channel = PSRO(flatten(GAME).game, 6, tie_seed=1)
    psro_loop.run(namespace["meta_solver"], lambda *args: json.loads(json.dumps(
        channel(json.loads(json.dumps(args))))), namespace.get("eval_solver"))
    shared = PSRO(flatten(GAME).game, 6, tie_seed=1)
    result = Sandbox().run(task.seed_code, "solve", {}, Limits(), oracle=shared,
                           oracle_arg="psro", files=task.support_files)
    assert result.status == "ok", result
    assert shared.sharing and not channel.sharing
    assert shared.exploitability == channel.exploitability and len(shared.exploitability) == 6


def test_the_oracle_uses_the_copy_it_checked(monkeypatch):
    """What the oracle checks is its own copy of the region: a write into the region between
    the check and the update (a candidate racing it) reaches nothing the oracle keeps."""
    cfr = CFR(flatten(GAME).game, CHECKPOINTS)
    reply = cfr(["start", "shared"])
    mask = cfr.masks[0]
    uniform = (mask / mask.sum(axis=1, keepdims=True))[mask]
    cfr.shared.write(reply["shared"]["policy"], uniform)
    cfr.shared.write(reply["shared"]["weight"], np.ones(1))
    checked = cfr_kernels.update

    def racing(*args):
        cfr.shared.array[:] = np.nan  # the candidate writes while the oracle works
        return checked(*args)

    monkeypatch.setattr(cfr_kernels, "update", racing)
    cfr(["shared", 1])
    assert np.isnan(cfr.shared.array[cfr.legal:]).all()  # the race ran (the regrets are new)
    assert cfr.turn == 1 and np.isfinite(cfr.policy).all() and np.isfinite(cfr.numerator).all()


@pytest.mark.parametrize("request_", [["shared", 10**9], ["shared", -1], ["shared", "1"],
                                      ["shared", True], ["shared", 1.0], ["shared"],
                                      ["shared", 1, 2], {"shared": 1}, "shared",
                                      [pack(np.ones(3)), pack(np.ones(1))]])
def test_a_garbage_control_message_is_refused_and_changes_nothing(request_):
    cfr = CFR(flatten(GAME).game, CHECKPOINTS)
    cfr(["start", "shared"])
    before = cfr.policy.copy(), cfr.numerator.copy()
    with pytest.raises(TypeError, match="shared"):
        cfr(request_)
    assert cfr.turn == 0 and cfr.failure is None
    assert np.array_equal(cfr.policy, before[0]) and np.array_equal(cfr.numerator, before[1])


WRAPPED = """
_honest_run = run


def run(rule, cfr):
    def wrapped(*args):
{body}
    wrapped.fds = cfr.fds
    return _honest_run(rule, wrapped)
"""

HOSTILE = {
    # writes NaN over the policy and weights it sent, once the oracle has answered
    "writes after answering": (WRAPPED.format(body="""
        import numpy, mmap, os
        if not hasattr(run, "region"):
            run.region = numpy.frombuffer(mmap.mmap(cfr.fds[0], os.fstat(cfr.fds[0]).st_size))
        reply = cfr(*args)
        if "shared" in reply:
            run.region[reply["shared"]["policy"]:] = numpy.nan
        return reply"""), None),
    # every wrong form and size of control message once, each refusal caught
    "probes the control message": (WRAPPED.format(body="""
        if args[:1] == ("shared",) and not hasattr(run, "probed"):
            run.probed = True
            for bad in ([10**9], [-1], ["x"], [True], [1.5], [0], [2], [], [1, 2]):
                try:
                    cfr("shared", *bad)
                except RuntimeError:
                    continue
                raise AssertionError(f"accepted {bad}")
        return cfr(*args)"""), None),
    "sends a wrong size": (WRAPPED.format(body="""
        return cfr(*args) if args[:1] != ("shared",) else cfr("shared", 10**9)"""),
                           "how many weights were written"),
    "sends the wrong count of weights": (WRAPPED.format(body="""
        return cfr(*args) if args[:1] != ("shared",) else cfr("shared", 2)"""),
                                         "one per information set"),
    # the memfd is sealed: it cannot shrink (our mapping would fault) or grow
    "truncates the memory": ("""
import os

_honest_run = run


def run(rule, cfr):
    for size in (0, 8, os.fstat(cfr.fds[0]).st_size + 8):
        try:
            os.ftruncate(cfr.fds[0], size)
        except PermissionError:
            continue
        raise AssertionError(f"resized to {size}")
    return _honest_run(rule, cfr)
""", None),
    "truncates the memory and fails": ("""
import os

_honest_run = run


def run(rule, cfr):
    os.ftruncate(cfr.fds[0], 0)
""", "PermissionError"),
    "closes the memory": ("""
import os

_honest_run = run


def run(rule, cfr):
    os.close(cfr.fds[0])
    return _honest_run(rule, cfr)
""", "Bad file descriptor"),
}


@pytest.mark.parametrize("attack", HOSTILE)
def test_a_hostile_candidate_cannot_use_the_shared_memory_against_the_oracle(attack):
    """The seed plus code that abuses the shared region: the honest seed's metrics, or the
    program's failure with the reason; the evaluator itself never fails (no TaskError, no
    fault in this process)."""
    assert_same_score_or_refused("cfr", *HOSTILE[attack])


def test_the_trusted_side_keeps_no_descriptor_after_the_oracle_is_gone():
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        assert CFR(flatten(GAME).game, CHECKPOINTS).fds
    assert len(os.listdir("/proc/self/fd")) == before
