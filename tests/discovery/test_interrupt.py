"""Ctrl-C on a real campaign process while a slow model call is in flight: the first is
answered at once with what the campaign waits for, the second stops it now, recorded as
interrupted; `resume` then completes the iterations, nothing lost or duplicated. The model is
the mock OpenAI server, whose `slow:` step holds the call."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import SCRIPT, SCRIPTED, discover

from archive import ArchiveReader
from discovery.doubles.mock_server import MockServer
from discovery.loop.campaign import STOPPED, Campaign
from discovery.loop.liveness import run_state

GOOD = json.loads(SCRIPT.read_text().splitlines()[1])["text"]
SETTINGS = ["--set", "edits.tune_share=0", "--set", "edits.restart_share=0", "--set",
            "executor='fresh'", "--set", "selection.islands=1", "--set",
            "edits.scratchpad_every=0", "--set", "edits.repair_turns=0"]


def lines_of(stream) -> queue.Queue:
    """The stream's lines as they come, read by a thread (so the test can wait with a limit)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def next_line(lines: queue.Queue, prefix: str, limit_s: float) -> str:
    """The next line that starts with `prefix` (warnings may come first)."""
    deadline = time.monotonic() + limit_s
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line.startswith(prefix):
            return line.rstrip()


def wait_for(condition, limit_s: float, what: str):
    """Poll `condition` until it holds (its value) or `limit_s` passes (a failure: `what`)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {limit_s} s")


def test_one_ctrl_c_finishes_what_is_in_flight_then_stops(tmp_path, monkeypatch):
    """The real handler, in-process: SIGINT to this process while iteration 2 commits, with
    two proposals and two evaluations in flight at a time."""
    commit = Campaign._commit

    def commit_then_ctrl_c(self, outcome, ahead):
        commit(self, outcome, ahead)
        if len(self.done) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Campaign, "_commit", commit_then_ctrl_c)
    result = discover(tmp_path, "run", "circle_packing", "--name", "s", "--iterations", "12",
                      "--progress", "quiet", "--set", "parallel.proposals=2", "--set",
                      "parallel.evaluations=2", *SCRIPTED)
    assert result.exit_code == 0, result.output
    (ack,) = result.stderr.splitlines()
    assert ack.startswith("stopping: ")
    assert ack == "stopping: nothing in flight" or ack.endswith(
        "; press Ctrl-C again to stop now"), ack
    state = run_state(tmp_path / "s")
    assert (state.state, state.reason) == ("stopped", STOPPED)
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        done = sorted(d["n"] for _, _, d in reader.events("iteration", 100))
        (_, _, stopped), = reader.events("campaign_stopped")
    assert 2 <= len(done) < 12 and stopped["held_out"] is None
    monkeypatch.setattr(Campaign, "_commit", commit)
    assert discover(tmp_path, "resume", "s", "--progress", "quiet").exit_code == 0
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        assert sorted(d["n"] for _, _, d in reader.events("iteration", 100)) == list(range(12))


@pytest.mark.slow  # a campaign process of its own, with litellm: ~30 s on a loaded machine
def test_ctrl_c_twice_during_a_slow_model_call(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-good")
    run_dir = tmp_path / "c"
    # The first proposal's call (iteration 1, after the seed) hangs for 10 minutes.
    with MockServer(script=["slow:600"], reply=lambda messages: GOOD) as server:
        model = (f'models=[{{name="openai/mock-model", api_base="{server.base_url}", '
                 'api_key_env="MOCK_KEY", timeout_s=900, edit_mix={rewrite=1.0}}]')
        child = subprocess.Popen(
            [sys.executable, "-m", "discovery", "--runs-dir", str(tmp_path), "run",
             "circle_packing", "--name", "c", "--iterations", "4", "--progress", "lines",
             "--no-preflight", "--set", model, *SETTINGS],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd())
        try:
            errors = lines_of(child.stderr)
            waiting = "model call for iteration 1 (openai/mock-model)"
            wait_for(lambda: server.requests, 300, "model call")  # sent, and held
            state = run_state(run_dir)
            assert state.state == "running" and any(waiting in w for w in state.in_flight), \
                state
            child.send_signal(signal.SIGINT)
            ack = next_line(errors, "stopping", 60)
            assert ack.startswith(f"stopping: waiting for {waiting} (since "), ack
            assert ack.endswith("; press Ctrl-C again to stop now"), ack
            assert child.poll() is None  # the first Ctrl-C waits for the call
            child.send_signal(signal.SIGINT)
            now = next_line(errors, "stopping", 60)
            assert now.startswith(f"stopping now: {waiting}"), now
            assert "will be redone by `discover resume" in now
            assert child.wait(timeout=120) == 130  # not the 600 s the call would take
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        state = run_state(run_dir)
        assert state.state == "interrupted" and "stopped at once" in state.reason, state
        with ArchiveReader(run_dir / "archive.sqlite") as reader:
            assert sorted(d["n"] for _, _, d in reader.events("iteration", 100)) == [0]

        result = discover(tmp_path, "resume", "c", "--progress", "quiet", "--no-preflight")
        assert result.exit_code == 0, result.output
    assert run_state(run_dir).state == "finished"
    with ArchiveReader(run_dir / "archive.sqlite") as reader:
        iterations = reader.events("iteration", 100)
        assert sorted(d["n"] for _, _, d in iterations) == [0, 1, 2, 3]  # 1 redone, once
        assert len({d["program"] for _, _, d in iterations} - {None}) == reader.count()
