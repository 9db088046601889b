"""`discover report RUN`: a run's best program against its task's seed and baselines, for tasks
that name a curve (task.toml `report_curve`, e.g. exploitability at checkpoints t).

Writes into `<run>/report/`: one PNG per stage kind (train games, held-out games), a panel per
game with the curve against t on a log scale, and `report.md`, a table of per-game scores
(mean -log10 of the curve over the checkpoints, the task's own fitness) where differences
smaller than the noise are called ties. The best program's train curves come from its archived
evaluation; everything else is evaluated here, in the sandbox, case by case (so a baseline that
cannot play one game, like the two-player Nash solver on 3-player Kuhn, still draws the rest),
and cached per evaluator version in `baselines.json`.
"""

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from archive import ArchiveReader
from evaluators.sandbox import Executor
from evaluators.scoring import log_checkpoints
from evaluators.task import Case, StageConfig, Task, TaskError

NOISE = 0.02
"""Per-game score differences below this (mean -log10 units: about 5% in the curve) are ties:
CFR+ on Leduc moves about this much from the summation order alone."""

KINDS = ("train", "held_out")


@dataclass
class Line:
    """One program's curves: kind -> game -> {t: value}; games it could not play -> reason."""

    name: str
    curves: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def score(self, kind: str, game: str) -> float | None:
        curve = self.curves.get(kind, {}).get(game)
        return log_checkpoints(curve, "curve").score if curve else None

    def mean(self, kind: str, games: list[str]) -> float | None:
        scores = [self.score(kind, g) for g in games]
        return None if not scores or None in scores else sum(scores) / len(scores)


def stages(task: Task) -> dict[str, StageConfig]:
    """The stage each kind reports: the last search stage, and the held-out stage."""
    found = {"train": task.config.stages[-1]}
    if task.config.held_out is not None:
        found["held_out"] = task.config.held_out
    return found


def curves_from_metrics(task: Task, stage: StageConfig, metrics: dict, prefix: str = ""
                        ) -> dict[str, dict[int, float]]:
    """A stage's curves out of an evaluation's metrics (`[prefix][case_]<curve>_<t>`)."""
    curves = {}
    for case in stage.cases:
        head = prefix + (f"{case.name}_" if len(stage.cases) > 1 else "")
        pattern = re.compile(rf"^{re.escape(head + task.config.report_curve)}_(\d+)$")
        points = {int(m.group(1)): float(v) for k, v in metrics.items()
                  if (m := pattern.match(k))}
        if points:
            curves[case.name] = dict(sorted(points.items()))
    return curves


def evaluate_line(task: Task, name: str, code: str, executor: Executor,
                  kinds: tuple[str, ...] = KINDS, line: Line | None = None,
                  say: Callable[[str], None] = print) -> Line:
    """Run a program on every case of the given kinds, one case at a time."""
    line = line or Line(name)
    for kind, stage in stages(task).items():
        if kind not in kinds:
            continue
        for config in stage.cases:
            say(f"{name}: {kind} game {config.name}")
            result = task.run_case(stage, Case(config.name, config.inputs, config.secret),
                                   code, executor)
            if result.status != "ok":
                line.problems[config.name] = f"{result.status}: {result.reason}"
                continue
            single = stage.model_copy(update={"cases": [config]})
            line.curves.setdefault(kind, {}).update(
                curves_from_metrics(task, single, result.metrics.public))
    return line


def baseline_programs(task: Task) -> dict[str, str]:
    """The seed and every program in the task's baselines/ folder, by name."""
    programs = {"seed": task.seed_code}
    for path in sorted((task.root / "baselines").glob("*.py")):
        programs[path.stem] = path.read_text(encoding="utf-8")
    return programs


def baseline_lines(task: Task, executor: Executor, cache: Path,
                   say: Callable[[str], None] = print, workers: int = 1) -> list[Line]:
    """Every baseline's curves, from the cache when it was made by this evaluator version;
    otherwise `workers` baselines are evaluated at a time."""
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("evaluator_version") == task.version:
            return [_line(entry) for entry in saved["lines"]]
    with ThreadPoolExecutor(workers) as pool:
        lines = list(pool.map(lambda item: evaluate_line(task, *item, executor, say=say),
                              baseline_programs(task).items()))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"evaluator_version": task.version,
                                 "lines": [asdict(line) for line in lines]}, indent=1))
    return lines


def _line(entry: dict) -> Line:
    curves = {kind: {game: {int(t): v for t, v in points.items()}
                     for game, points in games.items()}
              for kind, games in entry["curves"].items()}
    return Line(entry["name"], curves, entry["problems"])


def best_line(task: Task, reader: ArchiveReader, executor: Executor,
              say: Callable[[str], None] = print) -> Line:
    best = reader.best()
    if best is None:
        raise TaskError("the run has no scored program yet: nothing to report")
    final = next(e for e in reader.evaluations(best.id) if e.final)
    line = Line(f"best (#{best.id})")
    by_kind = stages(task)
    line.curves["train"] = curves_from_metrics(task, by_kind["train"], final.public_metrics)
    if "held_out" in by_kind:
        # the campaign evaluates its best on the held-out games when it stops
        stops = [data.get("held_out") for _, _, data in reader.events("campaign_stopped", 20)
                 if data.get("program") == best.id and data.get("held_out")]
        held_out = curves_from_metrics(task, by_kind["held_out"], stops[0],
                                       prefix="held_out_") if stops else {}
        if held_out:
            line.curves["held_out"] = held_out
        else:  # it stopped before that evaluation (killed), or found this best later
            evaluate_line(task, line.name, best.code, executor, kinds=("held_out",), line=line,
                          say=say)
    return line


def plot(task: Task, kind: str, lines: list[Line], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    games = [c.name for c in stages(task)[kind].cases]
    figure, axes = pyplot.subplots(1, len(games), figsize=(4.2 * len(games), 3.6),
                                   squeeze=False)
    for axis, game in zip(axes[0], games, strict=True):
        for index, line in enumerate(lines):
            curve = line.curves.get(kind, {}).get(game)
            if not curve:
                continue
            best = index == 0  # the same colour for a program in every panel
            axis.plot(list(curve), [max(v, 1e-15) for v in curve.values()], marker="o",
                      markersize=3, label=line.name, color="black" if best else f"C{index}",
                      linewidth=2.4 if best else 1.2, zorder=3 if best else 2,
                      linestyle="--" if line.name == "seed" else "-")
        axis.set_yscale("log")
        axis.set_title(game)
        axis.set_xlabel("iteration")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel(task.config.report_curve)
    axes[0][-1].legend(fontsize=7)
    figure.suptitle(f"{task.name}: {kind.replace('_', '-')} games")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def table(task: Task, lines: list[Line]) -> str:
    """Markdown: each program's per-game score, and how it compares with the best."""
    out = []
    best = lines[0]
    for kind, stage in stages(task).items():
        games = [c.name for c in stage.cases]
        out += [f"### {kind.replace('_', '-')} games (score: mean -log10 "
                f"{task.config.report_curve} over the checkpoints; higher is better)", "",
                "| program | mean | " + " | ".join(games) + " |",
                "|---|---:|" + "---:|" * len(games)]
        for line in lines:
            cells = []
            for game in games:
                score, ref = line.score(kind, game), best.score(kind, game)
                if score is None:
                    cells.append("n/a")
                elif line is best or ref is None:
                    cells.append(f"{score:.3f}")
                else:
                    mark = "tie" if abs(score - ref) < NOISE else \
                        ("better" if score > ref else "worse")
                    cells.append(f"{score:.3f} ({mark})")
            mean = line.mean(kind, games)
            out.append(f"| {line.name} | {'n/a' if mean is None else f'{mean:.3f}'} | "
                       + " | ".join(cells) + " |")
        out.append("")
    problems = [f"- {line.name}, {game}: {why}" for line in lines
                for game, why in line.problems.items()]
    if problems:
        out += ["Games a program could not play:", "", *problems, ""]
    out.append(f"Differences under {NOISE} (about {100 * (10 ** NOISE - 1):.0f}% in the curve) "
               "are ties: within the noise of the games themselves.")
    return "\n".join(out) + "\n"


def write_report(reader: ArchiveReader, task: Task, executor: Executor, out: Path,
                 say: Callable[[str], None] = print, workers: int = 1) -> list[Path]:
    if task.config.report_curve is None:
        raise TaskError(f"task {task.name!r} names no curve to plot (task.toml report_curve); "
                        "`discover status` shows its scores")
    campaign = reader.campaign()
    if campaign.evaluator_version != task.version:
        raise TaskError(f"the run was scored by evaluator {campaign.evaluator_version}, but the "
                        f"task is now {task.version}: its curves would not compare; report it "
                        "with the task files it was run with")
    out.mkdir(parents=True, exist_ok=True)
    lines = [best_line(task, reader, executor, say),
             *baseline_lines(task, executor, out / "baselines.json", say, workers)]
    written = []
    for kind in stages(task):
        path = out / f"{task.config.report_curve}_{kind}.png"
        plot(task, kind, lines, path)
        written.append(path)
    markdown = out / "report.md"
    markdown.write_text(f"# {campaign.name}: {task.name}\n\nEvaluator {task.version}; plots: "
                        + ", ".join(p.name for p in written) + "\n\n" + table(task, lines))
    written.append(markdown)
    return written
