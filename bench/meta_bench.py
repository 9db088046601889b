"""The cost of one meta evaluation: the seed proposer program scored by the meta_proposer task,
whose trusted side runs a short inner campaign per problem. Measured: inner iterations,
requests to the proposer, model calls, the prompt and answer sizes (tokens estimated as
characters / 4), and wall time. The model is the mock OpenAI server (a test double, through
litellm as a hosted model is reached): it answers each proposal with the parent's block and
one constant nudged, so the inner loop evaluates real children. From the measured calls and
tokens it prints what the same evaluation would cost with a hosted model at the given prices.
Prints Markdown; asserts nothing.

    .venv/bin/python bench/meta_bench.py               # the shipped train stage (3 problems)
    .venv/bin/python bench/meta_bench.py --held-out    # and the held-out stage
    .venv/bin/python bench/meta_bench.py --quick       # seconds: one problem, 3 iterations
"""

import argparse
import re
import time

from discovery.doubles.mock_server import MockServer
from discovery.models import agent_models
from discovery.models.agent import AgentModelConfig
from evaluators.sandbox import Sandbox
from evaluators.task import load_task

BLOCK = re.compile(r"```python\n(.*?)```", re.S)
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d+)")


def nudged_block(messages: list[dict]) -> str:
    """The parent's block (the first code block of the prompt) with its first float constant
    made 5% larger: a plausible small edit of a model, valid on every inner task."""
    found = BLOCK.search(messages[-1]["content"])
    block = found.group(1) if found else "pass\n"
    block = NUMBER.sub(lambda m: f"{float(m.group(1)) * 1.05:.6g}", block, count=1)
    return f"```python\n{block}```"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--held-out", action="store_true")
    parser.add_argument("--price-in", type=float, default=3.0, help="$ per million tokens in")
    parser.add_argument("--price-out", type=float, default=15.0,
                        help="$ per million tokens out")
    args = parser.parse_args()
    task = load_task("meta_proposer")
    stages = [task.config.stages[0], *([task.config.held_out] if args.held_out else [])]
    if args.quick:
        case = stages[0].cases[0]
        quick = case.model_copy(update={"secret": {**case.secret, "problems": [
            {"task": "circle_packing", "iterations": 3, "seed": 0}]}})
        stages = [stages[0].model_copy(update={"cases": [quick]})]
    print("## A meta evaluation: the seed proposer, mock model (test double)\n")
    print("| stage | problems | inner iterations | requests | model calls | tokens in / call "
          "| tokens out / call | wall s | $ at the prices given |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for stage in stages:
        staged = task.config.model_copy(update={"stages": [stage], "held_out": None})
        one = type(task)(task.root, staged, task.version, task.scorer)
        with MockServer(reply=nudged_block) as server:
            models = agent_models(AgentModelConfig(
                name="openai/mock-model", api_base=server.base_url, max_retries=0))
            begin = time.perf_counter()
            result = one.evaluate(task.seed_code, Sandbox(), model=models.for_evaluation([]))[-1]
            wall = time.perf_counter() - begin
            asked = [r for r in server.requests if "answer" in r]
        if result.status != "ok":
            raise SystemExit(f"{stage.name}: {result.status}: {result.reason}")
        problems = stage.cases[0].secret["problems"]
        calls = len(asked)
        tokens_in = sum(len(m["content"]) for r in asked for m in r["body"]["messages"]) / 4
        tokens_out = sum(len(r["answer"] or "") for r in asked) / 4
        dollars = (tokens_in * args.price_in + tokens_out * args.price_out) / 1e6
        print(f"| {stage.name} | {len(problems)} | {sum(p['iterations'] for p in problems)} "
              f"| {result.public_metrics['requests']} | {calls} "
              f"| {tokens_in / max(calls, 1):,.0f} | {tokens_out / max(calls, 1):,.0f} "
              f"| {wall:.1f} | {dollars:.3f} |")
    print(f"\nPrices: ${args.price_in:g} in and ${args.price_out:g} out per million tokens "
          f"(--price-in, --price-out); the mock model answers at once, so wall "
          "time is the inner evaluations' and the loop's own.")


if __name__ == "__main__":
    main()
