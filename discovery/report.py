"""`discover report RUN`: a picture of a campaign, for every task.

Writes into `<run>/report/` PNGs and `report.md`, which embeds them under a short summary table
(best program, iterations, valid rate, failures by reason, tokens and cost):

- the best score so far and every score against iterations, wall time and model cost (tokens
  when the models cost nothing), one colour per island;
- failed iterations per window of iterations, stacked by reason, the commonest reasons named.

The series come from the iteration events the campaign loop logs, one per committed iteration;
an archive without them (`discover demo`) is read program by program instead. Whatever a run
lacks (no valid program, no model calls, a task that no longer loads) is said on the page: a
report never fails for want of data.

Tasks that name a curve (task.toml `report_curve`, e.g. exploitability at checkpoints t, or a
learning curve's return at environment steps t) also get the best program against the task's
seed and baselines: one PNG per stage kind (train, held-out), a panel per game (a case, or a
series within one: an RL suite's runs) with the curve against t, on a log scale for a curve to
drive down (`report_curve_scale`), and a table of per-panel scores (mean -log10 of the curve
over the checkpoints, the task's own fitness; for a linear curve its mean, the area under it)
where differences smaller than the noise are called ties. The best program's train curves come from
its archived evaluation; everything else is evaluated here, in the sandbox, case by case (so a
baseline that cannot play one game, like the two-player Nash solver on 3-player Kuhn, still
draws the rest), and cached per evaluator version in `baselines.json`.
"""

import bisect
import collections
import itertools
import json
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from archive import ArchiveReader, Campaign, Program
from archive.reasons import reason_key
from archive.records import HeldOut
from discovery import sanitize
from discovery.double_label import campaign_label
from discovery.loop.liveness import RunState, run_state
from discovery.views import iteration_counts, score_text
from evaluators.sandbox import Executor
from evaluators.scoring import log_checkpoints
from evaluators.task import Case, StageConfig, Task, TaskError, load_task

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from evaluators.agent_model import AgentModel

NOISE = 0.02
"""Per-game score differences below this (mean -log10 units: about 5% in the curve) are ties:
CFR+ on Leduc moves about this much from the summation order alone."""

LINEAR_NOISE = 0.05
"""For a linear curve (a learning curve's area), differences below this share of the larger
magnitude are ties: PPO's area moves by about that between sets of 8 seeds."""

KINDS = ("train", "held_out")

NO_PROGRAM = "no program"
"""The status of an iteration that committed no program (an edit refused, a model call failed)."""

FAILURE_BARS = 40
"""About this many windows of iterations in the failures plot, however long the run."""

FAILURE_REASONS = 6
"""Reasons named in the failures plot; the rest are stacked together as "other reasons"."""

FAILURE_ROWS = 15
"""Reasons listed in report.md's failures table, commonest first."""


# -- the campaign's history: one step per iteration ------------------------------------------

@dataclass(frozen=True, slots=True)
class Step:
    """One committed iteration, as the plots see it."""

    time_s: float
    """Seconds from the campaign's creation to the commit."""
    island: int
    status: str
    """The program's final status, or NO_PROGRAM."""
    reason: str | None
    score: float | None
    """Set for ok programs scored by the campaign's current evaluator only: scores from an older
    evaluator do not compare with today's (the archive does not rank them either)."""
    tokens: int
    cost: float
    """Model tokens and dollars spent from the start up to this commit."""

    @property
    def failure(self) -> str | None:
        """The failure as "status: reason", the reason grouped as
        `ArchiveReader.failures_by_reason` groups it (`reason_key`: its numbers as N); None for
        an ok iteration."""
        if self.status == "ok":
            return None
        return f"{self.status}: {reason_key(self.reason)}"


@dataclass(frozen=True)
class History:
    steps: list[Step]
    from_events: bool
    """False for an archive without iteration events (`discover demo`): one step per program."""
    older_scores: int
    """Ok programs left out of the score series: scored by an earlier evaluator version."""

    def failures(self) -> collections.Counter[str]:
        return collections.Counter(s.failure for s in self.steps if s.failure is not None)


def history(reader: ArchiveReader) -> History:
    """Every committed iteration in commit order, with the spending up to each.

    Commit order, not iteration number: with parallel workers iterations commit out of order,
    and "after k iterations" is what a reader of the plots means."""
    start = reader.campaign().created_at
    current = {pid: score for pid, _, score, _, _ in reader.scored()}
    calls = reader.model_spending()
    call_times = [t for t, _, _ in calls]
    spent = list(itertools.accumulate(((tokens, cost) for _, tokens, cost in calls),
                                      lambda a, b: (a[0] + b[0], a[1] + b[1]),
                                      initial=(0, 0.0)))
    events = [(t, data) for t, _, data in reversed(reader.events("iteration", limit=10**9))]
    if events:
        # an iteration's calls commit in its transaction, before its event
        rows = [(t, t, d["island"], d["status"], d["reason"], d["program"]) for t, d in events]
    else:
        # a program's calls may be written after it: its iteration lasts until the next one
        nodes = [n for n in reader.lineage_rows()[0] if n[1] != "pending"]
        ends = [*(n[7] for n in nodes[1:]), math.inf][:len(nodes)]
        reasons = {p: _final_reason(reader, p) for p, status, *_ in nodes if status != "ok"}
        rows = [(created, end, island, status, reasons.get(pid), pid)
                for (pid, status, _, island, _, _, _, created), end in zip(nodes, ends,
                                                                           strict=True)]
    steps = []
    for time, end, island, status, reason, program in rows:
        tokens, cost = spent[bisect.bisect_right(call_times, end)]
        steps.append(Step(time - start, island, status, reason,
                          current.get(program) if status == "ok" else None, tokens, cost))
    ok = sum(s.status == "ok" for s in steps)
    return History(steps, bool(events), ok - sum(s.score is not None for s in steps))


def _final_reason(reader: ArchiveReader, program_id: int) -> str | None:
    return next((e.reason for e in reader.evaluations(program_id) if e.final), None)


def best_so_far(x: Sequence[float], steps: Sequence[Step]) -> list[tuple[float, float]]:
    """(x, best score up to there) at every scored step, held to the last x."""
    points: list[tuple[float, float]] = []
    for xi, step in zip(x, steps, strict=True):
        if step.score is not None:
            points.append((xi, step.score if not points else max(points[-1][1], step.score)))
    if points and points[-1][0] != x[-1]:
        points.append((x[-1], points[-1][1]))
    return points


@dataclass(frozen=True)
class Axis:
    """An x-axis of the score plots: a value per step, what it measures, the file it names."""

    name: str
    title: str
    label: str
    values: list[float]


def _duration_unit(seconds: float) -> tuple[str, float]:
    """The unit a span of time reads best in, and its length in seconds."""
    return ("hours", 3600) if seconds > 7200 else ("minutes", 60) if seconds > 120 \
        else ("seconds", 1)


def score_axes(steps: Sequence[Step]) -> tuple[list[Axis], list[str]]:
    """Iterations, wall time, and cost (or tokens, when the models were free); notes for the
    axes a run has no data for."""
    unit, seconds = _duration_unit(steps[-1].time_s)
    axes = [Axis("iterations", "iterations", "iterations done",
                 [i + 1.0 for i in range(len(steps))]),
            Axis("wall_time", "wall time", f"wall time ({unit} since the campaign started)",
                 [s.time_s / seconds for s in steps])]
    if steps[-1].cost > 0:
        axes.append(Axis("cost", "model cost", "model cost so far ($)",
                         [s.cost for s in steps]))
        return axes, []
    if steps[-1].tokens > 0:
        axes.append(Axis("cost", "model tokens", "model tokens so far (the models cost nothing)",
                         [float(s.tokens) for s in steps]))
        return axes, []
    return axes, ["score against model cost: the run made no model calls"]


@dataclass(frozen=True)
class FailureWindows:
    window: int
    """Iterations per bar."""
    counts: dict[str, list[int]]
    """Failure ("status: reason", or "other reasons") -> failed iterations in each window."""

    @property
    def starts(self) -> list[int]:
        """The first iteration of each window."""
        return [1 + i * self.window for i in range(len(next(iter(self.counts.values()))))]


def failure_windows(past: History, bars: int = FAILURE_BARS,
                    named: int = FAILURE_REASONS) -> FailureWindows:
    """Failed iterations per window of iterations, by failure: the `named` commonest apart."""
    steps, total = past.steps, past.failures()
    window = max(1, math.ceil(len(steps) / bars))
    top = [failure for failure, _ in total.most_common(named)]
    counts = {failure: [0] * math.ceil(len(steps) / window)
              for failure in top + (["other reasons"] if len(total) > named else [])}
    for i, step in enumerate(steps):
        if step.failure is not None:
            counts[step.failure if step.failure in top else "other reasons"][i // window] += 1
    return FailureWindows(window, counts)


# -- plots ----------------------------------------------------------------------------------

def _pyplot() -> ModuleType:
    """pyplot on the file-only Agg backend, imported on first use: it costs half a second."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _save(figure: "Figure", path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    _pyplot().close(figure)


def plot_scores(title: str, steps: Sequence[Step], axis: Axis, path: Path,
                held: HeldOut | None = None) -> None:
    """Every score as a dot in its island's colour, each island's best so far as a thin line,
    the campaign's best so far in black, and the held-out score measured at the stop as a
    diamond at the end, where the gap to the search score shows."""
    pyplot = _pyplot()
    figure, plot = pyplot.subplots(figsize=(8, 4.6))
    for colour, island in enumerate(sorted({s.island for s in steps})):
        mine = [(x, s) for x, s in zip(axis.values, steps, strict=True) if s.island == island]
        scored = [(x, s.score) for x, s in mine if s.score is not None]
        if not scored:
            continue
        plot.scatter(*zip(*scored, strict=True), s=14, alpha=0.6, color=f"C{colour % 10}",
                     label=f"island {island}", linewidths=0, zorder=4)
        line = best_so_far([x for x, _ in mine], [s for _, s in mine])
        plot.step(*zip(*line, strict=True), where="post", color=f"C{colour % 10}",
                  linewidth=1, alpha=0.9)
    line = best_so_far(axis.values, steps)
    plot.step(*zip(*line, strict=True), where="post", color="black", linewidth=2.2,
              label="best so far (all islands)", zorder=3)
    if held is not None and held.score is not None:
        plot.scatter([axis.values[-1]], [held.score], marker="D", s=60, color="crimson",
                     zorder=5, label=f"held-out score of #{held.program_id}: "
                                     f"{score_text(held.score)} (gap {_signed(held.gap)})")
    plot.set_xlabel(axis.label)
    plot.set_ylabel("score (higher is better)")
    plot.set_title(sanitize.mathtext(title))
    plot.grid(True, alpha=0.3)
    plot.legend(fontsize=7, loc="lower right", markerscale=1.5)
    _save(figure, path)


def plot_failures(title: str, windows: FailureWindows, path: Path) -> None:
    pyplot = _pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, plot = pyplot.subplots(figsize=(8, 5.2))
    # the bar of a window spans its iterations: 1-10 is drawn from 0.5 to 10.5
    starts = [start - 0.5 for start in windows.starts]
    below = [0] * len(starts)
    for colour, (failure, counts) in enumerate(windows.counts.items()):
        label = sanitize.mathtext(failure if len(failure) <= 80 else failure[:77] + "...")
        plot.bar(starts, counts, width=0.9 * windows.window, bottom=below, align="edge",
                 color="lightgrey" if failure == "other reasons" else f"C{colour}", label=label)
        below = [b + c for b, c in zip(below, counts, strict=True)]
    plot.set_xlabel("iteration")
    plot.set_ylabel(f"failed iterations per {windows.window} iterations" if windows.window > 1
                    else "failed iterations")
    plot.yaxis.set_major_locator(MaxNLocator(integer=True))
    plot.set_title(sanitize.mathtext(title))
    plot.grid(True, axis="y", alpha=0.3)
    plot.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    _save(figure, path)


# -- curves against baselines (tasks with task.toml report_curve) ---------------------------

@dataclass
class Line:
    """One program's curves: kind -> panel (a game) -> {t: value}; games it could not play ->
    reason."""

    name: str
    curves: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def score(self, kind: str, game: str, scale: str = "log") -> float | None:
        curve = self.curves.get(kind, {}).get(game)
        if not curve:
            return None
        return log_checkpoints(curve, "curve").score if scale == "log" \
            else sum(curve.values()) / len(curve)

    def mean(self, kind: str, games: list[str], scale: str = "log") -> float | None:
        scores = [self.score(kind, g, scale) for g in games]
        return None if not scores or None in scores else sum(scores) / len(scores)


def stages(task: Task) -> dict[str, StageConfig]:
    """The stage each kind reports: the last search stage, and the held-out stage."""
    found = {"train": task.config.stages[-1]}
    if task.config.held_out is not None:
        found["held_out"] = task.config.held_out
    return found


def curves_from_metrics(task: Task, stage: StageConfig, metrics: dict, prefix: str = ""
                        ) -> dict[str, dict[int, float]]:
    """A stage's curves out of an evaluation's metrics, by panel: `[prefix]<case>_<curve>_<t>`
    per case of a multi-case stage (a game each), `[prefix][<series>_]<curve>_<t>` per series
    of a single-case one (an RL suite's runs), else the case's name."""
    curve = re.escape(task.config.report_curve)
    several = len(stage.cases) > 1
    curves: dict[str, dict[int, float]] = {}
    for case in stage.cases:
        pattern = re.compile(rf"^{re.escape(prefix + case.name)}_{curve}_(\d+)$" if several
                             else rf"^{re.escape(prefix)}(?:(.+)_)?{curve}_(\d+)$")
        for key, value in metrics.items():
            if m := pattern.match(key):
                panel = case.name if several or m.group(1) is None else m.group(1)
                curves.setdefault(panel, {})[int(m.group(m.lastindex))] = float(value)
    return {panel: dict(sorted(points.items())) for panel, points in curves.items()}


def panels(kind: str, lines: list[Line]) -> list[str]:
    """The games of a kind, in the order the lines first show them."""
    return list(dict.fromkeys(game for line in lines for game in line.curves.get(kind, {})))


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
    return {"seed": task.seed_code, **task.baselines}


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


def best_line(task: Task, reader: ArchiveReader, best: Program, executor: Executor,
              say: Callable[[str], None] = print) -> Line:
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


def titled(title: str, doubled: str | None) -> str:
    """A plot's title, with the campaign's test-double label (double_label) on a second line
    when it has one (each double's part on its own lines, short enough for the narrowest plot):
    a plot is shared without its report, and must say it too."""
    if not doubled:
        return title
    return "\n".join([title, *(textwrap.fill(part, 80) for part in doubled.split("; "))])


def plot(task: Task, kind: str, lines: list[Line], path: Path, doubled: str | None = None
         ) -> None:
    pyplot = _pyplot()
    log = task.config.report_curve_scale == "log"
    games = panels(kind, lines)
    figure, axes = pyplot.subplots(1, len(games), figsize=(4.2 * len(games), 3.6),
                                   squeeze=False)
    for axis, game in zip(axes[0], games, strict=True):
        for index, line in enumerate(lines):
            curve = line.curves.get(kind, {}).get(game)
            if not curve:
                continue
            best = index == 0  # the same colour for a program in every panel
            axis.plot(list(curve), [max(v, 1e-15) if log else v for v in curve.values()],
                      marker="o", markersize=3, label=line.name,
                      color="black" if best else f"C{index}", linewidth=2.4 if best else 1.2,
                      zorder=3 if best else 2, linestyle="--" if line.name == "seed" else "-")
        if log:
            axis.set_yscale("log")
        axis.set_title(game)
        axis.set_xlabel(task.config.report_curve_x)
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel(task.config.report_curve)
    axes[0][-1].legend(fontsize=7)
    figure.suptitle(sanitize.mathtext(titled(f"{task.name}: {kind.replace('_', '-')}",
                                             doubled)))
    _save(figure, path)


def _compare(score: float, ref: float, scale: str) -> str:
    """better, worse, or tie within the noise of the curves themselves."""
    noise = NOISE if scale == "log" else LINEAR_NOISE * max(abs(score), abs(ref))
    return "tie" if abs(score - ref) <= noise else ("better" if score > ref else "worse")


def table(task: Task, lines: list[Line]) -> str:
    """Markdown: each program's per-game score, and how it compares with the best."""
    out = []
    best, scale, curve = lines[0], task.config.report_curve_scale, task.config.report_curve
    measure = f"mean -log10 {curve} over the checkpoints" if scale == "log" \
        else f"mean {curve} over the checkpoints, the area under the curve"
    for kind in stages(task):
        games = panels(kind, lines)
        if not games:
            continue
        # a mean across games means something for -log10 exploitability, not for raw returns
        mean_head = "mean | " if scale == "log" else ""
        out += [f"### {kind.replace('_', '-')} (score: {measure}; higher is better)", "",
                f"| program | {mean_head}" + " | ".join(games) + " |",
                "|---|" + "---:|" * (len(games) + (scale == "log"))]
        for line in lines:
            cells = []
            for game in games:
                score, ref = line.score(kind, game, scale), best.score(kind, game, scale)
                if score is None:
                    cells.append("n/a")
                elif line is best or ref is None:
                    cells.append(f"{score:.3f}")
                else:
                    cells.append(f"{score:.3f} ({_compare(score, ref, scale)})")
            mean = line.mean(kind, games, scale)
            mean_cell = ("n/a" if mean is None else f"{mean:.3f}") + " | " if mean_head else ""
            out.append(f"| {line.name} | {mean_cell}" + " | ".join(cells) + " |")
        out.append("")
    problems = [f"- {line.name}, {game}: {sanitize.markdown(why)}" for line in lines
                for game, why in line.problems.items()]
    if problems:
        out += ["Games a program could not play:", "", *problems, ""]
    out.append(f"Differences under {NOISE} (about {100 * (10 ** NOISE - 1):.0f}% in the curve) "
               "are ties: within the noise of the games themselves." if scale == "log" else
               f"Differences under {100 * LINEAR_NOISE:.0f}% are ties: within the noise of "
               "training itself.")
    return "\n".join(out) + "\n"


# -- the page -------------------------------------------------------------------------------

@dataclass
class Section:
    """Part of report.md, the files it embeds, and what it could not show (and why)."""

    markdown: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class Markdown(str):
    """Text already written as Markdown (untrusted parts escaped): a table cell as it is."""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (Markdown already written is left as it is)."""
    if isinstance(text, Markdown):
        return text
    return text.replace("|", "\\|").replace("`", "\\`").replace("\n", " ")


def state_text(state: RunState) -> str:
    """Whether the campaign runs and why, as Markdown: "finished because budget: iterations",
    "running: pid 7 on host; in flight: model call for iteration 3 (since 12 s)". A stop
    reason may quote a candidate's error, so it is escaped."""
    because = state.state in ("stopped", "finished", "failed")
    text = f"{state.state}{' because' if because else ':'} {sanitize.markdown(state.reason)}"
    if state.in_flight:
        text += "; in flight: " + sanitize.markdown(", ".join(state.in_flight))
    return text


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.6g}"


def held_out_text(held: HeldOut | None, best: Program | None,
                  escape: Callable[[str], str] = str) -> str:
    """The held-out result as one line: its score beside the search score of the same program
    and the gap, or why there is none; the failure reason (the program's words) goes through
    `escape` (`sanitize.markdown` for report.md), the rest is ours."""
    if held is None:
        return ("not measured: the campaign scores its best on the task's held-out stage when "
                "it stops (a task with no held-out stage, a run not stopped yet or stopped by "
                "Ctrl-C has none)")
    which = f"#{held.program_id}" + ("" if best is not None and best.id == held.program_id
                                     else ", the best when the campaign stopped")
    if held.score is None:
        return f"{held.status}" + (f": {escape(held.reason)}" if held.reason else "") + \
            f" ({which})"
    return (f"{score_text(held.score)} (search {score_text(held.search_score)}, gap "
            f"{_signed(held.gap)}; {which}, measured when the campaign stopped)")


def summary_table(reader: ArchiveReader, past: History) -> list[str]:
    summary = reader.summary()
    campaign, counts, best = summary.campaign, summary.counts, summary.best
    done = sum(v for k, v in counts.items() if k != "pending")
    failed = {k: v for k, v in counts.items() if k not in ("ok", "pending") and v}
    iterations, valid, proposals = iteration_counts(reader)
    refused = sum(n for failure, n in past.failures().items()
                  if failure.startswith(f"{NO_PROGRAM}: "))
    unit, seconds = _duration_unit(campaign.updated_at - campaign.created_at)
    doubled = campaign_label(reader)
    rows = [
        *([("caveat", doubled)] if doubled else []),
        ("state", Markdown(state_text(run_state(reader.path.parent)))),
        ("task", f"{campaign.task} (evaluator {campaign.evaluator_version})"),
        ("iterations", f"{iterations}" if past.from_events else
         f"{len(past.steps)} programs (the archive has no iteration events: a step per program)"),
        ("programs", f"{summary.total}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
         if summary.total else "none yet"),
        ("valid rate", (f"{counts['ok']} of {done} evaluated programs ok "
                        f"({counts['ok'] / done:.0%})" if done else "no program evaluated yet")
         + (f"; valid edits {valid} of {proposals} model proposals ({valid / proposals:.0%})"
            if proposals else "")),
        ("best program", f"#{best.id}, score {score_text(best.score)} (island {best.island}, "
                         f"generation {best.generation}, made by {best.edit_kind or '-'})"
         if best else "none: no program evaluated ok yet"),
        ("held-out score", Markdown(held_out_text(reader.held_out(), best, sanitize.markdown))),
        ("failures", (", ".join(f"{k} {v}" for k, v in failed.items()) or "no failed program")
         + (f"; {refused} iterations made no program (an edit refused, a model call failed)"
            if refused else "")),
        ("tokens", f"{summary.tokens_in:,} in, {summary.tokens_out:,} out"),
        ("model cost", f"${summary.cost:.4f}"),
        ("wall time", f"{(campaign.updated_at - campaign.created_at) / seconds:.1f} {unit}"),
    ]
    if past.older_scores:
        rows.append(("left out", f"{past.older_scores} ok programs scored by an earlier "
                                 "evaluator version: their scores do not compare"))
    return ["| | |", "|---|---|", *(f"| {name} | {_cell(value)} |" for name, value in rows), ""]


def score_section(name: str, past: History, out: Path, held: HeldOut | None,
                  doubled: str | None = None) -> Section:
    section = Section()
    axes, section.missing = score_axes(past.steps)
    if all(s.score is None for s in past.steps):
        section.missing = ["scores: no program evaluated ok yet"]
        return section
    for axis in axes:
        path = out / f"score_by_{axis.name}.png"
        plot_scores(titled(f"{name}: score against {axis.title}", doubled), past.steps, axis,
                    path, held)
        section.files.append(path)
        section.markdown += [f"## Score against {axis.title}", "",
                             f"![best and every score against {axis.title}]({path.name})", ""]
    return section


def failures_section(name: str, past: History, out: Path, doubled: str | None = None
                     ) -> Section:
    """The failures plot and a table of every failed iteration by reason: failed programs by
    their status, and iterations that made no program (an edit refused, a model call failed)
    as "no program", counted alike."""
    failures = past.failures()
    if not failures:
        return Section(missing=["failures by reason: no iteration failed"])
    windows = failure_windows(past)
    path = out / "failures.png"
    plot_failures(titled(f"{name}: failed iterations by reason", doubled), windows, path)
    refused = sum(n for failure, n in failures.items() if failure.startswith(f"{NO_PROGRAM}: "))
    total = sum(failures.values())
    shown = failures.most_common(FAILURE_ROWS)
    markdown = ["## Failures by reason", "",
                f"![failed iterations by reason, {windows.window} iterations a bar]({path.name})",
                "", f"{total} iterations failed: {total - refused} made a program that failed, "
                    f"{refused} made no program (an edit refused, a model call failed).", "",
                "| status | reason | iterations |", "|---|---|---:|",
                *(f"| {status} | {sanitize.markdown(reason)} | {n} |"
                  for (status, reason), n in ((f.split(": ", 1), n) for f, n in shown)), ""]
    if len(failures) > len(shown):
        markdown += [f"{len(failures) - len(shown)} rarer reasons not listed "
                     f"({total - sum(n for _, n in shown)} iterations).", ""]
    return Section(markdown, [path])


def curve_section(reader: ArchiveReader, task: Task, out: Path,
                  open_sandbox: Callable[[], AbstractContextManager[Executor]],
                  say: Callable[[str], None], workers: int) -> Section:
    curve, campaign, best = task.config.report_curve, reader.campaign(), reader.best()
    title = f"{curve} against the baselines"
    if campaign.evaluator_version != task.version:
        return Section(missing=[
            f"{title}: the run was scored by evaluator {campaign.evaluator_version}, but the "
            f"task is now {task.version}: its curves would not compare; report it with the "
            "task files it was run with"])
    if best is None:
        return Section(missing=[f"{title}: no program evaluated ok yet"])
    with open_sandbox() as executor:
        lines = [best_line(task, reader, best, executor, say),
                 *baseline_lines(task, executor, out / "baselines.json", say, workers)]
    section = Section([f"## {title}", ""])
    for kind in stages(task):
        path = out / f"{curve}_{kind}.png"
        plot(task, kind, lines, path, campaign_label(reader))
        section.files.append(path)
        section.markdown += [f"![{curve}, {kind.replace('_', '-')}]({path.name})", ""]
    section.markdown.append(table(task, lines))
    return section


# -- scores with their error bars (tasks with task.toml report_metrics) ----------------------

TOP = 3
"""How many of the archive's best (by the search score) the held-out test is run for."""


def metric(metrics: dict, key: str, prefix: str = "") -> float | None:
    """A metric by name, averaged over the cases of a multi-case stage (`<case>_<key>`)."""
    values = [v for k, v in metrics.items() if isinstance(v, int | float)
              and (k == prefix + key or (k.startswith(prefix) and k.endswith(f"_{key}")
                                         and not k.startswith(f"{prefix}held_out_")))]
    return sum(values) / len(values) if values else None


def _row(task: Task, name: str, final) -> dict:
    keys = task.config.report_metrics
    row = {"name": name, "status": final.status, "reason": final.reason}
    if final.status == "ok":
        row["search"] = [final.score, *(metric(final.public_metrics, k) for k in keys)]
        private = final.private_metrics
        if private.get("held_out_status") == "ok":
            row["test"] = [private["held_out_score"],
                           *(metric(private, k, "held_out_") for k in keys)]
    return row


def evaluated_rows(task: Task, programs: dict[str, str], executor: Executor,
                   model: Callable[[], "AgentModel | None"], say: Callable[[str], None],
                   workers: int) -> list[dict]:
    """Each program through every stage and the held-out one, `workers` at a time."""
    def run(item: tuple[str, str]) -> dict:
        say(f"{item[0]}: search and held-out stages")
        final = task.evaluate(item[1], executor, held_out=True, model=model())[-1]
        return _row(task, item[0], final)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, programs.items()))


def metrics_section(reader: ArchiveReader, task: Task, out: Path,
                    open_sandbox: Callable[[], AbstractContextManager[Executor]],
                    model: Callable[[], "AgentModel | None"], say: Callable[[str], None],
                    workers: int) -> Section:
    """The seed, the baselines and the archive's best few, on the search stages and the
    held-out test, each score with the metrics the task names (error bars: an interval, a
    standard error, a baseline). ADAS's two headline numbers come out of it: the test score
    of the best by the search score, and the best test score among the archive's best."""
    title = "Scores against the baselines, search and held-out"
    if reader.campaign().evaluator_version != task.version:
        return Section(missing=[f"{title}: the run was scored by another evaluator version"])
    top = reader.top_k(TOP)
    if not top:
        return Section(missing=[f"{title}: no program evaluated ok yet"])
    cache = out / "baselines_metrics.json"
    saved = json.loads(cache.read_text()) if cache.is_file() else {}
    with open_sandbox() as executor:
        if saved.get("evaluator_version") == task.version:
            baselines = saved["rows"]
        else:
            baselines = evaluated_rows(task, baseline_programs(task),
                                       executor, model, say, workers)
            cache.write_text(json.dumps({"evaluator_version": task.version,
                                         "rows": baselines}, indent=1))
        best = evaluated_rows(task, {f"#{p.id}": p.code for p in top}, executor, model, say,
                              workers)
    keys = task.config.report_metrics
    head = ["program", "search score", *keys, "test score", *(f"test {k}" for k in keys)]
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |",
             "|---|" + "---:|" * (len(head) - 1)]
    for row in [*best, *baselines]:
        if row["status"] != "ok":
            reason = sanitize.markdown(row["reason"] or "")
            lines.append(f"| {row['name']} | {row['status']}: {reason} |")
            continue
        cells = [*row["search"], *row.get("test", [None] * (1 + len(keys)))]
        lines.append(f"| {row['name']} | " + " | ".join(
            "n/a" if v is None else f"{v:.4g}" for v in cells) + " |")
    tested = [r for r in best if "test" in r]
    if tested:
        first = tested[0]
        top_test = max(tested, key=lambda r: r["test"][0])
        lines += ["", f"Test score of the best by the search score ({first['name']}): "
                      f"{first['test'][0]:.4g}; best test score among the archive's {TOP} best: "
                      f"{top_test['test'][0]:.4g} ({top_test['name']})."]
    return Section([*lines, ""])


def _task(campaign: Campaign) -> tuple[Task | None, str | None]:
    """The campaign's task if it still loads here (only a task's curves need it), else why."""
    try:
        return load_task(campaign.config.get("task", campaign.task)), None
    except TaskError as exc:
        return None, f"curves the task may name (task.toml report_curve): {exc}"


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_TABLE_SEPARATOR = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")
_CELL_BORDER = re.compile(r"(?<!\\)\|")
_IMAGE = re.compile(r"^!\[(.*)\]\((.+)\)$")


def plain_text(markdown: str) -> str:
    """report.md as the terminal shows it: the same lines without Markdown's syntax (escapes,
    table pipes, heading marks), tables aligned in columns, each plot named by its file. What
    a candidate wrote comes back as its own characters, so the caller still passes the result
    through `sanitize.text` for the terminal."""
    out: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            widths = [max(len(row[k]) for row in table if k < len(row))
                      for k in range(max(map(len, table)))]
            out.extend("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)
                                 ).rstrip() for row in table)
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            if not _TABLE_SEPARATOR.match(line):
                cells = [_ESCAPED.sub(r"\1", c.strip())
                         for c in _CELL_BORDER.split(line.strip())[1:-1]]
                if any(cells):  # a key-value table's empty header row is left out
                    table.append(cells)
            continue
        flush()
        if image := _IMAGE.match(line):
            line = f"[plot: {image[2]}] {image[1]}"
        out.append(_ESCAPED.sub(r"\1", line.lstrip("#").strip() if line.startswith("#")
                                else line))
    flush()
    return "\n".join(out)


def write_report(reader: ArchiveReader, out: Path,
                 open_sandbox: Callable[[], AbstractContextManager[Executor]],
                 say: Callable[[str], None] = print, workers: int = 1,
                 model: Callable[[], "AgentModel | None"] = lambda: None) -> list[Path]:
    """Write the plots and report.md into `out`; returns the files, report.md last. The sandbox
    is opened only for a task's curves: the other plots read the archive alone."""
    out.mkdir(parents=True, exist_ok=True)
    campaign = reader.campaign()
    past = history(reader)
    task, problem = _task(campaign)
    sections = [Section(missing=[] if problem is None else [problem])]
    doubled = campaign_label(reader)
    if past.steps:
        sections += [score_section(campaign.name, past, out, reader.held_out(), doubled),
                     failures_section(campaign.name, past, out, doubled)]
    else:
        sections.append(Section(missing=["every plot: the run has no committed iteration yet"]))
    if task is not None and task.config.report_curve is not None:
        sections.append(curve_section(reader, task, out, open_sandbox, say, workers))
    if task is not None and task.config.report_metrics:
        sections.append(metrics_section(reader, task, out, open_sandbox, model, say, workers))
    missing = [m for s in sections for m in s.missing]
    lines = [f"# {sanitize.markdown(campaign.name)}: {sanitize.markdown(campaign.task)}", "",
             *([f"Test doubles: {sanitize.markdown(doubled)}.", ""] if doubled else []),
             *summary_table(reader, past),
             *(line for s in sections for line in s.markdown)]
    if missing:
        lines += ["## Not shown", "", *(f"- {_cell(m)}" for m in missing), ""]
    markdown = out / "report.md"
    markdown.write_text("\n".join(lines))
    return [*(path for s in sections for path in s.files), markdown]
