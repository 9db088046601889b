"""Is a campaign running: the lock and heartbeat of a run directory, read by another process."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from helpers import discover

from archive import ArchiveError, ArchiveWriter
from discovery.loop import liveness
from discovery.loop.liveness import Liveness, run_state, stop_state

HOLD = """
import sys, time
from pathlib import Path
from discovery.loop.liveness import Liveness
held = Liveness(Path(sys.argv[1]))
with held.doing("model call for iteration 7", 600):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "r"
    writer = ArchiveWriter.create(path / "archive.sqlite", name="r", task="toy", config={},
                                  seed=0, evaluator_version="v1")
    writer.log_event("campaign_started", {})
    writer.close()
    return path


def test_a_holder_is_running_with_its_work_then_dead_after_kill_minus_nine(run_dir):
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        state = run_state(run_dir)
        assert state.state == "running" and state.alive
        assert f"pid {child.pid}" in state.reason
        assert len(state.in_flight) == 1
        assert state.in_flight[0].startswith("model call for iteration 7 (since ")
        shown = discover(run_dir.parent, "status", str(run_dir)).output
        assert re.search(r"state\s+running", shown), shown
        with pytest.raises(ArchiveError, match=rf"in use: campaign process {child.pid} on "):
            Liveness(run_dir)  # one campaign per run directory
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    state = run_state(run_dir)  # the kernel dropped the lock; no stop was recorded
    assert state.state == "dead" and not state.alive and "killed" in state.reason
    shown = discover(run_dir.parent, "status", str(run_dir))  # `status` says so too
    assert shown.exit_code == 0 and re.search(r"state\s+dead", shown.output), shown.output
    assert state.since == json.loads((run_dir / liveness.HEARTBEAT_FILE).read_text())["beat"]


def test_a_silent_heartbeat_or_overdue_work_is_stalled(run_dir):
    held = Liveness(run_dir)
    try:
        with held.doing("evaluation for iteration 3", limit_s=30):
            assert run_state(run_dir).state == "running"
            state = run_state(run_dir, now=time.time() + 45)  # past the work's limit
            assert state.state == "stalled" and state.alive
            assert state.reason.startswith("evaluation for iteration 3 running for 4")
            assert "past its 30 s limit" in state.reason
            held._stop.set()  # the beating thread stops; the file keeps its last beat
            held._thread.join()
            silent = run_state(run_dir, now=time.time() + liveness.STALE_S + 5)
            assert silent.state == "stalled" and "no heartbeat for 1 min" in silent.reason
    finally:
        held._stop.clear()
        held.close()
    assert not run_state(run_dir).alive


def test_a_recorded_stop_says_how_the_campaign_ended(run_dir):
    writer = ArchiveWriter(run_dir / "archive.sqlite")
    writer.log_event("campaign_stopped", {"reason": "budget: iterations"})
    writer.close()
    state = run_state(run_dir)
    assert (state.state, state.reason) == ("finished", "budget: iterations")
    writer = ArchiveWriter(run_dir / "archive.sqlite")
    writer.log_event("campaign_resumed", {"done": 4})
    writer.close()
    assert run_state(run_dir).state == "dead"  # resumed, then gone without a word
    writer = ArchiveWriter(run_dir / "archive.sqlite")
    writer.log_event("campaign_stopped", {"reason": "model x refused the key",
                                          "state": "failed"})
    writer.close()
    assert run_state(run_dir).state == "failed"


@pytest.mark.parametrize(("reason", "state"), [
    ("budget: iterations", "finished"), ("target score 2.6 reached", "finished"),
    ("no improvement in 5 iterations", "finished"), ("budget: wall time", "stopped"),
    ("budget: tokens", "stopped"), ("interrupted (Ctrl-C): finished iterations are committed",
                                    "interrupted"),
    ("crashed: RuntimeError: bug", "failed"), ("budget: programs", "finished")])
def test_old_stop_reasons_map_to_states(reason, state):
    assert stop_state(reason) == state


def test_the_lock_is_not_inherited_by_children(run_dir):
    held = Liveness(run_dir)
    sleeper = subprocess.Popen(["sleep", "60"])  # a sandboxed evaluation, say
    try:
        held.close()
        assert not run_state(run_dir).alive, "a child kept the campaign's lock"
    finally:
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait()
