"""The CFR task's reference figures, in one run: (1) speed of our vectorised engine against
OpenSpiel's C++ `CFRPlusSolver` and its Python CFR+ (the only OpenSpiel path that could host a
model-written rule) on Leduc poker, both with alternating updates; (2) exploitability of every
baseline (the seed CFR+, CFR, Linear CFR, DCFR, PCFR+, PDCFR+) at each checkpoint on each train
game, the table in evaluators/tasks/cfr/README.md. Prints Markdown; asserts nothing.

    .venv/bin/python bench/cfr_bench.py [--iterations 1000] [--skip-baselines]
"""

import argparse
import importlib.util
import sys
import time
import tomllib

import numpy as np

from evaluators.task import TASKS_DIR, task_folders

TASK = task_folders()["cfr"]
sys.path.insert(0, str(TASKS_DIR / "games" / "_shared"))
from cfr_engine import run  # noqa: E402
from cfr_games import flatten  # noqa: E402

BASELINES = {"CFR+ (seed)": TASK / "seed.py", "CFR": TASK / "baselines" / "cfr.py",
             "Linear CFR": TASK / "baselines" / "linear_cfr.py",
             "DCFR (1.5, 0, 2)": TASK / "baselines" / "dcfr.py",
             "PCFR+": TASK / "baselines" / "pcfr_plus.py",
             "PDCFR+ (2.3, 5)": TASK / "baselines" / "pdcfr_plus.py"}


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


def speed(iterations: int) -> None:
    import pyspiel
    from open_spiel.python.algorithms import cfr as python_cfr

    game = flatten("leduc_poker").game
    arrays = game.to_arrays()
    step = rule(TASK / "seed.py")
    start = time.process_time()
    run(arrays, step, [iterations])
    ours = (time.process_time() - start) / iterations * 1000
    cpp = pyspiel.CFRPlusSolver(pyspiel.load_game("leduc_poker"))
    cpp_ms = cpu_ms(cpp.evaluate_and_update_policy, 100)
    slow = python_cfr.CFRPlusSolver(pyspiel.load_game("leduc_poker"))
    python_ms = cpu_ms(slow.evaluate_and_update_policy, 5)
    print("| Leduc poker, CFR+ with alternating updates | CPU ms per iteration | vs ours |")
    print("|---|---:|---:|")
    print(f"| discovery's engine (numpy; the rule is a Python function) | {ours:.2f} | 1x |")
    print(f"| OpenSpiel C++ `CFRPlusSolver` | {cpp_ms:.2f} | {cpp_ms / ours:.1f}x slower |")
    print(f"| OpenSpiel Python `CFRPlusSolver` | {python_ms:.1f} | "
          f"{python_ms / ours:.0f}x slower |")


def baselines(iterations: int) -> None:
    config = tomllib.loads((TASK / "task.toml").read_text())
    train = next(s for s in config["stages"] if s["name"] == "train")["cases"]
    checkpoints = [c for c in (100, 250, 500, 1000) if c <= iterations]
    print("\n| rule | game | " + " | ".join(f"expl. @{c}" for c in checkpoints)
          + " | case score |")
    print("|---|---|" + "---:|" * (len(checkpoints) + 1))
    for label, path in BASELINES.items():
        step = rule(path)
        for case in train:
            game = flatten(case["inputs"]["game"]).game
            policies = run(game.to_arrays(), step, checkpoints)["average_policies"]
            values = [game.nash_conv(np.array(policies[str(c)])) / game.num_players
                      for c in checkpoints]
            score = np.mean([-np.log10(max(v, 1e-15)) for v in values])
            print(f"| {label} | {case['name']} | " + " | ".join(f"{v:.3g}" for v in values)
                  + f" | {score:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    speed(args.iterations)
    if not args.skip_baselines:
        baselines(args.iterations)


if __name__ == "__main__":
    main()
