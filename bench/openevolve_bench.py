"""Side by side with OpenEvolve, in one run: the same instant mock model server (OpenAI wire
protocol on 127.0.0.1) and the same trivial evaluator (return a constant), iterations per
second of each framework as its archive passes 100 and 1000 programs, and their ratio.

OpenEvolve runs from its own venv (its dependencies must not touch ours):

    python3 -m venv /tmp/oevenv && /tmp/oevenv/bin/pip install openevolve==0.4.0
    .venv/bin/python bench/openevolve_bench.py --openevolve-python /tmp/oevenv/bin/python

Each framework stamps the time of every iteration (OpenEvolve: its evaluator's calls, one per
iteration); a rate "at 100 programs" is taken over iterations 50 to 150 (at 1000: 900 to
1000). Both run one proposal and one
evaluation at a time, with their default settings otherwise. Ours goes through the real stack:
litellm to the mock server, the warm sandbox pool, the SQLite archive. Prints Markdown; asserts
nothing.

    .venv/bin/python bench/openevolve_bench.py --quick   # seconds: 60 iterations, rate over
                                                         # 10 to 60; ours only without OpenEvolve
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from campaign_bench import trivial_task

from discovery.config import load_config
from discovery.doubles.mock_server import MockServer
from discovery.loop.campaign import Campaign

OPENEVOLVE_RUNNER = textwrap.dedent("""
    import sys, time
    from openevolve import run_evolution
    from openevolve.config import Config, LLMModelConfig
    work, api_base, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workers, timeout, retries = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    config = Config()
    config.llm.models = [LLMModelConfig(name="mock-model", api_base=api_base, api_key="x",
                                        timeout=timeout, retries=retries)]
    config.llm.api_base = api_base
    config.llm.retries, config.llm.timeout = retries, timeout
    config.diff_based_evolution = False  # the mock answers whole programs, as it does for us
    config.evaluator.cascade_evaluation = False
    config.evaluator.parallel_evaluations = workers  # each worker: one proposal, its evaluation
    config.evaluator.timeout = int(timeout * 4)
    config.checkpoint_interval = 10**9
    config.log_level = "WARNING"
    result = run_evolution(work + "/initial.py", work + "/evaluator.py", config,
                           iterations=iterations, output_dir=work + "/out", cleanup=False)
    print("best", result.best_score)
""")

OPENEVOLVE_EVALUATOR = textwrap.dedent("""
    import time
    STAMPS = {stamps!r}
    def evaluate(program_path):
        with open(STAMPS, "a") as f:
            f.write(f"{{time.time()}}\\n")
        code = open(program_path).read()
        value = float(code.split("return ", 1)[1].split()[0])
        return {{"combined_score": value}}
""")

INITIAL = "# EVOLVE-BLOCK-START\ndef f():\n    return 0.0\n# EVOLVE-BLOCK-END\n"


def reply_factory():
    rng = random.Random(0)

    def reply(messages):
        return f"```python\ndef f():\n    return {rng.random():.12f}\n```"
    return reply


def rate(stamps: list[float], first: int, last: int) -> float | None:
    """Evaluations per second between evaluation number `first` and `last` (1-based)."""
    if len(stamps) < last:
        return None
    return (last - first) / (stamps[last - 1] - stamps[first - 1])


def launch_openevolve(python: str, api_base: str, iterations: int, work: Path, evaluator: str,
                      initial: str = INITIAL, workers: int = 1, timeout: float = 30.0,
                      retries: int = 0) -> dict:
    """Run OpenEvolve in its own venv on `initial` with the `evaluator` module's source, against
    `api_base`; its wall and CPU seconds (with its child processes) and best score. The
    throughput bench runs it this way too, with more workers and retries."""
    (work / "initial.py").write_text(initial)
    (work / "evaluator.py").write_text(evaluator)
    (work / "runner.py").write_text(OPENEVOLVE_RUNNER)
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    child = subprocess.run([python, str(work / "runner.py"), str(work), api_base,
                            str(iterations), str(workers), str(timeout), str(retries)],
                           capture_output=True, text=True,
                           env={**os.environ, "OPENAI_API_KEY": "x"})
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        raise SystemExit(f"OpenEvolve failed (exit {child.returncode}):\n{child.stderr[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall": wall, "cpu": cpu, "best": child.stdout.strip().split()[-1]}


def run_openevolve(python: str, api_base: str, iterations: int, work: Path) -> dict:
    stamps = work / "stamps.txt"
    result = launch_openevolve(python, api_base, iterations, work,
                               OPENEVOLVE_EVALUATOR.format(stamps=str(stamps)))
    return {**result, "stamps": [float(x) for x in stamps.read_text().split()]}


def run_ours(api_base: str, iterations: int, work: Path) -> dict:
    stamps: list[float] = []

    def log(event: dict) -> None:
        if "n" in event:  # every committed iteration (a migration copies, evaluating nothing)
            stamps.append(time.time())

    os.environ["MOCK_KEY"] = "x"
    config = load_config(str(trivial_task(work / "task")), None, [
        f"runs_dir={str(work / 'runs')!r}", "name='ours'",
        f'models=[{{name="openai/mock-model", api_base="{api_base}", api_key_env="MOCK_KEY", '
        'edit_mix={rewrite=1.0}}]', f"budgets.iterations={iterations}",
        "edits.tune_share=0", "edits.restart_share=0", "edits.scratchpad_every=0"])
    campaign = Campaign.start(config, log)
    before = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    campaign.run()
    wall = time.perf_counter() - start
    campaign.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
           + children_after.ru_utime + children_after.ru_stime
           - children.ru_utime - children.ru_stime)
    best = campaign.best.score if campaign.best else None
    return {"stamps": stamps, "wall": wall, "cpu": cpu, "best": best}


def has_module(python: str, module: str) -> bool:
    """Whether a peer's venv python can import the peer."""
    return Path(python).is_file() and subprocess.run(
        [python, "-c", f"import {module}"], capture_output=True, timeout=300).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openevolve-python", default="/tmp/oevenv/bin/python")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: --iterations 60; without OpenEvolve, ours only")
    args = parser.parse_args()
    windows = [(50, 150, "100"), (args.iterations - 100, args.iterations,
                                  f"{args.iterations}")]
    if args.quick:
        args.iterations, windows = 60, [(10, 60, "60")]
    runners = {"discovery": lambda w: run_ours(server.base_url, args.iterations, w)}
    if has_module(args.openevolve_python, "openevolve"):
        runners["OpenEvolve 0.4.0"] = lambda w: run_openevolve(
            args.openevolve_python, server.base_url, args.iterations, w)
    elif args.quick:
        print(f"OpenEvolve is not installed for {args.openevolve_python} (see the module "
              "docstring): measuring discovery only")
    else:
        raise SystemExit(f"OpenEvolve is not installed for {args.openevolve_python}: install it "
                         "as the module docstring says, or run --quick for our side only")
    with MockServer(reply=reply_factory()) as server, tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, runner in runners.items():
            work = Path(tmp) / name.split()[0]
            work.mkdir()
            results[name] = runner(work)
            print(f"{name}: {len(results[name]['stamps'])} evaluations in "
                  f"{results[name]['wall']:.1f} s, {results[name]['cpu']:.1f} s CPU "
                  f"(with child processes), best {results[name]['best']}", file=sys.stderr)
    ours, peer = results["discovery"], results.get("OpenEvolve 0.4.0", {"stamps": []})
    print("| programs | discovery iterations/s | OpenEvolve iterations/s | ratio |")
    print("|---:|---:|---:|---:|")
    for first, last, label in windows:
        a, b = rate(ours["stamps"], first, last), rate(peer["stamps"], first, last)
        ratio = f"{a / b:.1f}x" if a and b else "-"
        print(f"| {label} | {a or 0:.1f} | {f'{b:.2f}' if b else '-'} | {ratio} |")
    for name, r in results.items():
        n = max(len(r["stamps"]), 1)
        print(f"\n{name}: {r['cpu'] / n * 1000:.1f} ms CPU per iteration over the whole run "
              f"({n} iterations, {r['wall']:.1f} s wall)")
    print(json.dumps({k: {"wall": v["wall"], "cpu": v["cpu"], "n": len(v["stamps"])}
                      for k, v in results.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
