"""Oracle round trips through the harness channel: microseconds per call of a candidate asking
the task's trusted oracle, in a fresh sandboxed process and on a warm worker, with both sides
polling for the other's message (the defaults: evaluators.sandbox.CALL_POLL_S and REPLY_POLL_S)
and with polling off (both windows 0: each side blocks in select or read at once), measured in
the same run, alternating, so that both see the same load.

Two candidates: an empty oracle called in a loop (the channel alone), and a trusted loop's
shape (as CFR's: each side computes `--work-us` between messages, spinning, so the other side's
poll must outlast it); for the latter the row gives the microseconds per step beyond the work.
The figure is the median over `--repeats` runs of each run's mean (timed inside the candidate).
Polling trades CPU for latency, and pays only where cores idle (waking a halted CPU is what it
saves); each side's harness.Poller learns within a few calls whether it pays and blocks at once
where it does not, so on a busy machine "on" is close to "off", not far above it. The load
average is printed first. Prints Markdown; asserts nothing.

    .venv/bin/python bench/oracle_bench.py [--calls 5000] [--repeats 7] [--work-us 40]
    .venv/bin/python bench/oracle_bench.py --quick   # seconds: 500 calls, 3 repeats
"""

import argparse
import contextlib
import os
import statistics
import time
from collections.abc import Iterator

from evaluators import sandbox
from evaluators.sandbox import Executor, Limits, Sandbox, available_level
from evaluators.workers import WorkerPool

CANDIDATE = """
import time

def spin(seconds):
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass

def main(oracle, calls, work_s):
    oracle(0)  # the first call pays for imports and page faults
    start = time.perf_counter()
    for step in range(calls):
        oracle(step)
        spin(work_s)
    return (time.perf_counter() - start) / calls
"""
LIMITS = Limits(wall_s=600, cpu_s=600)


class Oracle:
    """Trusted work of `work_s` seconds per call (spinning), then a small answer."""

    def __init__(self, work_s: float):
        self.work_s = work_s

    def __call__(self, request: list) -> dict:
        until = time.perf_counter() + self.work_s
        while time.perf_counter() < until:
            pass
        return {"step": request[0], "done": False}


@contextlib.contextmanager
def polling(on: bool) -> Iterator[None]:
    """Both sides' windows at their defaults, or 0 (blocking at once)."""
    saved = sandbox.CALL_POLL_S, sandbox.REPLY_POLL_S
    if not on:
        sandbox.CALL_POLL_S = sandbox.REPLY_POLL_S = 0.0
    try:
        yield
    finally:
        sandbox.CALL_POLL_S, sandbox.REPLY_POLL_S = saved


def per_call_us(executor: Executor, calls: int, work_s: float) -> float:
    """Microseconds per step beyond the two sides' work, timed inside the candidate."""
    run = executor.run(CANDIDATE, "main", {"calls": calls, "work_s": work_s}, LIMITS,
                       oracle=Oracle(work_s), oracle_arg="oracle")
    assert run.status == "ok", run.reason
    return (run.outputs - 2 * work_s) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--work-us", type=float, default=40.0,
                        help="each side's work per step in the trusted-loop rows")
    parser.add_argument("--quick", action="store_true", help="a few seconds: 500 calls, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.repeats = 500, 3
    executors: dict[str, Executor] = {f"fresh process ({available_level()})": Sandbox()}
    with contextlib.ExitStack() as stack:
        if available_level() == "bwrap":
            executors["warm worker (bwrap)"] = stack.enter_context(WorkerPool(1, preload=()))
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
              f"polling windows: {sandbox.CALL_POLL_S * 1e6:g} us (evaluator), "
              f"{sandbox.REPLY_POLL_S * 1e6:g} us (candidate); {args.calls} calls, "
              f"median of {args.repeats} runs\n")
        print("| executor | candidate | polling off, us | polling on, us | speed-up |")
        print("|---|---|---:|---:|---:|")
        for label, executor in executors.items():
            for shape, work_s in (("empty oracle", 0.0),
                                  (f"{args.work_us:g} us of work each side", args.work_us / 1e6)):
                times: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(args.repeats):
                    for on in (False, True):
                        with polling(on):
                            times[on].append(per_call_us(executor, args.calls, work_s))
                off, on = (statistics.median(times[flag]) for flag in (False, True))
                print(f"| {label} | {shape} | {off:.1f} | {on:.1f} | {off / max(on, 0.1):.1f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
