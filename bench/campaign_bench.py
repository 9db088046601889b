"""Framework cost of one campaign iteration as the archive grows: an instant model (answers a
valid rewrite at once) and an instant executor (no sandbox), so what is left is ours: planning
(parent selection, inspirations, context), the edit and novelty checks, scoring, the one-
transaction commit, and the best-program export. CPU time per iteration at 1k, 10k and 100k
archived programs, and its ratio to the smallest archive's (measured in the same run): how far
the loop's cost grows with the archive. Prints Markdown; asserts nothing.

    .venv/bin/python bench/campaign_bench.py [--sizes 1000 10000 100000] [--iterations 200]
    .venv/bin/python bench/campaign_bench.py --quick   # seconds: 100 and 1000 programs
"""

import argparse
import contextlib
import random
import tempfile
import time
from pathlib import Path

import discovery.loop.campaign as campaign_module
from archive import EvaluationResult, NewProgram
from archive.records import ModelCall
from discovery.config import load_config
from discovery.loop.campaign import Campaign
from discovery.models.base import Completion
from evaluators.sandbox import DEFAULT_LIMITS, Limits, Oracle, Run

SEED = "# EVOLVE-BLOCK-START\ndef f():\n    return {value!r}\n# EVOLVE-BLOCK-END\n"


def trivial_task(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "task.toml").write_text(
        'name = "bench"\nsummary = "Return a large number."\nentry = "f"\n'
        '[[stages]]\nname = "only"\ncases = [{ name = "c" }]\n')
    (root / "seed.py").write_text(SEED.format(value=0.0))
    (root / "description.md").write_text("Return a large number.\n")
    (root / "scorer.py").write_text(
        "from evaluators.scoring import Metrics, finite_number\n\n"
        "def score(stage, case, outputs, oracle):\n"
        "    return Metrics(finite_number(outputs, 'f()'), {'value': outputs})\n")
    return root


class InstantModel:
    """Answers every prompt at once with a new, valid block."""

    def __init__(self, spec):
        self.spec = spec
        self.rng = random.Random(0)

    def complete(self, messages, *, purpose="propose", seed=None, temperature=None,
                 reference=None, json_mode=False) -> Completion:
        text = f"```python\ndef f():\n    return {self.rng.random():.12f}\n```"
        call = ModelCall(self.spec.name, purpose, 100, 20, 0.0, 0.0, raw_response=text)
        return Completion(self.spec.name, text, 100, 20, 0.0, 0.0, (call,))


class InstantExecutor:
    """Reads the returned constant from the code instead of running it."""

    level = "none"

    def run(self, code: str, entry: str, inputs: dict, limits: Limits = DEFAULT_LIMITS,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        value = float(code.split("return ", 1)[1].split("\n", 1)[0])
        return Run("ok", outputs=value, resources={"cpu_s": 0.0})

    def close(self) -> None:
        pass


def prefill(campaign: Campaign, n: int, rng: random.Random) -> None:
    writer, version_islands = campaign.writer, campaign.config.selection.islands
    with writer.batch():
        for i in range(n):
            parents = (rng.randrange(1, i + 1),) if i >= version_islands else ()
            pid = writer.add_program(NewProgram(SEED.format(value=rng.random()), parents=parents,
                                                island=i % version_islands, edit_kind="llm"))
            writer.record_evaluation(pid, EvaluationResult("only", "ok", score=rng.random()))
            writer.log_event("iteration", {"n": i, "op": "llm", "program": pid}, pid)


def measure(root: Path, n: int, iterations: int) -> tuple[float, float]:
    """CPU and wall ms per iteration after n archived programs."""
    task_root = trivial_task(root / "task")
    root.joinpath("runs").mkdir()
    config = load_config(str(task_root), None, [
        f"runs_dir={str(root / 'runs')!r}", "name='b'", 'models=[{name="instant"}]',
        f"budgets.iterations={n + iterations}", "executor='fresh'", "edits.tune_share=0",
        "edits.restart_share=0"])
    campaign = Campaign.start(config, lambda event: None)
    prefill(campaign, n, random.Random(1))
    campaign.done = set(range(n))
    campaign.clients = {"instant": InstantModel(config.models[0])}
    # the campaign builds its executor by name: hand it the instant one instead
    campaign_module.open_executor = \
        lambda kind, size, preload=(), **_: contextlib.nullcontext(InstantExecutor())
    cpu, wall = time.process_time(), time.perf_counter()
    campaign.run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    campaign.close()
    per = 1000 / iterations
    return cpu * per, wall * per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: --sizes 100 1000 --iterations 20")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.iterations = [100, 1000], 20
    print("| archived programs | iterations timed | CPU ms per iteration | wall ms per iteration "
          f"| CPU vs {args.sizes[0]:,} programs |")
    print("|---:|---:|---:|---:|---:|")
    baseline = None
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            cpu, wall = measure(Path(tmp), n, args.iterations)
        baseline = baseline or cpu
        print(f"| {n:,} | {args.iterations} | {cpu:.2f} | {wall:.2f} | {cpu / baseline:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
