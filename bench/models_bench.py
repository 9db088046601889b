"""Model-layer figures: the embedded model (load time, tokens/s, peak memory, share of valid
edits on 20 fixed edit prompts: each shipped task's 10 `ideas`), and the litellm client's
overhead per call and throughput against the mock OpenAI server, next to the raw openai SDK
measured in the same run. Prints Markdown; asserts nothing.

    .venv/bin/python bench/models_bench.py [--calls 200]
    .venv/bin/python bench/models_bench.py --quick   # seconds: the clients only, 20 calls
"""

import argparse
import resource
import statistics
import threading
import time

from discovery.doubles.mock_server import MockServer
from discovery.models.base import ModelSpec
from discovery.models.embedded import EmbeddedClient
from discovery.models.litellm_client import LiteLLMClient
from discovery.search.edits import EditError, block_text, rewrite_block
from evaluators.sandbox import Sandbox
from evaluators.task import load_task
from prompts import render

TASKS = ("circle_packing", "function_minimisation")



def embedded_figures() -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    client = EmbeddedClient()
    sandbox = Sandbox()
    valid = evaluated = improved = 0
    tokens = seconds = 0.0
    for name in TASKS:
        task = load_task(name)
        instructions = task.config.ideas
        seed_score = task.evaluate(task.seed_code, sandbox)[-1].score
        for number, instruction in enumerate(instructions):
            messages = [
                {"role": "system", "content": render("rewrite/system.md")},
                {"role": "user", "content": render(
                    "rewrite/user.md", task=task.config.summary, score=f"{seed_score:.6g}",
                    block=block_text(task.seed_code), context="", instruction=instruction)},
            ]
            answer = client.complete(messages, seed=number)
            tokens += answer.tokens_out
            seconds += answer.latency_s
            try:
                program = rewrite_block(task.seed_code, answer.text)
            except EditError:
                continue
            if task.static_check(program) is not None:
                continue
            valid += 1
            final = task.evaluate(program, sandbox)[-1]
            evaluated += final.status == "ok"
            improved += final.status == "ok" and final.score > seed_score
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(len(load_task(name).config.ideas) for name in TASKS)
    print("| embedded model (SmolLM2-135M-Instruct Q4_1, xllamacpp) | value |")
    print("|---|---:|")
    print(f"| load time | {client.load_s:.2f} s |")
    print(f"| generation speed (prompt + decode, per output token) | {tokens / seconds:.1f} "
          "tokens/s |")
    print(f"| peak RSS of this process (before loading: {rss_before:.0f} MB) | {rss:.0f} MB |")
    print(f"| valid whole-block rewrites (parse, entry point, signature) | {valid}/{total} |")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: no embedded model (it loads and generates for "
                             "minutes), --calls 20")
    args = parser.parse_args()
    if args.quick:
        print("quick: the embedded model's figures are left out; the clients are measured")
        client_figures(20)
        return
    embedded_figures()
    client_figures(args.calls)


if __name__ == "__main__":
    main()
