"""Per-evaluation overhead of the evaluation framework, for a trivial candidate.

Rows: fresh sandboxed process at each isolation level, and warm workers (bwrap), each with the
candidate importing nothing, numpy, or torch (skipped when torch is not installed), and the
warm worker's speed-up over a fresh bwrap process measured in the same run. Then evaluations per
second on all cores, and the Ray executor's overhead per case against the local warm worker.
Prints Markdown; asserts nothing.

    .venv/bin/python bench/sandbox_bench.py [--repeats 30] [--no-ray]
    .venv/bin/python bench/sandbox_bench.py --quick   # seconds: no torch, no Ray, 5 repeats
"""

import argparse
import importlib.util
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from evaluators.sandbox import LEVELS, Sandbox, available_level
from evaluators.task import load_task
from evaluators.workers import WorkerPool

MODULES = ("none", "numpy", "torch")


def candidate(module: str) -> str:
    head = "" if module == "none" else f"import {module}\n"
    return head + "def f():\n    return 1\n"


def figures(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times) * 1000, times[int(0.95 * (len(times) - 1))] * 1000


def timed(run, repeats: int) -> tuple[float, float]:
    run()  # warm-up: first start of a worker, page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        assert result.status == "ok", result.reason
    return figures(times)


def per_second(executor, code: str, threads: int, total: int) -> float:
    done = threading.Semaphore(0)
    count = iter(range(total))

    def worker() -> None:
        for _ in count:
            executor.run(code, "f", {})
        done.release()

    start = time.perf_counter()
    for _ in range(threads):
        threading.Thread(target=worker).start()
    for _ in range(threads):
        done.acquire()
    return total / (time.perf_counter() - start)


def trivial_task(root: Path) -> Path:
    (root / "task.toml").write_text(
        'name = "trivial"\nsummary = "return 1"\nentry = "f"\n'
        '[[stages]]\nname = "only"\ncases = [{ name = "c" }]\n')
    (root / "seed.py").write_text(candidate("none"))
    (root / "description.md").write_text("Return 1.\n")
    (root / "scorer.py").write_text(
        "from evaluators.scoring import Metrics\n\n"
        "def score(stage, case, outputs, oracle):\n    return Metrics(float(outputs))\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: --repeats 5 --no-ray, candidates without torch")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.no_ray = 5, True
    modules = MODULES[:2] if args.quick else MODULES
    have = [m for m in modules if m == "none" or importlib.util.find_spec(m)]
    fresh: dict[str, float] = {}
    """Median ms of a fresh bwrap process per candidate: the warm workers' baseline."""
    cores = os.cpu_count() or 1
    print(f"strongest isolation here: {available_level()}; {cores} cores\n")
    print("| executor | isolation | candidate imports | median ms | p95 ms |")
    print("|---|---|---|---:|---:|")
    for level in LEVELS:
        sandbox = Sandbox(level)
        for module in have:
            code = candidate(module)
            median, p95 = timed(lambda s=sandbox, c=code: s.run(c, "f", {}),
                                max(5, args.repeats // (10 if module == "torch" else 1)))
            print(f"| fresh process | {level} | {module} | {median:.1f} | {p95:.1f} |",
                  flush=True)
            if level == "bwrap":
                fresh[module] = median
    warm: dict[str, float] = {}
    if available_level() == "bwrap":
        for module in have:
            preload = () if module == "none" else (module,)
            with WorkerPool(size=1, preload=preload) as pool:
                code = candidate(module)
                median, p95 = timed(lambda p=pool, c=code: p.run(c, "f", {}),
                                    args.repeats * 3)
            warm[module] = median
            print(f"| warm worker | bwrap | {module} (preloaded) | {median:.1f} | {p95:.1f} |",
                  flush=True)
        print("\n| candidate imports | fresh bwrap process (baseline) ms | warm worker ms "
              "| speed-up |")
        print("|---|---:|---:|---:|")
        for module, median in warm.items():
            print(f"| {module} | {fresh[module]:.1f} | {median:.1f} | "
                  f"{fresh[module] / median:.1f}x |")

    print(f"\n| executor | evaluations per second ({cores} threads, candidate imports numpy) |")
    print("|---|---:|")
    code = candidate("numpy")
    print(f"| fresh process, {available_level()} | "
          f"{per_second(Sandbox(), code, cores, 4 * args.repeats):.1f} |", flush=True)
    with WorkerPool(size=cores, preload=("numpy",)) as pool:
        pool.run(code, "f", {})
        print(f"| warm workers ({pool.size}) | "
              f"{per_second(pool, code, cores, 20 * args.repeats):.1f} |", flush=True)

    if args.no_ray or importlib.util.find_spec("ray") is None:
        return
    from evaluators.ray_executor import RayExecutor

    with tempfile.TemporaryDirectory() as tmp:
        task = load_task(trivial_task(Path(tmp)))
        with WorkerPool(size=1, preload=()) as pool:
            local = timed(lambda: task.evaluate(task.seed_code, pool)[-1], args.repeats * 3)
        start = time.perf_counter()
        ray_executor = RayExecutor(slots=1, preload=())
        started = time.perf_counter() - start
        remote = timed(lambda: task.evaluate(task.seed_code, ray_executor)[-1],
                       args.repeats * 3)
        ray_executor.close()
    print("\n| one task case (run + score) | median ms | p95 ms |")
    print("|---|---:|---:|")
    print(f"| local warm worker | {local[0]:.1f} | {local[1]:.1f} |")
    print(f"| Ray slot (local Ray, 1 slot) | {remote[0]:.1f} | {remote[1]:.1f} |")
    print(f"\nRay overhead per case: {remote[0] - local[0]:.1f} ms (median); "
          f"ray.init and the slot's worker start: {started:.1f} s")


if __name__ == "__main__":
    main()
