"""The memory tasks' reference figures: every baseline memory (and the seed, no memory) through
the whole evaluation path (the memory in the sandbox on warm workers, the stream, the agent and
the scoring on the trusted side), the table in evaluators/tasks/memory/<task>/README.md. The
memory tasks share their seed and baselines (memory/_shared/). For babyai_memory, also
BabyAIBot's success in the real levels on every task of the last stage: BabyAI's expert bot,
which has no memory between episodes. Prints Markdown; asserts nothing. `--quick` (seconds; for
CI) runs the smoke stage only.

    .venv/bin/python bench/memory_bench.py [--quick] [--held-out] [--task gridworld_memory]
"""

import argparse
import statistics
import time

from discovery.report import baseline_programs
from evaluators.task import Task, load_task
from evaluators.workers import WorkerPool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gridworld_memory")
    parser.add_argument("--quick", action="store_true", help="the smoke stage only (seconds)")
    parser.add_argument("--held-out", action="store_true", help="also the held-out stage")
    args = parser.parse_args()
    task = load_task(args.task)
    if args.quick:  # the smoke stage alone is a complete evaluation
        task.config = task.config.model_copy(update={"stages": task.config.stages[:1],
                                                     "held_out": None})
    print("| program | stage | reward | no memory | gain ± se | retrieved kB | held-out "
          "reward | held-out gain | seconds |\n|---|---|---:|---:|---:|---:|---:|---:|---:|")
    held_out_rows = {}
    with WorkerPool(size=1) as pool:
        for name, code in baseline_programs(task).items():
            start = time.perf_counter()
            final = task.evaluate(code, pool, held_out=args.held_out)[-1]
            seconds = time.perf_counter() - start
            if final.status != "ok":
                print(f"| {name} | {final.stage} | {final.status}: {final.reason} |")
                continue
            held_out_rows[name] = final.private_metrics
            print(f"| {name} | {final.stage} | {final.score:.3f} | "
                  f"{mean(final.public_metrics, 'no_memory'):.3f} | "
                  f"{mean(final.public_metrics, 'gain'):+.3f} ± "
                  f"{mean(final.public_metrics, 'gain_se'):.3f} | "
                  f"{mean(final.public_metrics, 'retrieved_kb'):.2f} | "
                  f"{held_out(final.private_metrics)} | {seconds:.1f} |")
    if args.held_out:
        held_out_cases(task, held_out_rows)
    if task.config.name == "babyai_memory":
        babyai_bot(task)


def babyai_bot(task: Task) -> None:
    """BabyAIBot on every task of the last stage's cases, in the real minigrid levels: its
    success within the level's own step limit and within the cases' budget."""
    from babyai_worlds import bot_success

    scorer = task.scorer.SCORER
    runs = []
    for config in task.config.stages[-1].cases:
        case = scorer.case(config.secret)
        runs += [(*bot_success(t), case.budget) for t in scorer.tasks(case)]
    print(f"\nBabyAIBot (real minigrid dynamics: turns, doors; no memory) on the "
          f"{len(runs)} tasks of the {task.config.stages[-1].name} stage: success "
          f"{statistics.fmean(done for done, _, _ in runs):.3f}, within the cases' budget "
          f"{statistics.fmean(done and steps <= budget for done, steps, budget in runs):.3f}, "
          f"mean steps {statistics.fmean(steps for _, steps, _ in runs):.1f}")


def held_out_cases(task: Task, rows: dict[str, dict]) -> None:
    """Held-out reward per case (gain over no memory in brackets): which kind of shift a
    memory survives (unseen worlds, sequential mode, a domain not searched on)."""
    cases = [case.name for case in task.config.held_out.cases]
    print(f"\n| program | {' | '.join(cases)} |\n|---|{'---:|' * len(cases)}")
    for name, private in rows.items():
        cells = [f"{private[f'held_out_{c}_reward']:.3f} ({private[f'held_out_{c}_gain']:+.3f})"
                 if f"held_out_{c}_reward" in private else "-" for c in cases]
        print(f"| {name} | {' | '.join(cells)} |")


def mean(metrics: dict, name: str, prefix: str = "") -> float:
    """A metric's mean over the stage's cases (named `<prefix><case>_<name>` when there are
    several)."""
    values = [v for k, v in metrics.items() if k.startswith(prefix)
              and (k == prefix + name or k.endswith(f"_{name}"))]
    return sum(values) / len(values)


def held_out(private: dict) -> str:
    if "held_out_status" not in private:
        return "- | -"
    if private["held_out_status"] != "ok":
        return f"{private['held_out_status']} | -"
    return f"{private['held_out_score']:.3f} | {mean(private, 'gain', 'held_out_'):+.3f}"


if __name__ == "__main__":
    main()
