"""Model-layer figures: the embedded model (load time, tokens/s, peak memory, share of valid
edits on 20 fixed edit prompts, each shipped task's 10 `ideas`, asked as the campaign asks it:
the rest of one function, continued), and the litellm client's overhead per call and
throughput against the mock OpenAI server, next to the raw openai SDK measured in the same
run. Prints Markdown; asserts nothing.

    .venv/bin/python bench/models_bench.py [--calls 200]
    .venv/bin/python bench/models_bench.py --quick   # 20 calls; proposals of 1 seed, 4 iterations
    .venv/bin/python bench/models_bench.py --threads  # the embedded model beside CPU burners
    .venv/bin/python bench/models_bench.py --proposals [--quick]  # the first command's proposals

`--threads`: seconds per call (median of 2, 60 s at most) of the embedded model (128 tokens
out) on an otherwise idle machine and beside 1 and 2 busy processes (`yes`), with the old
thread count (min(4, cores)) and the new one (`embedded.threads()`), as ratios to idle and
old/new.

`--proposals`: the README's first command (`discover run circle_packing --iterations 10`) for
`--seed 0..9`, one run at a time: how many of the embedded model's proposals became programs
(passed the edit checks and were run), evaluated ok, and beat their parent. `--quick`: seed 0,
4 iterations (the first proposal comes at iteration 3, after the seed and tuning).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from archive import ArchiveReader
from discovery.doubles.mock_server import MockServer
from discovery.models.base import ModelError, ModelSpec
from discovery.models.embedded import CallTimedOut, EmbeddedClient, Worker, model_path, threads
from discovery.models.litellm_client import LiteLLMClient
from discovery.search.edits import EditError, block_text, plan_continuation, splice
from evaluators.sandbox import Sandbox
from evaluators.task import load_task
from prompts import render

TASKS = ("circle_packing", "function_minimisation")



def embedded_figures() -> None:
    """The embedded model as the campaign asks it: each task's ideas, one function of the
    seed continued from a statement the campaign picks (discovery/loop/proposer.py)."""
    client = EmbeddedClient()
    sandbox = Sandbox()
    valid = evaluated = improved = 0
    tokens = seconds = 0.0
    for name in TASKS:
        task = load_task(name)
        instructions = task.config.ideas
        seed_score = task.evaluate(task.seed_code, sandbox)[-1].score
        for number, instruction in enumerate(instructions):
            continuation = plan_continuation(task.seed_code, random.Random(number),
                                             client.spec.max_tokens * 2)
            assert continuation is not None, f"{name}'s seed block has no function"
            messages = [
                {"role": "system", "content": render("continue/system.md")},
                {"role": "user", "content": render(
                    "continue/user.md", task=task.config.summary, score=f"{seed_score:.6g}",
                    block=block_text(task.seed_code), context="", instruction=instruction,
                    function=continuation.function)},
                {"role": "assistant", "content": continuation.start},
            ]
            answer = client.complete(messages, seed=number)
            tokens += answer.tokens_out
            seconds += answer.latency_s
            try:
                program = splice(task.seed_code, continuation, answer.text)
            except EditError:
                continue
            if task.static_check(program) is not None:
                continue
            valid += 1
            final = task.evaluate(program, sandbox)[-1]
            evaluated += final.status == "ok"
            improved += final.status == "ok" and final.score > seed_score
    total = sum(len(load_task(name).config.ideas) for name in TASKS)
    memory = client.peak_memory_mb()
    print("| embedded model (SmolLM2-135M-Instruct Q4_1, xllamacpp) | value |")
    print("|---|---:|")
    print(f"| load time | {client.load_s:.2f} s |")
    print(f"| generation speed (prompt + decode, per output token) | {tokens / seconds:.1f} "
          "tokens/s |")
    print(f"| peak memory of the model's process | {memory or 0:.0f} MB |")
    print(f"| valid continuations (parse, entry point, signature, changed) | {valid}/{total} |")
    print(f"| of which evaluate ok in the sandbox | {evaluated}/{total} |")
    print(f"| of which beat the seed program | {improved}/{total} |")


def timed_calls(call, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[int(0.95 * (n - 1))] * 1000


def throughput(call, threads: int, total: int) -> float:
    counter = iter(range(total))

    def work() -> None:
        for _ in counter:
            call()

    start = time.perf_counter()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return total / (time.perf_counter() - start)


def client_figures(calls: int) -> None:
    import openai

    messages = [{"role": "user", "content": "hello"}]
    with MockServer() as server:
        ours = LiteLLMClient(ModelSpec(name="openai/mock-model", api_base=server.base_url,
                                       max_concurrency=16))
        sdk = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        ours.complete(messages)
        sdk.chat.completions.create(model="mock-model", messages=messages)
        rows = {  # the baseline first: the other row's ratio is against it
            "raw openai SDK (baseline)": lambda: sdk.chat.completions.create(
                model="mock-model", messages=messages),
            "discovery LiteLLMClient (litellm)": lambda: ours.complete(messages),
        }
        print("\n| client, against the mock server on 127.0.0.1 | median ms | p95 ms "
              "| median vs SDK | calls/s, 1 thread | 4 threads | 16 threads |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        baseline = None
        for name, call in rows.items():
            median, p95 = timed_calls(call, calls)
            baseline = baseline or median
            rates = [throughput(call, n, calls) for n in (1, 4, 16)]
            print(f"| {name} | {median:.2f} | {p95:.2f} | {median / baseline:.2f}x | "
                  + " | ".join(f"{r:.0f}" for r in rates) + " |", flush=True)


THREAD_PROMPT = [
    {"role": "system", "content": render("rewrite/system.md")},
    {"role": "user", "content": "Write a Python function construct_packing(n) that places n "
                                "circles in the unit square on a hexagonal grid and returns "
                                "their centers and radii."}]


def seconds_per_call(worker: Worker, calls: int, timeout: float) -> float | None:
    """Median seconds of `calls` calls (one untimed first); None once one runs past
    `timeout` (the worker is then dead)."""
    times = []
    for number in range(calls + 1):
        start = time.monotonic()
        try:
            worker.ask({"messages": THREAD_PROMPT, "max_tokens": 128, "temperature": 0.2,
                        "seed": number, "ignore_eos": True}, timeout)
        except CallTimedOut:
            return None
        times.append(time.monotonic() - start)
    return statistics.median(times[1:])


def thread_figures(calls: int, timeout: float) -> None:
    """The embedded model's seconds per call beside 0, 1 and 2 busy processes, per thread
    count: the model is fresh for each cell (a timed-out call kills it). The load average
    at each column's start says how idle "idle" was (other users of the machine count)."""
    old, new = min(4, os.cpu_count() or 1), threads()
    cells: dict[tuple[int, int], float | None] = {}
    loads = []
    for burners in (0, 1, 2):
        loads.append(os.getloadavg()[0])
        busy = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(burners)]
        try:
            for count in dict.fromkeys((old, new)):
                worker = Worker(model_path(), count)
                cells[count, burners] = seconds_per_call(worker, calls, timeout)
                worker.close()
        finally:
            for process in busy:
                process.kill()
                process.wait()

    def cell(count: int, burners: int) -> str:
        value, idle = cells[count, burners], cells[count, 0]
        if value is None:
            return f"> {timeout:g} s"
        return f"{value:.1f} s" + (f" ({value / idle:.1f}x idle)" if burners and idle else "")

    def ratio(burners: int) -> str:
        slow, fast = cells[old, burners], cells[new, burners]
        if fast is None:
            return "-"
        return f"{slow / fast:.1f}x" if slow is not None else f"> {timeout / fast:.1f}x"

    print(f"\n| embedded model, 128 tokens out, {os.cpu_count()} cores, median of {calls} "
          "| idle | beside 1 busy process | beside 2 |")
    print("|---|---:|---:|---:|")
    print("| load average at the start | " + " | ".join(f"{v:.1f}" for v in loads) + " |")
    for label, count in ((f"old: {old} threads", old), (f"new: {new} thread(s)", new)):
        print(f"| {label} | " + " | ".join(cell(count, b) for b in (0, 1, 2)) + " |")
    print("| old / new | " + " | ".join(ratio(b) for b in (0, 1, 2)) + " |", flush=True)


def proposal_figures(seeds: range, iterations: int) -> None:
    """The first command per seed; its iteration events say what each proposal became."""
    rows, totals = [], [0, 0, 0, 0]
    with tempfile.TemporaryDirectory() as runs:
        for seed in seeds:
            start = time.monotonic()
            subprocess.run([str(Path(sys.executable).with_name("discover")), "run",
                            "circle_packing", "--iterations", str(iterations), "--seed",
                            str(seed), "--name", f"s{seed}", "--progress", "quiet", "--set",
                            f"runs_dir={json.dumps(runs)}"], check=True,
                           stdout=subprocess.DEVNULL)
            with ArchiveReader(Path(runs) / f"s{seed}" / "archive.sqlite") as reader:
                events = [d for _, _, d in reader.events("iteration", limit=10**9)
                          if d.get("op") == "llm"]
                parents = {p.id: p.score for p in reader.programs(
                    sorted({d["parent"] for d in events if d.get("parent")}))}
            counts = [len(events), sum(1 for d in events if d["program"] is not None),
                      sum(1 for d in events if d["status"] == "ok"),
                      sum(1 for d in events if d["status"] == "ok"
                          and parents.get(d["parent"]) is not None
                          and d["score"] > parents[d["parent"]])]
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            rows.append((seed, *counts, time.monotonic() - start))
    print(f"\n| first command, --seed S, {iterations} iterations | proposals | became programs "
          "| evaluated ok | beat their parent | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for seed, proposals, programs, ok, better, seconds in rows:
        print(f"| seed {seed} | {proposals} | {programs} | {ok} | {better} | {seconds:.0f} |")
    proposals, programs, ok, better = totals
    share = (lambda n: f"{n} ({n / proposals:.0%})") if proposals else str
    print(f"| all | {proposals} | {share(programs)} | {share(ok)} | {share(better)} | |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="a minute or two: --calls 20 and the first command's proposals "
                             "for seed 0 with 4 iterations, no other embedded figure")
    parser.add_argument("--threads", action="store_true",
                        help="only the embedded model's seconds per call beside CPU burners")
    parser.add_argument("--proposals", action="store_true",
                        help="only the first command's proposals over --seed 0..9")
    args = parser.parse_args()
    if args.threads:
        thread_figures(2, 60.0)
        return
    if args.proposals:
        proposal_figures(range(1) if args.quick else range(10), 4 if args.quick else 10)
        return
    if args.quick:
        print("quick: the clients, and the first command's proposals for seed 0 with 4 "
              "iterations (--proposals for seeds 0..9, no option for the rest)")
        client_figures(20)
        try:
            model_path()
        except ModelError as exc:  # CI without the weights: the clients' figures still count
            print(f"\nno proposal figures: {exc}")
            return
        proposal_figures(range(1), 4)
        return
    embedded_figures()
    client_figures(args.calls)


if __name__ == "__main__":
    main()
