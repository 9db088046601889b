"""Rich renderings of archive data for the terminal: tables, the lineage tree, sparklines."""

from __future__ import annotations

import collections
import datetime as dt
import math
import time
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from archive import (
    ArchiveReader,
    Evaluation,
    EvaluationResult,
    HeldOut,
    Iteration,
    ModelCall,
    Program,
    RecordedCall,
    Summary,
    reason_key,
)
from archive.prompt_archive import mutations, ranked, variant_stats
from discovery import sanitize
from discovery.double_label import MEANING, campaign_label, doubles, label
from discovery.loop.liveness import run_state, state_text

if TYPE_CHECKING:  # annotations only: the command line starts without networkx and pydantic
    import networkx as nx

    from archive.lineage_facts import LineageFacts, Step
    from discovery.models.base import Completion, ModelSpec
    from discovery.models.transcripts import Exchange

_SPARK = "▁▂▃▄▅▆▇█"
_STATUS_STYLE = {"ok": "green", "pending": "yellow"}


def when(ts: float | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).astimezone().strftime(fmt)


def score_text(score: float | None) -> str:
    return "-" if score is None else f"{score:.6g}"


def number_text(value: object) -> str:
    """A metric as shown: floats to 6 significant digits, anything else as it is."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def held_out_text(held: HeldOut, search: bool = True) -> str:
    """The held-out result beside the search score: "2.43537 (search 2.5, gap -0.0646)"
    (without the search score where it stands just before), or the stage's failure."""
    if held.score is None:
        return f"{held.status}" + (f": {held.reason}" if held.reason else "")
    facts = ([f"search {score_text(held.search_score)}"] if search else []) + \
        ([f"gap {held.gap:+.3g}"] if held.gap is not None else [])
    return score_text(held.score) + (f" ({', '.join(facts)})" if facts else "")


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
    iteration, no program: its model or replay failed to set up) says so instead of 0/0/0.
    A run whose agent or meta model is a test double names it in the `test doubles` column
    (double_label), so that its score is not read as a result."""
    table = Table(title="campaigns", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("run", no_wrap=True)
    table.add_column("task", no_wrap=True)
    for column in ("ok/failed/pending", "best", "tokens", "cost $", "updated"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("test doubles")
    for name, summary, started in rows:
        counts = summary.counts
        failed = sum(v for k, v in counts.items() if k not in ("ok", "pending"))
        table.add_row(
            sanitize.text(name), sanitize.text(summary.campaign.task),
            f"{counts['ok']}/{failed}/{counts['pending']}" if started else "[yellow]not started",
            score_text(summary.best.score if summary.best else None),
            f"{summary.tokens_in + summary.tokens_out:,}", f"{summary.cost:.2f}",
            when(summary.campaign.updated_at, "%m-%d %H:%M"),
            Text(", ".join(doubles([summary.campaign.config])), style="bold yellow"),
        )
    captions = []
    if not all(started for _, _, started in rows):
        captions.append("not started: `discover resume RUN --set KEY=VALUE` with a config that "
                        "works, or `discover rm RUN`")
    if any(doubles([summary.campaign.config]) for _, summary, _ in rows):
        captions.append(f"test doubles: an agent model's {MEANING['agent']}; a meta model's "
                        f"{MEANING['meta']}")
    table.caption = "\n".join(captions) or None
    return table


def status_view(reader: ArchiveReader) -> Group:
    summary = reader.summary()
    c = summary.campaign
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("campaign", sanitize.text(f"{c.name}  ({reader.path})"))
    head.add_row("state", state_text(run_state(reader.path.parent, reader=reader)))
    doubled = campaign_label(reader)
    if doubled:
        head.add_row("caveat", Text(doubled, style="bold yellow"))
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
    refusals = reader.refusals_by_reason()
    if iterations:
        barren = sum(n for _, _, n in refusals)
        head.add_row("iterations", f"{iterations}; valid edits {valid}/{proposals} model "
                                   f"proposals; {barren} made no program (reasons below)"
                     if barren else f"{iterations}; valid edits {valid}/{proposals} model "
                                    "proposals")
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
        lines = [
            sanitize.text(f"#{best.id}  score {score_text(best.score)}  generation "
                          f"{best.generation}  island {best.island}  model {best.model or '-'}  "
                          f"edit {best.edit_label}"),
            Text(f"{sparkline(history)}  {score_text(history[0])} → {score_text(history[-1])} "
                 f"over {len(history)} ok programs", style="cyan")]
        held = reader.held_out()
        if held is not None:
            lines.insert(1, sanitize.text(held_out_line(held, best.id), style="bold"))
        parts.append(Panel(Group(*lines), title="best program and best score over time",
                           expand=False))

    failures = reader.failures_by_reason()
    if failures or refusals:
        table = Table(title="failures by reason", header_style="bold",
                      caption="no program: the iteration's edit was refused or its model call "
                              "failed")
        table.add_column("outcome")
        table.add_column("reason")
        table.add_column("count", justify="right")
        rows = [(status, reason, n) for status, reason, n in failures] + \
            [(f"no program ({op})", reason, n) for op, reason, n in refusals]
        for outcome, reason, n in sorted(rows, key=lambda row: -row[2]):
            table.add_row(sanitize.text(outcome, style="red"), sanitize.text(reason), str(n))
        parts.append(table)
        barren = reader.iterations(no_program=True, newest=5)
        if barren:
            parts.append(iterations_table(
                "the newest iterations that made no program", barren,
                f"`discover iteration {c.name} N`: an iteration's model calls, prompts and "
                "answers"))

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
    prompts = prompt_archive_table(reader)
    if prompts is not None:
        parts.append(prompts)
    return Group(*parts)


def prompt_archive_table(reader: ArchiveReader) -> Table | None:
    """The prompt archive of `[prompt_evolution]` (None when it is off): each variant, where it
    came from, how often proposals were asked with it and what their children gained; the
    caption counts the mutations tried and names the newest refusal."""
    stats = variant_stats(reader)
    if not stats:
        return None
    tried = mutations(reader)
    refused = [d for d in tried if d.get("refused")]
    caption = (f"mean improvement: child's score minus its parent's over the spread of the "
               f"archive's scores, a failed or refused edit -1. {len(tried)} mutations tried, "
               f"{len(tried) - len(refused)} made a variant, {len(refused)} refused")
    if refused:
        caption += f" (newest, iteration {refused[-1]['n']}: {refused[-1]['refused']})"
    table = Table(title="prompt archive (prompt co-evolution)", header_style="bold",
                  caption=caption + f"; `discover lineage {reader.campaign().name} --prompts` "
                                    "draws their tree")
    for column in ("variant", "kind", "from", "made", "uses", "mean improvement", "name"):
        table.add_column(column, justify="right" if column in ("uses", "mean improvement")
                         else "left")
    for s in stats:
        v = s.variant
        table.add_row(f"#{v.id}", v.kind, f"#{v.parent_id}" if v.parent_id else "-",
                      "shipped" if v.iteration is None else f"iteration {v.iteration}",
                      str(s.uses), f"{s.mean:+.3f}" if s.uses else "-",
                      sanitize.text(v.name or "-"))
    return table


def prompt_tree(reader: ArchiveReader) -> Group:
    """The prompt variants as trees, one per kind of answer, each variant under the one the
    meta model rewrote into it; the most helpful of each kind in bold green."""
    stats = variant_stats(reader)
    if not stats:
        return Group(Text("no prompt variants: this campaign ran without "
                          "[prompt_evolution] enabled = true", style="yellow"))
    trees = []
    for kind in dict.fromkeys(s.variant.kind for s in stats):
        mine = [s for s in stats if s.variant.kind == kind]
        best = ranked(mine)[0].variant.id
        tree = Tree(Text(f"{kind} prompts", style="bold"))
        nodes: dict[int, Tree] = {}
        for s in mine:  # oldest first: a parent is placed before its children
            v = s.variant
            label = sanitize.text(
                f"#{v.id} {v.name or '-'}  uses {s.uses}  "
                f"mean {f'{s.mean:+.3f}' if s.uses else '-'}  "
                f"{'shipped' if v.iteration is None else f'made at iteration {v.iteration}'}",
                style="bold green" if v.id == best else "")
            nodes[v.id] = nodes.get(v.parent_id, tree).add(label)
        trees.append(tree)
    return Group(*trees)


def held_out_line(held: HeldOut, best: int | None) -> str:
    """The held-out result as the best program's panel shows it, saying whose it is when the
    campaign found a new best after the stop that measured it."""
    whose = "" if held.program_id == best else \
        f" of #{held.program_id} (the best at the stop of {when(held.created_at)})"
    return f"held-out{whose} {held_out_text(held)}"


def iterations_table(title: str, iterations: list[Iteration], caption: str = "") -> Table:
    """Iterations as rows: number, operator and model, outcome, model calls, reason."""
    table = Table(title=title, header_style="bold", caption=caption or None)
    for column in ("iteration", "operator", "outcome", "calls", "reason"):
        table.add_column(column, justify="right" if column in ("iteration", "calls") else "left",
                         overflow="fold")
    for it in iterations:
        op = (it.op or "-") + (f" {it.edit_format}" if it.edit_format else "") + \
            (f" ({it.model})" if it.model else "")
        outcome = f"#{it.program_id} {it.status}" if it.program_id else it.status
        table.add_row(str(it.n), sanitize.text(op), sanitize.text(
            outcome, style=status_style(it.status)), str(it.calls),
            sanitize.text(it.reason or ""))
    return table


def _node_label(graph: nx.DiGraph, node: int, style: str, names: dict[int, str],
                held: HeldOut | None = None) -> Text:
    data = graph.nodes[node]
    label = Text(f"#{node} ", style=style)
    if node in names:
        label.append(f"{sanitize.terminal(names[node])}  ", style=style or "italic")
    if node == graph.graph.get("best"):
        label.append("★ best ", style="bold yellow")
    label.append(score_text(data.get("score")) if data["status"] == "ok" else data["status"],
                 style=style or status_style(data["status"]))
    if held is not None and held.program_id == node:
        label.append(f"  held-out {sanitize.terminal(held_out_text(held))}", style="bold cyan")
    extra = [f"g{data.get('generation', 0)}", f"island {data.get('island', 0)}"]
    if data.get("model"):
        extra.append(sanitize.terminal(data["model"]))
    others = [p for p, _, pos in graph.in_edges(node, data="position") if pos]
    if others:
        extra.append("crossover with " + ", ".join(f"#{p}" for p in others))
    label.append("  " + "  ".join(extra), style="dim")
    return label


def lineage_tree(graph: nx.DiGraph, focus: int, depth: int = 1, width: int = 3,
                 names: dict[int, str] | None = None, held: HeldOut | None = None) -> Tree:
    """The focus's ancestry, seed first, one line a generation (so a deep lineage stays
    narrow); under each of them its `width` best other children, expanded `depth` levels.
    `names`: design names (the programs' own, see edits.design_notes) to show by the ids;
    `held`: the held-out result, shown by its program."""
    names = names or {}
    from archive.lineage import ancestry, best_lineage, primary_parent

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
            add_side(branch.add(_node_label(graph, child, style(child), names, held)), child,
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
        add_side(tree.add(_node_label(graph, node, style(node), names, held)), node, depth)
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


ORIGINS = {"seed": "none (the task's seed)", "restart": "none (the seed, restarted)",
           "baseline": "none (a baseline)",
           "archive": "none: made from the whole archive (ADAS), its inspirations"}
"""What a program with no parent was made from, by its edit kind (the view says the same)."""


def program_view(program: Program, evaluations: list[Evaluation], *,
                 iteration: int | None = None, held: HeldOut | None = None,
                 calls: list[RecordedCall] | None = None,
                 test_doubles: str | None = None) -> Group:
    """A program: its facts (the iteration that made it, and its held-out result when it is
    the program a stop measured), evaluations per stage, error tail, model calls and code.
    `test_doubles`: the campaign's test-double label (double_label), shown by the score."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("program", f"#{program.id}")
    head.add_row("status", Text(program.status, style=status_style(program.status)))
    head.add_row("score", score_text(program.score))
    if test_doubles:
        head.add_row("caveat", Text(test_doubles, style="bold yellow"))
    if held is not None and held.program_id == program.id:
        head.add_row("held-out", sanitize.text(held_out_text(held), style="bold"))
    head.add_row("parent", ", ".join(f"#{p}" for p in program.parents)
                 or ORIGINS.get(program.edit_kind or "", ORIGINS["archive"]))
    if program.inspirations:
        head.add_row("inspirations", ", ".join(f"#{p}" for p in program.inspirations))
    head.add_row("island / generation", f"{program.island} / {program.generation}")
    head.add_row("model", sanitize.text(program.model or "-"))
    head.add_row("edit", sanitize.text(program.edit_label))
    if program.prompt_variant is not None:
        head.add_row("prompt variant", f"#{program.prompt_variant} (lineage --prompts)")
    if iteration is not None:
        head.add_row("iteration", str(iteration))
    head.add_row("evaluator", sanitize.text(program.evaluator_version or "-"))
    head.add_row("created", when(program.created_at))
    from rich.syntax import Syntax  # pygments: only where code is shown

    from discovery.search.edits import design_notes

    notes = design_notes(program.code)
    if notes is not None:
        head.add_row("design", sanitize.text(notes.name))
        if notes.thought:
            head.add_row("thought", sanitize.text(notes.thought))
    parts: list[RenderableType] = [Panel(head, title=f"program #{program.id}", expand=False)]

    if evaluations:
        table = Table(title="evaluations", header_style="bold")
        for column in ("stage", "status", "score", "public metrics", "reason", "seconds"):
            table.add_column(column, overflow="fold")
        for e in evaluations:
            metrics = ", ".join(f"{k}={number_text(v)}" for k, v in e.public_metrics.items())
            copied = program.copy_of is not None and e.stage == "migrated"
            table.add_row(program.edit_label if copied else e.stage,
                          Text(e.status, style=status_style(e.status)),
                          score_text(e.score), sanitize.text(metrics),
                          sanitize.text("" if copied else e.reason or ""),
                          "-" if e.duration_s is None else f"{e.duration_s:.2f}")
        parts.append(table)
        tails = [e.error_tail for e in evaluations if e.error_tail]
        if tails:
            parts.append(Panel(sanitize.text(tails[-1], style="red"), title="error tail",
                               expand=False))
    if calls:
        where = f"`discover iteration RUN {iteration}`" if iteration is not None else \
            "the transcript"
        parts.append(calls_table(calls, f"prompts and answers: {where}"))
    parts.append(Syntax(sanitize.terminal(program.code), program.language, line_numbers=True,
                        word_wrap=True))
    return Group(*parts)


def calls_table(calls: list[RecordedCall], caption: str = "") -> Table:
    """Model calls as rows: purpose, model, tokens, latency, cost, error."""
    table = Table(title="model calls", header_style="bold", caption=caption or None)
    for column in ("call", "purpose", "model", "tokens in / out", "latency s", "cost $",
                   "error"):
        table.add_column(column, overflow="fold")
    for i, call in enumerate(calls, 1):
        table.add_row(str(i), sanitize.text(call.purpose), sanitize.text(call.model),
                      f"{call.tokens_in:,} / {call.tokens_out:,}",
                      "-" if call.latency_s is None else f"{call.latency_s:.2f}",
                      f"{call.cost:.4f}", sanitize.text(call.error or "", style="red"))
    return table


def iteration_view(it: Iteration, calls: list[RecordedCall], exchanges: dict[str, Exchange],
                   program: Program | None, prompts: bool = True) -> Group:
    """One iteration: what was planned (operator, island, parent, model, edit format), what
    came of it (its program, or why none), and each model call with its prompt and answer as
    the transcript holds them (found by the call's id)."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("iteration", str(it.n))
    if not it.committed:
        head.add_row("outcome", Text("never committed: a model or task problem stopped the "
                                     "campaign here; a resume redoes it", style="red"))
    else:
        head.add_row("operator", sanitize.text(it.op + (f" ({it.edit_format})"
                                                        if it.edit_format else "")))
        head.add_row("island", str(it.island))
        head.add_row("model", sanitize.text(it.model or "-"))
        if it.parent_id is not None:
            head.add_row("parent", f"#{it.parent_id}")
        if it.inspirations:
            head.add_row("inspirations", ", ".join(f"#{p}" for p in it.inspirations))
        if it.valid_edit is not None:
            head.add_row("edit", Text("applied" if it.valid_edit else "refused",
                                      style="green" if it.valid_edit else "red"))
        head.add_row("turns / evaluations", f"{it.turns} / {it.evaluations}")
        outcome = it.status if program is None else \
            f"#{program.id} {program.status} {score_text(program.score)}"
        head.add_row("outcome", Text(outcome, style=status_style(
            program.status if program else it.status)))
        if it.reason:
            head.add_row("reason", sanitize.text(it.reason, style="red"))
        head.add_row("committed", when(it.created_at, "%Y-%m-%d %H:%M:%S"))
    head.add_row("model calls", f"{it.calls}, {it.tokens:,} tokens, ${it.cost:.4f}")
    parts: list[RenderableType] = [Panel(head, title=f"iteration {it.n}", expand=False)]
    if calls:
        parts.append(calls_table(calls))
    for i, call in enumerate(calls, 1):
        exchange = exchanges.get(call.call_id) if call.call_id else None
        parts.append(call_panel(i, call, exchange, prompts))
    return Group(*parts)


def call_panel(i: int, call: RecordedCall, exchange: Exchange | None, prompts: bool
               ) -> Panel:
    """One call's prompt (from the transcript, by its call id) and answer."""
    lines: list[RenderableType] = []
    if prompts:
        if exchange is None:
            lines.append(Text("prompt: not in the transcript (a failed attempt, transcripts "
                              "off, or a call recorded before call ids)", style="dim"))
        elif exchange.messages is None:
            lines.append(Text("prompt: left out of the transcript (past its byte cap)",
                              style="dim"))
        else:
            for message in exchange.messages:
                lines.append(sanitize.text(f"[{message.get('role', '?')}]", style="bold"))
                lines.append(sanitize.text(message.get("content", "")))
    answer = call.raw_response if call.raw_response is not None else \
        (exchange.text if exchange else None)
    lines.append(Text("answer:", style="bold"))
    lines.append(sanitize.text(answer) if answer is not None else
                 sanitize.text(f"none: {call.error or 'not recorded'}", style="red"))
    return Panel(Group(*lines), title=f"call {i}: {sanitize.terminal(call.purpose)}",
                 title_align="left")


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
    """What an evaluation's agent made of the agent model; a test double (the simulator, a
    scripted model) says so with the label every output uses (double_label), so that no one
    takes its accuracy for a result."""
    failed = sum(call.error is not None for call in calls)
    tokens = sum(call.tokens_in + call.tokens_out for call in calls)
    cost = sum(call.cost for call in calls)
    doubled = label([{"agent_model": {"name": model}}])
    note = f" ({doubled})" if doubled else ""
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
        self.doubles: str | None = None
        """The campaign's test-double label (the started event's `test_doubles`)."""

    def update(self, event: dict) -> None:
        if event.get("event") == "started":
            self.done = self.at_start = event["done"]
            self.budgets, self.best = event["budgets"], event["best"]
            self.doubles = event.get("test_doubles")
        elif event.get("event") == "stopped":
            self.stopped, self.best = stopped_text(event), event["best"]
        elif "n" in event:
            self.done += 1
            self.best, self.tokens, self.cost = event["best"], event["tokens"], event["cost"]
            self.evaluations += event.get("evaluations", 0)
            if event["op"] == "llm":
                self.proposals += 1
                self.valid += bool(event["valid_edit"])
            if event["status"] not in ("ok", "migrated") and event["reason"]:
                reason = sanitize.terminal(reason_key(event["reason"]))
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
        if self.doubles:
            parts.insert(0, Text(self.doubles, style="bold yellow"))
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


def stopped_text(event: dict) -> str:
    """A campaign's stop, as its closing line says it: why, the best score, and the best's
    held-out result beside it when the stop measured one, and the test-double label when the
    campaign ran on one (the event's `test_doubles`)."""
    text = f"{event['reason']}; best {score_text(event['best'])}"
    if event.get("held_out"):
        held = HeldOut.from_metrics(None, event["best"], event["held_out"], 0.0)
        text += f", held-out {held_out_text(held, search=False)}"
    if event.get("test_doubles"):
        text += f" ({event['test_doubles']})"
    return text


def iteration_line(event: dict) -> Text:
    """One committed iteration as one line: number, island, operator, outcome, best so far."""
    op = sanitize.terminal(event["op"] + (f"({event['model']})" if event.get("model") else ""))
    what = (f"#{event['program']} {event['status']} {score_text(event['score'])}"
            if event["program"] else f"no program: {sanitize.terminal(event['reason'])}")
    style = status_style(event["status"]) if event["program"] else "red"
    return Text.assemble((f"{event['n']:>5}", "dim"), f" island {event['island']} {op:<24} ",
                         (what, style), f"  best {score_text(event['best'])}",
                         no_wrap=True, overflow="ellipsis")
