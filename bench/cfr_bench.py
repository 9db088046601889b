"""The CFR task's reference figures, in one run: (1) speed on Leduc poker, CFR+ with alternating
updates: the trusted oracle with the rule called in-process, the whole evaluation path (the
rule in the sandbox, each update a round trip over the harness channel), OpenSpiel's C++
`CFRPlusSolver` and its Python CFR+ (the only OpenSpiel path that could host a model-written
rule); (2) exploitability of every baseline (the seed CFR+, CFR, Linear CFR, DCFR, PCFR+,
PDCFR+) at each checkpoint on each train game, the table in evaluators/tasks/games/cfr/README.md.
BLAS runs on one thread, as in an evaluation. Prints Markdown; asserts nothing. `--quick`
(seconds; CI runs it) prints the same figures for few iterations on Kuhn and Leduc.

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


def cpu_ms(fn, repeats: int) -> float:
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats * 1000


def in_process(name: str, step, checkpoints: list[int]) -> CFR:
    """CFR run by the trusted oracle with the rule called directly (no sandbox, no channel)."""
    cfr = CFR(flatten(name).game, checkpoints)
    run(step, lambda *args: cfr(list(args)))
    return cfr


def sandboxed_ms(iterations: int, repeats: int = 3) -> float:
    """Wall ms per iteration of a whole Leduc evaluation of the seed (sandbox, channel, oracle,
    exploitability at the end), the start-up cost taken out: the difference between a run of
    `iterations` and a run of one, best of `repeats`."""
    task = load_task("cfr")

    def best(n: int) -> float:
        config = CaseConfig(name="leduc2", secret={"game": "leduc_poker", "checkpoints": [n],
                                                  "alternating": True})
        stage = StageConfig(name="bench", cases=[config])
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = task.run_case(stage, Case(config.name, config.inputs, config.secret),
                                   task.seed_code, Sandbox())
            times.append(time.perf_counter() - start)
            assert result.status == "ok", result.reason
        return min(times)

    return (best(iterations) - best(1)) / (iterations - 1) * 1000


def speed(iterations: int, openspiel_repeats: int) -> None:
    import pyspiel
    from open_spiel.python.algorithms import cfr as python_cfr

    step = rule(TASK / "seed.py")
    flatten("leduc_poker")
    start = time.process_time()
    in_process("leduc_poker", step, [iterations])
    ours = (time.process_time() - start) / iterations * 1000
    channel = sandboxed_ms(iterations)
    cpp = pyspiel.CFRPlusSolver(pyspiel.load_game("leduc_poker"))
    cpp_ms = cpu_ms(cpp.evaluate_and_update_policy, 20 * openspiel_repeats)
    slow = python_cfr.CFRPlusSolver(pyspiel.load_game("leduc_poker"))
    python_ms = cpu_ms(slow.evaluate_and_update_policy, openspiel_repeats)
    print(f"| Leduc poker, CFR+ with alternating updates ({iterations} iterations) | "
          "ms per iteration | vs ours |")
    print("|---|---:|---:|")
    print(f"| discovery's oracle, the rule called in-process (CPU) | {ours:.2f} | 1x |")
    print(f"| discovery's evaluation: the rule in the sandbox, one channel round trip per "
          f"player (wall) | {channel:.2f} | {channel / ours:.1f}x |")
    print(f"| OpenSpiel C++ `CFRPlusSolver` (CPU) | {cpp_ms:.2f} | {cpp_ms / ours:.1f}x slower |")
    print(f"| OpenSpiel Python `CFRPlusSolver` (CPU) | {python_ms:.1f} | "
          f"{python_ms / ours:.0f}x slower |")


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
                        help="seconds: 50 iterations, Kuhn and Leduc, checkpoints 10 and 25")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as in an evaluation: the figures are its
    if args.quick:
        speed(50, openspiel_repeats=1)
        baselines([10, 25], ["kuhn3", "leduc2"])
        return
    speed(args.iterations, openspiel_repeats=5)
    if not args.skip_baselines:
        baselines([c for c in (100, 250, 500, 1000) if c <= args.iterations], None)


if __name__ == "__main__":
    main()
