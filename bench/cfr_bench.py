"""The CFR task's reference figures, in one run: (1) speed of CFR+ with alternating updates on
Leduc poker and 2-player Kuhn poker, wall time per iteration, best of a few runs: the trusted
oracle with the rule called in-process; the whole evaluation path (the rule in the sandbox)
with the arrays in the memory the oracle shares with the candidate's process (what every
evaluation uses), and with them packed over the harness channel instead (the path before the
shared memory, kept for runs without it); OpenSpiel's C++ `CFRPlusSolver` and its Python CFR+
(the only OpenSpiel path that could host a model-written rule); (2) exploitability of every
baseline (the seed CFR+, CFR, Linear CFR, DCFR, PCFR+, PDCFR+) at each checkpoint on each
train game, the table in evaluators/tasks/games/cfr/README.md.

An iteration is two updates (one per player), each a round trip between the candidate's
process (cfr_loop.run: the regrets in, the rule's `step`, the policy out) and the oracle (its
checks, the average, the next regrets: cfr_kernels.py, compiled with numba). The oracle's
kernels are compiled (or loaded from numba's cache) before anything is timed, as a campaign's
evaluator does once. BLAS runs on one thread, as in an evaluation. Prints Markdown; asserts
nothing. `--quick` (seconds; CI runs it) prints the same figures for few iterations.

    .venv/bin/python bench/cfr_bench.py [--iterations 1000] [--skip-baselines] [--quick]
"""

import argparse
import importlib.util
import sys
import time
import tomllib

import numpy as np
from threadpoolctl import threadpool_limits

from evaluators.sandbox import Sandbox
from evaluators.scoring import log_checkpoints
from evaluators.task import TASKS_DIR, Case, CaseConfig, StageConfig, load_task, task_folders

TASK = task_folders()["cfr"]
sys.path[:0] = [str(TASK), str(TASKS_DIR / "games" / "_shared")]
from cfr_games import flatten  # noqa: E402
from cfr_loop import run  # noqa: E402
from cfr_oracle import CFR  # noqa: E402

BASELINES = {"CFR+ (seed)": TASK / "seed.py", "CFR": TASK / "baselines" / "cfr.py",
             "Linear CFR": TASK / "baselines" / "linear_cfr.py",
             "DCFR (1.5, 0, 2)": TASK / "baselines" / "dcfr.py",
             "PCFR+": TASK / "baselines" / "pcfr_plus.py",
             "PDCFR+ (2.3, 5)": TASK / "baselines" / "pdcfr_plus.py",
             "VAD-CFR": TASK / "baselines" / "vad_cfr.py"}


def rule(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.step


def best_ms(fn, iterations: int, repeats: int) -> tuple[float, float]:
    """Wall and CPU ms per iteration of `fn()` (which runs `iterations` and returns the CPU
    seconds it used outside this process), each the best of `repeats`: the machine is shared,
    and the best run is the one the others disturbed least."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        elsewhere = fn() or 0.0
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu + elsewhere)
    return min(walls) / iterations * 1000, min(cpus) / iterations * 1000


def in_process(name: str, step, checkpoints: list[int]) -> CFR:
    """CFR run by the trusted oracle with the rule called directly (no sandbox, no channel;
    the arrays in the oracle's shared memory, mapped twice in this process)."""
    cfr = CFR(flatten(name).game, checkpoints)

    def call(*args):
        return cfr(list(args))

    call.fds = cfr.fds
    run(step, call)
    return cfr


CHANNEL_ONLY = """
import cfr_loop

cfr_loop.attach = lambda oracle: None  # the arrays go over the channel, packed
"""


def sandboxed_ms(game: str, iterations: int, code: str, repeats: int) -> tuple[float, float]:
    """Wall and CPU ms per iteration of a whole evaluation of `code` on `game` (sandbox,
    channel, oracle, exploitability at the end; CPU: this process's and the candidate's),
    the start-up cost taken out: the difference between a run of `iterations` and a run of
    one, best of `repeats` each."""
    task = load_task("cfr")

    def evaluate(n: int) -> float:
        config = CaseConfig(name="bench", secret={"game": game, "checkpoints": [n],
                                                  "alternating": True})
        stage = StageConfig(name="bench", cases=[config])
        result = task.run_case(stage, Case(config.name, config.inputs, config.secret), code,
                               Sandbox())
        assert result.status == "ok", result.reason
        return result.resources["cpu_s"]

    many = best_ms(lambda: evaluate(iterations), 1, repeats)
    one = best_ms(lambda: evaluate(1), 1, repeats)
    return tuple((a - b) / (iterations - 1) for a, b in zip(many, one, strict=True))


def speed(game: str, label: str, iterations: int, repeats: int) -> None:
    import pyspiel
    from open_spiel.python.algorithms import cfr as python_cfr

    step = rule(TASK / "seed.py")
    seed = load_task("cfr").seed_code
    flatten(game)
    in_process(game, step, [2])  # the kernels compiled or loaded, not timed
    cpp = pyspiel.CFRPlusSolver(pyspiel.load_game(game))
    slow = python_cfr.CFRPlusSolver(pyspiel.load_game(game))

    def ours() -> None:
        in_process(game, step, [iterations])

    def cpp_block() -> None:
        for _ in range(20):
            cpp.evaluate_and_update_policy()

    rows = {
        "discovery's oracle, the rule called in-process": best_ms(ours, iterations, repeats),
        "discovery's evaluation: the rule in the sandbox, arrays in shared memory":
            sandboxed_ms(game, iterations, seed, repeats),
        "discovery's evaluation: the rule in the sandbox, arrays packed over the channel":
            sandboxed_ms(game, iterations, seed.replace(
                "# EVOLVE-BLOCK-END", CHANNEL_ONLY + "# EVOLVE-BLOCK-END"), repeats),
        "OpenSpiel C++ `CFRPlusSolver`": best_ms(cpp_block, 20, 5 * repeats),
        "OpenSpiel Python `CFRPlusSolver`": best_ms(slow.evaluate_and_update_policy, 1,
                                                    repeats),
    }
    cpp_wall, cpp_cpu = rows["OpenSpiel C++ `CFRPlusSolver`"]
    print(f"\n| {label}, CFR+ with alternating updates ({iterations} iterations) | wall ms "
          "per iteration | OpenSpiel C++ / this (wall) | CPU ms per iteration (every process) "
          "| OpenSpiel C++ / this (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for what, (wall, cpu) in rows.items():
        print(f"| {what} | {wall:.3f} | {cpp_wall / wall:.2f}x | {cpu:.3f} | "
              f"{cpp_cpu / cpu:.2f}x |")


def baselines(checkpoints: list[int], games: list[str] | None) -> None:
    config = tomllib.loads((TASK / "task.toml").read_text())
    train = next(s for s in config["stages"] if s["name"] == "train")["cases"]
    train = [case for case in train if games is None or case["name"] in games]
    print("\n| rule | game | " + " | ".join(f"expl. @{c}" for c in checkpoints)
          + " | case score |")
    print("|---|---|" + "---:|" * (len(checkpoints) + 1))
    for label, path in BASELINES.items():
        step = rule(path)
        scores = []
        for case in train:
            values = in_process(case["secret"]["game"], step, checkpoints).exploitability
            scores.append(log_checkpoints(values, "exploitability").score)
            print(f"| {label} | {case['name']} | "
                  + " | ".join(f"{values[c]:.3g}" for c in checkpoints)
                  + f" | {scores[-1]:.3f} |", flush=True)
        print(f"| {label} | stage | | | | | {np.mean(scores):.3f} |"
              if len(checkpoints) == 4 else f"| {label} | stage | {np.mean(scores):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="seconds: Leduc speed over 50 iterations; baselines on Kuhn and "
                             "Leduc, checkpoints 10 and 25")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as in an evaluation: the figures are its
    if args.quick:
        speed("leduc_poker", "Leduc poker", 50, repeats=1)
        baselines([10, 25], ["kuhn3", "leduc2"])
        return
    speed("leduc_poker", "Leduc poker", args.iterations, repeats=3)
    speed("kuhn_poker", "Kuhn poker (2 players)", args.iterations, repeats=3)
    if not args.skip_baselines:
        baselines([c for c in (100, 250, 500, 1000) if c <= args.iterations], None)


if __name__ == "__main__":
    main()
