"""The model channel's throughput: questions answered per second by a chain-of-thought agent
(one model call per question) in the sandbox, its calls carried over the harness channel to the
trusted side and sent through litellm to the mock OpenAI server, which takes 200 ms per call.
Measured at agent-model concurrency 1, 8 and 32 (the question loop runs 32 threads), next to
the ideal (concurrency / latency). Prints Markdown; asserts nothing.

    .venv/bin/python bench/agents_bench.py [--questions 64]
    .venv/bin/python bench/agents_bench.py --quick   # seconds: 16 questions, 50 ms latency
"""

import argparse
import json
import time

from discovery.doubles.mock_server import MockServer
from discovery.models import agent_models
from discovery.models.agent import AgentModelConfig
from evaluators.task import Case, load_task
from evaluators.workers import WorkerPool


def answer_after(latency_s: float):
    def reply(messages):
        time.sleep(latency_s)
        return json.dumps({"thinking": "Step by step.", "answer": "42"})
    return reply


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    questions, latency = (16, 0.05) if args.quick else (args.questions, args.latency)
    task = load_task("arithmetic")
    stage = task.config.stages[0]
    secret = {"dataset": "arithmetic", "seed": 1, "count": questions, "threads": 32}
    print(f"## Model channel: {questions} questions, {latency * 1000:.0f} ms per model call\n")
    print("| concurrency | seconds | questions/s | ideal | share of ideal |")
    print("| --- | --- | --- | --- | --- |")
    with WorkerPool(size=1) as pool:
        for concurrency in (1, 8, 32):
            # a server per level: litellm's cap per endpoint is set by its first spec
            with MockServer(reply=answer_after(latency)) as server:
                models = agent_models(AgentModelConfig(
                    name="openai/mock-model", api_base=server.base_url,
                    max_concurrency=concurrency, max_retries=0))
                for count in (1, questions):  # 1: a warm-up (litellm's import, the worker)
                    calls = []
                    case = Case("bench", {}, {**secret, "count": count},
                                models.for_evaluation(calls))
                    start = time.perf_counter()
                    result = task.run_case(stage, case, task.seed_code, pool)
                    seconds = time.perf_counter() - start
                    assert result.status == "ok" and len(calls) == count, result.reason
            rate = questions / seconds
            ideal = min(concurrency, 32) / latency
            print(f"| {concurrency} | {seconds:.2f} | {rate:.1f} | {ideal:.1f} | "
                  f"{rate / ideal:.0%} |")

if __name__ == "__main__":
    main()
