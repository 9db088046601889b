"""Rich renderings of archive data for the terminal: tables, the lineage tree, sparklines."""

import collections
import datetime as dt
import math
import time

import networkx as nx
from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from archive import ArchiveReader, Evaluation, EvaluationResult, ModelCall, Program, Summary
from archive.lineage import ancestry, best_lineage, primary_parent
from archive.lineage_facts import LineageFacts, Step
from discovery import sanitize
from discovery.models.base import Completion, ModelSpec
from discovery.search.edits import design_notes

_SPARK = "▁▂▃▄▅▆▇█"
_STATUS_STYLE = {"ok": "green", "pending": "yellow"}


def when(ts: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).astimezone().strftime(fmt)


def score_text(score: float | None) -> str:
    return "-" if score is None else f"{score:.6g}"


def status_style(status: str) -> str:
    return _STATUS_STYLE.get(status, "red")


def sparkline(values: list[float], width: int = 60) -> str:
    """Down-sample to `width` points (evenly spaced) and map each to one of 8 block heights."""
    if not values:
        return ""
    n = len(values)
    picks = values if n <= width else [values[round(i * (n - 1) / (width - 1))]
                                       for i in range(width)]
    low, high = min(picks), max(picks)
    span = high - low
    return "".join(
        _SPARK[min(7, int((v - low) / span * 8))] if span > 0 else _SPARK[3] for v in picks
    )


def iteration_counts(reader: ArchiveReader) -> tuple[int, int, int]:
    """(iterations, valid edits, model proposals) of a campaign, from its iteration events."""
    events = [d for _, _, d in reader.events("iteration", limit=10**9)]
    proposals = [d for d in events if d.get("op") == "llm"]
    return len(events), sum(1 for d in proposals if d.get("valid_edit")), len(proposals)


def runs_table(rows: list[tuple[str, Summary, bool]]) -> Table:
    """One row per (name, summary, started); names and tasks are never cut (print the table at
    its full width), since every other command needs them. A run that never started (no
    iteration, no program: its model or replay failed to set up) says so instead of 0/0/0."""
    table = Table(title="campaigns", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("run", no_wrap=True)
    table.add_column("task", no_wrap=True)
    for column in ("ok/failed/pending", "best", "tokens", "cost $", "updated"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, summary, started in rows:
        counts = summary.counts
        failed = sum(v for k, v in counts.items() if k not in ("ok", "pending"))
        table.add_row(
            sanitize.text(name), sanitize.text(summary.campaign.task),
            f"{counts['ok']}/{failed}/{counts['pending']}" if started else "[yellow]not started",
            score_text(summary.best.score if summary.best else None),
            f"{summary.tokens_in + summary.tokens_out:,}", f"{summary.cost:.2f}",
            when(summary.campaign.updated_at, "%m-%d %H:%M"),
        )
    if not all(started for _, _, started in rows):
        table.caption = ("not started: `discover resume RUN --set KEY=VALUE` with a config that "
                         "works, or `discover rm RUN`")
    return table


def status_view(reader: ArchiveReader) -> Group:
    summary = reader.summary()
    c = summary.campaign
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("campaign", sanitize.text(f"{c.name}  ({reader.path})"))
    head.add_row("task", sanitize.text(c.task))
    head.add_row("seed", str(c.seed))
    head.add_row("evaluator", c.evaluator_version)
    head.add_row("created / updated", f"{when(c.created_at)} / {when(c.updated_at)}")
    head.add_row("programs", "  ".join(
        f"[{status_style(k)}]{k} {v}[/]" for k, v in summary.counts.items() if v
    ) or "none yet")
    head.add_row("tokens", f"{summary.tokens_in:,} in, {summary.tokens_out:,} out")
    head.add_row("cost", f"${summary.cost:.4f}")
    iterations, valid, proposals = iteration_counts(reader)
    if iterations:
        head.add_row("iterations", f"{iterations}; valid edits {valid}/{proposals} "
                                   "model proposals")
    operators = reader.best_by_operator()
    if operators:
        head.add_row("best by operator", "  ".join(f"{kind} {score_text(score)} ({n})"
                                                   for kind, score, n in operators))
    stopped = reader.events("campaign_stopped", limit=1)
    if stopped:
        head.add_row("last stop", sanitize.text(stopped[0][2].get("reason")))
    warning = reader.events("warning", limit=1)
    if warning:
        head.add_row("last warning", sanitize.text(warning[0][2].get("message"), style="yellow"))
    parts: list[RenderableType] = [Panel(head, title="status", expand=False)]

    best = summary.best
    if best is not None:
        history = reader.score_history()
        parts.append(Panel(Group(
            sanitize.text(f"#{best.id}  score {score_text(best.score)}  generation "
                          f"{best.generation}  island {best.island}  model {best.model or '-'}  "
                          f"edit {best.edit_kind or '-'}"),
            Text(f"{sparkline(history)}  {score_text(history[0])} → {score_text(history[-1])} "
                 f"over {len(history)} ok programs", style="cyan"),
        ), title="best program and best score over time", expand=False))

    failures = reader.failures_by_reason()
    if failures:
        table = Table(title="failures by reason", header_style="bold")
        table.add_column("status")
        table.add_column("reason")
        table.add_column("programs", justify="right")
        for status, reason, n in failures:
            table.add_row(sanitize.text(status, style="red"), sanitize.text(reason), str(n))
        parts.append(table)

    usage = reader.model_usage()
    if usage:
        table = Table(title="model usage", header_style="bold")
        for column in ("model", "calls", "errors", "tokens in", "tokens out", "cost $",
                       "mean latency s"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for u in usage:
            table.add_row(sanitize.text(u.model), str(u.calls), str(u.errors), f"{u.tokens_in:,}",
                          f"{u.tokens_out:,}", f"{u.cost:.4f}",
                          "-" if u.mean_latency_s is None else f"{u.mean_latency_s:.2f}")
        parts.append(table)

    errors = reader.model_errors()
    if errors:
        table = Table(title="latest failed model calls", header_style="bold")
        for column in ("when", "model", "purpose", "error"):
            table.add_column(column)
        for created, model, purpose, error in errors:
            table.add_row(when(created, "%m-%d %H:%M:%S"), sanitize.text(model),
                          sanitize.text(purpose), sanitize.text(error, style="red"))
        parts.append(table)
    return Group(*parts)


def _node_label(graph: nx.DiGraph, node: int, style: str, names: dict[int, str]) -> Text:
    data = graph.nodes[node]
    label = Text(f"#{node} ", style=style)
    if node in names:
        label.append(f"{sanitize.terminal(names[node])}  ", style=style or "italic")
    if node == graph.graph.get("best"):
        label.append("★ best ", style="bold yellow")
    label.append(score_text(data.get("score")) if data["status"] == "ok" else data["status"],
                 style=style or status_style(data["status"]))
    extra = [f"g{data.get('generation', 0)}", f"island {data.get('island', 0)}"]
    if data.get("model"):
        extra.append(sanitize.terminal(data["model"]))
    others = [p for p, _, pos in graph.in_edges(node, data="position") if pos]
    if others:
        extra.append("crossover with " + ", ".join(f"#{p}" for p in others))
    label.append("  " + "  ".join(extra), style="dim")
    return label


def lineage_tree(graph: nx.DiGraph, focus: int, depth: int = 1, width: int = 3,
                 names: dict[int, str] | None = None) -> Tree:
    """The focus's ancestry, seed first, one line a generation (so a deep lineage stays
    narrow); under each of them its `width` best other children, expanded `depth` levels.
    `names`: design names (the programs' own, see edits.design_notes) to show by the ids."""
    names = names or {}
    path = ancestry(graph, focus)
    on_path, on_best = set(path), set(best_lineage(graph))

    def style(node: int) -> str:
        if node in on_best:
            return "bold yellow"
        return "bold" if node in on_path else ""

    def add_side(branch: Tree, node: int, levels: int) -> None:
        kids = sorted((c for c in graph.successors(node)
                       if c not in on_path and primary_parent(graph, c) == node),
                      key=lambda c: (-graph.nodes[c].get("score", -math.inf), c))
        shown = kids[:width] if levels > 0 else []
        for child in shown:
            add_side(branch.add(_node_label(graph, child, style(child), names)), child,
                     levels - 1)
        hidden = kids[len(shown):]
        if hidden:
            best_hidden = max(graph.nodes[c].get("score", -math.inf) for c in hidden)
            note = f"… {len(hidden)} more" + (
                f" (best {score_text(best_hidden)})" if math.isfinite(best_hidden) else "")
            branch.add(Text(note, style="dim"))

    tree = Tree(Text(f"lineage of #{focus}: {len(path)} generations from seed #{path[0]}",
                     style="bold"), guide_style="dim")
    for node in path:
        add_side(tree.add(_node_label(graph, node, style(node), names)), node, depth)
    return tree


def lineage_steps(facts: LineageFacts) -> Group:
    """The facts a proposal prompt shows about the focus's lineage (archive.lineage_facts),
    as tables: its ancestry newest step first, then its children that failed or scored no
    higher."""
    def table(title: str, steps: tuple[Step, ...]) -> Table:
        grid = Table(title=title, header_style="bold", title_justify="left")
        for column in ("program", "edit", "what changed", "outcome", "note"):
            grid.add_column(column, overflow="fold")
        for step in steps:
            grid.add_row(f"#{step.id}", sanitize.text(step.edit_kind), sanitize.text(step.change),
                         sanitize.text(step.outcome(), style=status_style(step.status)),
                         "stepping stone" if step.stepping_stone else "")
        return grid

    older = (f"; {facts.older} older back to #{facts.seed} not shown (--steps)"
             if facts.older else "")
    parts: list[RenderableType] = [table(
        f"lineage of #{facts.focus}, newest step first{older}", facts.steps)]
    counts = facts.children
    if facts.setbacks:
        parts.append(table(f"its children: {counts.better} scored higher, {counts.no_better} no "
                           f"higher, {counts.failed} failed; the newest that did not help",
                           facts.setbacks))
    return Group(*parts)


def program_view(program: Program, evaluations: list[Evaluation]) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("program", f"#{program.id}")
    head.add_row("status", Text(program.status, style=status_style(program.status)))
    head.add_row("score", score_text(program.score))
    head.add_row("parent", ", ".join(f"#{p}" for p in program.parents) or "none (seed)")
    if program.inspirations:
        head.add_row("inspirations", ", ".join(f"#{p}" for p in program.inspirations))
    head.add_row("island / generation", f"{program.island} / {program.generation}")
    head.add_row("model", sanitize.text(program.model or "-"))
    head.add_row("edit", sanitize.text(program.edit_kind or "-"))
    head.add_row("evaluator", sanitize.text(program.evaluator_version or "-"))
    head.add_row("created", when(program.created_at))
    notes = design_notes(program.code)
    if notes is not None:
        head.add_row("design", sanitize.text(notes.name))
        if notes.thought:
            head.add_row("thought", sanitize.text(notes.thought))
    parts: list[RenderableType] = [Panel(head, title=f"program #{program.id}", expand=False)]

    if evaluations:
        table = Table(title="evaluations", header_style="bold")
        for column in ("stage", "status", "score", "public metrics", "reason", "seconds"):
            table.add_column(column)
        for e in evaluations:
            metrics = ", ".join(f"{k}={v}" for k, v in e.public_metrics.items())
            table.add_row(e.stage, Text(e.status, style=status_style(e.status)),
                          score_text(e.score), sanitize.text(metrics),
                          sanitize.text(e.reason or ""),
                          "-" if e.duration_s is None else f"{e.duration_s:.2f}")
        parts.append(table)
        tails = [e.error_tail for e in evaluations if e.error_tail]
        if tails:
            parts.append(Panel(sanitize.text(tails[-1], style="red"), title="error tail",
                               expand=False))
    parts.append(Syntax(sanitize.terminal(program.code), program.language, line_numbers=True,
                        word_wrap=True))
    return Group(*parts)


_ISOLATION_NOTE = {
    "bwrap": "namespaces, read-only file system, no network",
    "unshare": "namespaces; file system NOT protected",
    "rlimits": "limits only; network and files NOT protected",
}


def evaluation_view(task: str, version: str, level: str, program: str,
                    results: list[EvaluationResult]) -> Group:
    final = results[-1]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("task", sanitize.text(f"{task}  (version {version})"))
    head.add_row("program", sanitize.text(program))
    base = level.rsplit("/", 1)[-1]  # "ray/bwrap": Ray slots sandboxed with bwrap
    head.add_row("isolation", Text(f"{level}: {_ISOLATION_NOTE[base]}",
                                   style="" if base == "bwrap" else "bold red"))
    head.add_row("result", Text(f"{final.status}  score {score_text(final.score)}",
                                style=status_style(final.status)))
    if final.reason:
        head.add_row("reason", sanitize.text(final.reason))
    parts: list[RenderableType] = [Panel(head, title="evaluation", expand=False)]
    table = Table(title="stages", header_style="bold")
    # the sandbox's wall and CPU seconds, and the trusted scorer's (an RL task trains there)
    for column in ("stage", "status", "score", "sandbox s", "cpu s", "scorer s", "reason"):
        table.add_column(column)
    for r in results:
        table.add_row(r.stage, Text(r.status, style=status_style(r.status)), score_text(r.score),
                      "-" if r.duration_s is None else f"{r.duration_s:.2f}",
                      str(r.resources.get("cpu_s", "-")), str(r.resources.get("scorer_s", "-")),
                      sanitize.text(r.reason or ""))
    parts.append(table)
    for title, metrics in (("public metrics (shown to models)", final.public_metrics),
                           ("private metrics (never shown to models)", final.private_metrics)):
        if metrics:
            grid = Table(title=title, header_style="bold", min_width=44)
            grid.add_column("metric")
            grid.add_column("value", justify="right")
            for key, value in metrics.items():
                grid.add_row(sanitize.text(key), sanitize.text(
                    f"{value:.6g}" if isinstance(value, float) else value))
            parts.append(grid)
    if final.error_tail:
        parts.append(Panel(sanitize.text(final.error_tail, style="red"), title="error tail",
                           expand=False))
    return Group(*parts)


def agent_calls_line(model: str, calls: list[ModelCall]) -> str:
    """What an evaluation's agent made of the agent model; the simulator says it is a test
    double, so that no one takes its accuracy for a result."""
    failed = sum(call.error is not None for call in calls)
    tokens = sum(call.tokens_in + call.tokens_out for call in calls)
    cost = sum(call.cost for call in calls)
    note = " (the simulator: a test double, not a result)" if model == "simulator" else ""
    return (f"agent model {model}{note}: {len(calls)} calls"
            f"{f' ({failed} failed)' if failed else ''}, {tokens:,} tokens, ${cost:.4f}")


def models_table(rows: list[tuple[ModelSpec, str]]) -> Table:
    table = Table(title="models", header_style="bold")
    for column in ("model", "weight", "endpoint", "key from", "status"):
        table.add_column(column)
    for spec, status in rows:
        table.add_row(sanitize.text(spec.name), f"{spec.weight:g}",
                      sanitize.text(spec.api_base or "-"),
                      sanitize.text(f"${spec.api_key_env}" if spec.api_key_env
                                    else "provider default"),
                      sanitize.text(status, style="red" if status.startswith("not") else "green"))
    return table


def model_test_view(answer: Completion) -> Group:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("model", sanitize.text(answer.model))
    head.add_row("latency", f"{answer.latency_s:.2f} s")
    head.add_row("tokens", f"{answer.tokens_in} in, {answer.tokens_out} out")
    head.add_row("cost", f"${answer.cost:.6f}")
    head.add_row("attempts", str(len(answer.attempts)))
    return Group(Panel(head, title="model test", expand=False),
                 Panel(sanitize.text(answer.text), title="answer", expand=False))


class CampaignProgress:
    """The live view of a running campaign, fed the campaign's log events: best score,
    evaluations/s, valid-edit rate, failures by reason, tokens, cost and the ETA of the budget
    that will end it first."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.start = clock, clock()
        self.done = self.at_start = 0
        self.budgets: dict = {}
        self.best: float | None = None
        self.evaluations = self.proposals = self.valid = 0
        self.tokens, self.cost = 0, 0.0
        self.failures: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[Text] = collections.deque(maxlen=6)
        self.stopped: str | None = None

    def update(self, event: dict) -> None:
        if event.get("event") == "started":
            self.done = self.at_start = event["done"]
            self.budgets, self.best = event["budgets"], event["best"]
        elif event.get("event") == "stopped":
            self.stopped, self.best = event["reason"], event["best"]
        elif "n" in event:
            self.done += 1
            self.best, self.tokens, self.cost = event["best"], event["tokens"], event["cost"]
            self.evaluations += event.get("evaluations", 0)
            if event["op"] == "llm":
                self.proposals += 1
                self.valid += bool(event["valid_edit"])
            if event["status"] not in ("ok", "migrated") and event["reason"]:
                reason = sanitize.terminal(event["reason"].split(" (")[0])
                self.failures[f"{event['status']}: {reason}"] += 1
            self.recent.append(iteration_line(event))

    def eta(self) -> str:
        """Time left by the iteration budget at the current pace, or the wall budget's."""
        elapsed = self.clock() - self.start
        left = []
        if self.budgets.get("iterations") and self.done > self.at_start:
            pace = elapsed / (self.done - self.at_start)
            left.append(max(0, self.budgets["iterations"] - self.done) * pace)
        if self.budgets.get("wall_s"):
            left.append(max(0.0, self.budgets["wall_s"] - elapsed))
        return f"{min(left):.0f} s" if left else "-"

    def __rich__(self) -> RenderableType:
        elapsed = max(self.clock() - self.start, 1e-9)
        head = Table.grid(padding=(0, 2))
        head.add_row("iterations", f"{self.done}" + (
            f" / {self.budgets['iterations']}" if self.budgets.get("iterations") else ""),
            "ETA", self.eta())
        head.add_row("best score", Text(score_text(self.best), style="bold green"),
                     "evaluations/s", f"{self.evaluations / elapsed:.2f}")
        head.add_row("valid edits", f"{self.valid}/{self.proposals}" + (
            f" ({self.valid / self.proposals:.0%})" if self.proposals else ""),
            "tokens / cost", f"{self.tokens:,} / ${self.cost:.4f}")
        parts: list[RenderableType] = [head]
        if self.failures:
            failures = Table("failures", "count", box=box.SIMPLE, header_style="bold")
            for reason, count in self.failures.most_common(4):
                failures.add_row(Text(reason, style="red", overflow="ellipsis", no_wrap=True),
                                 str(count))
            parts.append(failures)
        parts.extend(self.recent)
        if self.stopped:
            parts.append(sanitize.text(f"stopped: {self.stopped}", style="bold"))
        return Panel(Group(*parts), title="campaign", expand=False)


def iteration_line(event: dict) -> Text:
    """One committed iteration as one line: number, island, operator, outcome, best so far."""
    op = sanitize.terminal(event["op"] + (f"({event['model']})" if event.get("model") else ""))
    what = (f"#{event['program']} {event['status']} {score_text(event['score'])}"
            if event["program"] else f"no program: {sanitize.terminal(event['reason'])}")
    style = status_style(event["status"]) if event["program"] else "red"
    return Text.assemble((f"{event['n']:>5}", "dim"), f" island {event['island']} {op:<24} ",
                         (what, style), f"  best {score_text(event['best'])}",
                         no_wrap=True, overflow="ellipsis")
