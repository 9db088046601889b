"""Both ends of the harness channel poll for the other's next message for a short window
before they block (evaluators.harness.poll_read): what that costs is bounded by the window, per
answer, whatever the candidate does. Counted with a stand-in clock that advances per poll, never
with seconds of CPU: the machine's load cannot change the counts."""

import os
import types

import pytest

from evaluators import harness, sandbox
from evaluators.sandbox import Limits
from tests.evaluators.test_sandbox_hostile import bwrap  # noqa: F401 (the fresh/warm fixture)

ROOMY = Limits(wall_s=120, cpu_s=120)


class StepClock:
    """A perf_counter that advances by `step` at each reading: a poll loop's readings count
    its polls."""

    def __init__(self, step: float):
        self.now, self.step, self.readings = 0.0, step, 0

    def perf_counter(self) -> float:
        self.readings += 1
        self.now += self.step
        return self.now


@pytest.fixture
def pipe():
    read, write = os.pipe()
    os.set_blocking(read, False)
    yield read, write
    os.close(read)
    os.close(write)


def test_poll_read_gives_up_after_its_window(pipe, monkeypatch):
    clock = StepClock(step=1.0)
    monkeypatch.setattr(harness, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    assert harness.poll_read(pipe[0], 10.0) is None
    assert clock.readings == 11  # the window's start, then one reading per empty poll
    clock.readings = 0
    assert harness.poll_read(pipe[0], 0.0) is None and clock.readings == 2  # one read: off


def test_poll_read_returns_what_is_there_and_the_end(pipe):
    os.write(pipe[1], b"one\ntwo\n")
    assert harness.poll_read(pipe[0], 0.0) == b"one\ntwo\n"
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.close(write)
    assert harness.poll_read(read, 1.0) == b""
    os.close(read)


def test_the_harness_takes_replies_that_arrive_together_or_in_pieces(pipe, monkeypatch):
    """Two replies in one read, then one split across reads: each comes out whole, in order."""
    monkeypatch.setattr(harness, "_replies", pipe[0])
    monkeypatch.setattr(harness, "_pending", bytearray())
    monkeypatch.setattr(harness, "_poller", harness.Poller(0.0))
    os.write(pipe[1], b'{"id": "a", "value": 1}\n{"id": "b", "value": 2}\n{"id": "c", ')
    assert harness._next_line() == '{"id": "a", "value": 1}'
    assert harness._next_line() == '{"id": "b", "value": 2}'
    os.write(pipe[1], b'"value": 3}\n')
    assert harness._next_line() == '{"id": "c", "value": 3}'
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.close(write)
    monkeypatch.setattr(harness, "_replies", read)
    assert harness._next_line() is None  # the evaluator closed the channel
    os.close(read)


CALLER = """
import time

def main(ask, calls, pause_s):
    answers = []
    for step in range(calls):
        time.sleep(pause_s)
        answers.append(ask(step))
    time.sleep(pause_s)
    return answers
"""


class Counted:
    """Wraps harness.poll_read: how often a polling window began (reads without one are not
    windows)."""

    def __init__(self):
        self.windows = 0
        self.poll_read = harness.poll_read

    def __call__(self, fd: int, window_s: float) -> bytes | None:
        self.windows += window_s > 0
        return self.poll_read(fd, window_s)


def test_a_poller_backs_off_while_its_windows_end_empty(pipe, monkeypatch):
    """Empty windows: the next 1, 2, 4 ... (at most MAX_SKIP) reads do not poll; a window that
    catches a message halves the back-off."""
    counted = Counted()
    monkeypatch.setattr(harness, "poll_read", counted)
    clock = StepClock(step=1.0)
    monkeypatch.setattr(harness, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    poller = harness.Poller(window_s=3.0)
    began = []
    for _ in range(1 + 1 + 1 + 2 + 1 + 4 + 1):
        before = counted.windows
        assert poller.read(pipe[0]) is None
        began.append(counted.windows - before)
    assert began == [1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1]
    for _ in range(200):
        poller.read(pipe[0])
    assert poller.skip <= harness.Poller.MAX_SKIP and poller.backoff == harness.Poller.MAX_SKIP
    poller.skip = 0
    os.write(pipe[1], b"x")
    assert poller.read(pipe[0]) == b"x" and poller.backoff == harness.Poller.MAX_SKIP // 2
    before = counted.windows
    assert harness.Poller(0.0).read(pipe[0]) is None and counted.windows == before  # off


@pytest.mark.parametrize("calls", [0, 3])
def test_our_side_polls_one_window_per_answer_and_no_more(bwrap, calls,  # noqa: F811
                                                          monkeypatch):
    """A candidate that calls now and then (pausing far longer than a window) or never: our
    side polls at most one window after each answer (after the first, which ends empty, the
    poller backs off), of a bounded number of polls, and never while the candidate only
    computes."""
    counted = Counted()
    monkeypatch.setattr(harness, "poll_read", counted)
    clock = StepClock(step=sandbox.CALL_POLL_S / 4)
    monkeypatch.setattr(harness, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    run = bwrap.run(CALLER, "main", {"calls": calls, "pause_s": 0.05}, ROOMY,
                    oracle=lambda request: request[0] * 2, oracle_arg="ask")
    assert run.status == "ok", run.reason
    assert run.outputs == [2 * step for step in range(calls)]
    assert counted.windows == min(calls, 2)  # a window, none (backing off), a window
    assert clock.readings <= calls * (4 + 2)  # each window: its start and at most 5 polls


def test_polling_off_still_answers_every_call(bwrap, monkeypatch):  # noqa: F811
    """Windows of 0 on both sides (the bench's baseline): every call blocks at once, and is
    answered all the same, with several candidate threads waiting on the oracle together."""
    monkeypatch.setattr(sandbox, "CALL_POLL_S", 0.0)
    monkeypatch.setattr(sandbox, "REPLY_POLL_S", 0.0)
    code = """
from concurrent.futures import ThreadPoolExecutor

def main(ask):
    with ThreadPoolExecutor(4) as threads:
        return list(threads.map(ask, range(200)))
"""
    run = bwrap.run(code, "main", {}, ROOMY, oracle=lambda request: request[0] + 1,
                    oracle_arg="ask")
    assert run.status == "ok", run.reason
    assert run.outputs == list(range(1, 201))
