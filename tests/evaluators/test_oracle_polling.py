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


class Waits:
    """Stand-ins for harness.poll_read and its clock: a polling read finds the message after
    `poll_s`; a read that does not poll finds nothing, and the message comes `block_s` later."""

    def __init__(self):
        self.now, self.poll_s, self.block_s, self.windows = 0.0, 0.0, 0.0, 0

    def perf_counter(self) -> float:
        return self.now

    def poll_read(self, fd: int, window_s: float) -> bytes | None:
        if not window_s:
            return None
        self.windows += 1
        self.now += self.poll_s
        return b"x"

    def reads(self, poller: "harness.Poller", count: int) -> int:
        """How many of `count` reads polled."""
        before = self.windows
        for _ in range(count):
            if poller.read(-1) is None:
                self.now += self.block_s
                poller.waited()
        return self.windows - before


def test_a_poller_polls_while_polling_waits_less(monkeypatch):
    """Idle cores (polling catches the message in 5 us, waking from a block takes 40): it
    polls, trying a block one read in EXPLORE. All cores busy (polling waits 300 us, a block
    20): within a few reads it blocks, trying a poll one read in EXPLORE."""
    waits = Waits()
    monkeypatch.setattr(harness, "poll_read", waits.poll_read)
    monkeypatch.setattr(harness, "time", types.SimpleNamespace(perf_counter=waits.perf_counter))
    poller = harness.Poller(window_s=0.0003)
    explore = harness.Poller.EXPLORE
    waits.poll_s, waits.block_s = 5e-6, 40e-6
    assert waits.reads(poller, 10 * explore) == 10 * explore - 10
    waits.poll_s, waits.block_s = 300e-6, 20e-6
    assert waits.reads(poller, explore) <= 3  # one slow poll nearly tips it, a few do
    assert waits.reads(poller, 10 * explore) == 10
    waits.poll_s, waits.block_s = 5e-6, 40e-6  # quiet again: back to polling
    waits.reads(poller, 5 * explore)
    assert waits.reads(poller, 10 * explore) == 10 * explore - 10
    before = waits.windows
    assert harness.Poller(0.0).read(-1) is None and waits.windows == before  # 0: never polls


@pytest.mark.parametrize("calls", [0, 3])
def test_our_side_polls_one_window_per_answer_and_no_more(bwrap, calls,  # noqa: F811
                                                          monkeypatch):
    """A candidate that calls now and then (pausing far longer than a window) or never: our
    side polls one window after each answer (blocking is not tried before the EXPLORE-th read),
    of a bounded number of polls, and never while the candidate only computes."""
    counted = Counted()
    monkeypatch.setattr(harness, "poll_read", counted)
    clock = StepClock(step=sandbox.CALL_POLL_S / 4)
    monkeypatch.setattr(harness, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    run = bwrap.run(CALLER, "main", {"calls": calls, "pause_s": 0.05}, ROOMY,
                    oracle=lambda request: request[0] * 2, oracle_arg="ask")
    assert run.status == "ok", run.reason
    assert run.outputs == [2 * step for step in range(calls)]
    assert counted.windows == calls
    # each answer: the read's start, the window's start, 4 polls (5 with rounding), the end
    assert clock.readings <= calls * 8


@pytest.mark.parametrize("window_s", [0.0, sandbox.CALL_POLL_S], ids=["off", "on"])
def test_several_threads_waiting_together_each_get_their_answer(bwrap, window_s,  # noqa: F811
                                                                 monkeypatch):
    """Four candidate threads call at once, with polling on and off (windows of 0 on both
    sides, the bench's baseline: every wait blocks at once): each reply reaches its own call,
    whichever thread read it."""
    monkeypatch.setattr(sandbox, "CALL_POLL_S", window_s)
    monkeypatch.setattr(sandbox, "REPLY_POLL_S", window_s)
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
