"""The PSRO task's reference table, in one run: exploitability of every meta-solver baseline
(the seed Uniform, Nash by LP, projected replicator dynamics, regret matching, alpha-Rank,
SHOR-PSRO with its evaluation-time solver) at each checkpoint on each train and held-out game,
and the CPU seconds of each whole PSRO run (exact best responses and payoffs included). This
is the table in evaluators/tasks/games/psro/README.md.
Runs in-process (no sandbox), so the seconds are PSRO's own; BLAS on one thread, as in an
evaluation (the sandbox pins the solver's, the evaluator the oracle's), so the figures are a
campaign's. Prints Markdown; asserts nothing. `--quick` (seconds; CI runs it): the train games
to PSRO iteration 10 only.

    .venv/bin/python bench/psro_bench.py [--games kuhn3,leduc2] [--solvers seed,rm] [--stage train]
                                         [--quick]
"""

import argparse
import importlib.util
import sys
import time
import tomllib

from threadpoolctl import threadpool_limits

from evaluators.scoring import log_checkpoints
from evaluators.task import TASKS_DIR, task_folders

TASK = task_folders()["psro"]
sys.path[:0] = [str(TASK), str(TASKS_DIR / "games" / "_shared")]
from cfr_games import flatten  # noqa: E402
from psro_loop import RuleError, run  # noqa: E402
from psro_oracle import PSRO  # noqa: E402

SOLVERS = {"seed": TASK / "seed.py", **{p.stem: p for p in sorted(
    (TASK / "baselines").glob("*.py"))}}


def solvers_of(path):
    """The file's (training-time meta_solver, evaluation-time eval_solver or None)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.meta_solver, getattr(module, "eval_solver", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", help="comma-separated case names (default: all)")
    parser.add_argument("--solvers", help=f"comma-separated, of {', '.join(SOLVERS)}")
    parser.add_argument("--stage", choices=("train", "held-out"),
                        help="one stage's cases only (the sweep repeats the train games)")
    parser.add_argument("--quick", action="store_true",
                        help="seconds: the train games, checkpoints 5 and 10")
    args = parser.parse_args()
    config = tomllib.loads((TASK / "task.toml").read_text())
    cases = [(kind, case) for kind, stage in (("train", config["stages"][-1]),
                                              ("held-out", config["held_out"]))
             for case in stage["cases"]]
    if args.quick:
        cases = [(kind, {**case, "secret": {**case["secret"], "checkpoints": [5, 10]}})
                 for kind, case in cases if kind == "train"]
    if args.stage:
        cases = [(k, c) for k, c in cases if k == args.stage]
    if args.games:
        cases = [(k, c) for k, c in cases if c["name"] in args.games.split(",")]
    solvers = args.solvers.split(",") if args.solvers else list(SOLVERS)
    threadpool_limits(limits=1, user_api="blas")
    print("| meta-solver | game | exploitability at the checkpoints | case score | CPU s |")
    print("|---|---|---|---:|---:|")
    for name in solvers:
        solver, eval_solver = solvers_of(SOLVERS[name])
        for kind, case in cases:
            checkpoints = case["secret"]["checkpoints"]
            psro = PSRO(flatten(case["secret"]["game"]).game, max(checkpoints))
            start = time.process_time()
            try:
                run(solver, lambda *a, psro=psro: psro(list(a)), eval_solver)
            except (RuleError, ValueError) as exc:
                print(f"| {name} | {case['name']} ({kind}) | n/a: {exc} | | |", flush=True)
                continue
            seconds = time.process_time() - start
            values = {t: psro.exploitability[t] for t in checkpoints}
            score = log_checkpoints(values, "exploitability").score
            points = ", ".join(f"@{t} {v:.3g}" for t, v in values.items())
            print(f"| {name} | {case['name']} ({kind}) | {points} | {score:.3f} | "
                  f"{seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
