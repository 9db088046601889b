"""The harness channel under attack: what a candidate sends us costs our memory a bounded
amount, whatever it sends and however fast. Calls to a busy concurrent oracle wait in the pipe
(the candidate's writes block), not parsed in our memory; one message costs at most
PARSE_COST times its size once parsed."""

import json
import os
import select
import threading
import time
import tracemalloc

import pytest

from evaluators.sandbox import PARSE_COST, Channel, Limits, parse_message
from tests.evaluators.test_sandbox_hostile import bwrap  # noqa: F401 (the fresh/warm fixture)

MB = 2**20


class BusyOracle:
    """A concurrent oracle (as an agent task's model channel) busy at first: a slow model,
    during which the candidate's other calls pile up. Busy for `busy_s`, or until our side's
    memory passes `bound` (then the test has seen what it looks for, and need not wait).
    Answers the length of the list it was sent."""

    concurrency = 4

    def __init__(self, busy_s: float, bound: int):
        self.busy_s, self.bound, self.until = busy_s, bound, 0.0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.until = self.until or time.monotonic() + self.busy_s
        while time.monotonic() < self.until and tracemalloc.get_traced_memory()[0] < self.bound:
            time.sleep(0.02)
        return len(request[0])


FLOOD = """
from concurrent.futures import ThreadPoolExecutor
def attack(ask, calls, size):
    words = ['ab'] * (size // 6 - 20)  # '"ab", ' per word: a call of just under `size` bytes
    with ThreadPoolExecutor(calls) as threads:  # a call refused would raise: a crash
        return list(threads.map(lambda _: ask(words), range(calls)))
"""


def peak_bytes(run) -> tuple[object, int]:
    """What `run()` returns, and the most memory our side's Python allocated meanwhile."""
    tracemalloc.start()
    try:
        return run(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_big_calls_to_a_busy_oracle_wait_in_the_pipe_not_in_our_memory(bwrap):  # noqa: F811
    """12 calls of 1 MB each (lists of short strings: the shape that costs us most per byte
    but objects) while the oracle is busy: once parsed and queued they would cost ~13x each,
    ~160 MB. The queue holds at most `result_mb` of calls; the others wait in the pipe and are
    all answered, none refused."""
    limits = Limits(wall_s=300, cpu_s=300, result_mb=1)
    calls = 12
    # Limits.result_mb's bound: the calls held and a result, parsed; one message being read
    # and one being parsed. Far from `calls` messages parsed.
    bound = (2 * PARSE_COST + 2) * limits.result_mb * MB
    run, peak = peak_bytes(lambda: bwrap.run(
        FLOOD, "attack", {"calls": calls, "size": limits.result_mb * MB}, limits,
        oracle=BusyOracle(busy_s=3.0, bound=bound), oracle_arg="ask"))
    assert peak < bound, f"{peak / MB:.0f} MB"
    assert run.status == "ok", run.reason
    words = limits.result_mb * MB // 6 - 20
    assert run.outputs == [words] * calls


SHAPES = {
    "objects of one key": b'{"":0}',
    "pairs": b"[[0,1]]",
    "short strings": b'"ab"',
    "floats": b"1e5",
    "ints": b"1000",
}
"""One item of a list that fills a message: the shapes that cost us most per byte."""


def hostile_line(item: bytes, size: int) -> bytes:
    head = b'{"kind": "call", "id": "x", "request": ['
    return head + b",".join([item] * ((size - len(head) - 2) // (len(item) + 1))) + b"]}"


@pytest.mark.parametrize("line", [
    *(hostile_line(item, MB) for item in SHAPES.values()),
    b'{"request": "\\ud83d\\ude00' + b"a" * MB + b'"}',  # a string of 4-byte characters
    b'{"request": "' + b"\xf0\x9f\x98\x80" * (MB // 4) + b'"}',  # raw UTF-8, as many
], ids=[*SHAPES, "escaped UCS-4", "raw UTF-8"])
def test_parsing_one_message_costs_at_most_parse_cost_times_its_size(line):
    """Measured while parsing, not after: the text decoded from the bytes counts too."""
    tracemalloc.start()
    try:
        message = parse_message(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message["request"]
    assert peak <= PARSE_COST * len(line), f"{peak / len(line):.1f}x"


class Gate:
    """A concurrent oracle whose calls wait until the test opens the gate; its answers are
    small enough for the reply pipe (the test reads them at the end)."""

    concurrency = 2

    def __init__(self):
        self.open, self.seen = threading.Event(), []

    def __call__(self, request):
        self.seen.append(request)
        assert self.open.wait(timeout=60)
        return "answered"


def call(n: int, size: int) -> bytes:
    """A call message of `size` bytes (with its line end)."""
    head = json.dumps({"kind": "call", "id": f"c{n}", "request": ""})[:-3].encode()
    return head + b'"' + b"x" * (size - len(head) - 4) + b'"}\n'


def test_a_full_queue_stops_taking_messages_until_a_call_is_answered():
    """Three calls of 0.4 MB with room for 1 MB: the third waits unparsed (`blocked`: the
    caller reads no more, so the candidate's writes block); once the oracle answers, `wake`
    fires and it is served. Nothing is refused."""
    limits = Limits(result_mb=1)
    reply_r, reply_w = os.pipe()
    oracle = Gate()
    channel = Channel(reply_w, limits, oracle, time.monotonic() + 60)
    try:
        for n in range(3):
            channel.feed(call(n, 4 * MB // 10))
        assert channel.blocked and channel.held[1] <= MB
        assert len(channel.pending) > 4 * MB // 10 - 100  # the third, still bytes
        oracle.open.set()
        assert select.select([channel.wake], [], [], 60)[0]
        channel.wake_up()
        assert not channel.blocked and channel.problem is None
        with os.fdopen(reply_r, "rb") as pipe:
            replies = [json.loads(pipe.readline()) for _ in range(3)]
    finally:
        channel.close()
        os.close(reply_w)
    assert sorted(reply["id"] for reply in replies) == ["c0", "c1", "c2"]
    assert [reply["value"] for reply in replies] == ["answered"] * 3 and len(oracle.seen) == 3


def test_a_result_behind_calls_that_wait_for_room_still_counts():
    """The candidate's last call was answered and its result arrived before our thread
    released the call's room: `close()` (the candidate is gone) still takes the result."""
    limits = Limits(result_mb=1)
    reply_r, reply_w = os.pipe()
    oracle = Gate()
    channel = Channel(reply_w, limits, oracle, time.monotonic() + 60)
    try:
        channel.feed(call(0, 9 * MB // 10))
        channel.feed(b'{"kind": "result", "outputs": "' + b"7" * (MB // 5) + b'"}\n')
        assert channel.blocked and channel.result is None
        oracle.open.set()
    finally:
        channel.close()
        os.close(reply_w)
        os.close(reply_r)
    assert channel.problem is None and channel.result["outputs"] == "7" * (MB // 5)


def test_a_long_line_in_many_reads_costs_linear_time():
    """16 MB without a line end arrives in pipe-sized reads: each byte is searched and copied
    a bounded number of times, not once per read. CPU time of this thread, against one parse
    of the same line (taking the reads costs ~3% of it here; searching all that arrived at
    each read ~18%, copying it ~100%)."""
    line = b"[" + b"0," * (8 * MB) + b"0]"
    begin = time.thread_time()
    json.loads(line)
    parse = time.thread_time() - begin
    channel = Channel(-1, Limits(result_mb=64), None, time.monotonic() + 60)
    begin = time.thread_time()
    for start in range(0, len(line), 65536):
        channel.feed(line[start:start + 65536])
    reads = time.thread_time() - begin
    channel.feed(b"\n")
    channel.close()
    assert channel.problem == ("invalid", "malformed message on the result channel")
    assert reads < parse / 10, (reads, parse)
