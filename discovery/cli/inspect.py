"""Inspecting a campaign: `status`, `lineage`, `show`, `iteration`, `diff`, `export`,
`report`."""

import difflib
from pathlib import Path
from typing import Annotated

import typer

from archive import ArchiveError
from discovery import sanitize, views
from discovery.cli.common import RunArg, app, console, friendly, open_run
from discovery.double_label import campaign_label
from evaluators.sandbox import LEVELS

# Each command imports what only it needs (networkx, pydantic, pygments, matplotlib) when it
# runs: `discover --help` and the other commands start without them.


@app.command()
@friendly
def status(ctx: typer.Context, run: RunArg) -> None:
    """One campaign in detail: best program, score over time, failures, model usage and cost."""
    with open_run(ctx, run) as reader:
        console.print(views.status_view(reader))


@app.command()
@friendly
def lineage(
    ctx: typer.Context,
    run: RunArg,
    program: Annotated[int | None, typer.Option(
        help="Program whose ancestry to follow (default: the best).")] = None,
    depth: Annotated[int, typer.Option(
        min=0, help="Levels of side branches shown off the ancestry, and below the program.")] = 1,
    width: Annotated[int, typer.Option(min=0, help="Side branches shown per program.")] = 3,
    steps: Annotated[int | None, typer.Option(
        min=0, help="Ancestry steps shown in the table under the tree, as proposal prompts show "
                    "them (default: the campaign's last prompts.lineage_depth).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Write the whole graph instead: graphml, gexf, json or dot.")] = None,
    out: Annotated[Path | None, typer.Option(help="File to write the graph to.")] = None,
    prompts: Annotated[bool, typer.Option(
        "--prompts", help="Draw the prompt variants' tree instead ([prompt_evolution]).")] = False,
) -> None:
    """Draw the lineage tree, best lineage highlighted, with the focus's ancestry steps as
    proposal prompts show them, or write the graph to a file; with --prompts, the tree of the
    evolved prompt variants with their uses and mean improvement."""
    if prompts:
        with open_run(ctx, run) as reader:
            console.print(views.prompt_tree(reader))
        return
    from archive import lineage as lineage_graph
    from archive.lineage_facts import lineage_facts
    from discovery.config import Prompts
    from discovery.loop.campaign import last_config
    from discovery.search.edits import design_notes

    if out is not None and fmt is None:
        fmt = out.suffix.lstrip(".")
    if fmt is not None:
        if out is None:
            raise ArchiveError(f"--format {fmt} writes a file: add --out FILE")
        if fmt not in lineage_graph.GRAPH_FORMATS:
            raise ArchiveError(f"unknown graph format {fmt!r}: use --format with one of "
                               f"{', '.join(lineage_graph.GRAPH_FORMATS)}")
    with open_run(ctx, run) as reader:
        if program is not None:
            reader.program(program)
        graph = lineage_graph.build_graph(reader)
        focus = program if program is not None else graph.graph.get("best")
        shown = fmt is None and focus is not None
        names = design_names(reader, graph, focus, depth) if shown else {}
        if steps is None:
            steps = Prompts.model_validate(last_config(reader).get("prompts", {})).lineage_depth
        facts = lineage_facts(reader, focus, steps, notes=design_notes) \
            if shown and steps else None
        held = reader.held_out()
        doubled = campaign_label(reader)
    if fmt is not None:
        lineage_graph.write_graph(graph, out, fmt)
        console.print(f"wrote {graph.number_of_nodes()} programs and "
                      f"{graph.number_of_edges()} edges to {out} ({fmt})")
        return
    if focus is None:
        raise ArchiveError(f"{run} has no program that evaluated ok yet: pass --program ID")
    if doubled:
        console.print(sanitize.text(doubled, style="bold yellow"), soft_wrap=True)
    console.print(views.lineage_tree(graph, focus, depth=depth, width=width, names=names,
                                     held=held))
    stats = lineage_graph.branching_stats(graph)
    stones = lineage_graph.stepping_stones(graph, lineage_graph.ancestry(graph, focus))
    console.print(
        f"[dim]{stats.programs} programs, {stats.seeds} seeds, {stats.crossovers} crossovers, "
        f"max generation {stats.max_generation}, mean {stats.mean_children:.2f} children per "
        f"expanded program; stepping stones on this lineage: "
        f"{', '.join(f'#{s}' for s in stones) or 'none'}[/]"
    )
    if facts is not None:
        console.print(views.lineage_steps(facts))


def design_names(reader, graph, focus: int, depth: int) -> dict[int, str]:
    """Design names of the programs the tree can show: the focus's ancestry and their
    children to `depth` levels (read in one query, not the whole archive)."""
    from archive import lineage as lineage_graph
    from discovery.search.edits import design_notes

    shown = set(lineage_graph.ancestry(graph, focus))
    frontier = set(shown)
    for _ in range(depth):
        frontier = {c for node in frontier for c in graph.successors(node)} - shown
        shown |= frontier
    return {p.id: notes.name for p in reader.programs(sorted(shown))
            if (notes := design_notes(p.code)) is not None}


@app.command()
@friendly
def show(
    ctx: typer.Context, run: RunArg,
    program_id: Annotated[int, typer.Argument(metavar="ID", help="Program id.")],
) -> None:
    """A program's code, status, metrics (and held-out result), error tail, parents, and the
    model calls that made it."""
    with open_run(ctx, run) as reader:
        console.print(views.program_view(
            reader.program(program_id), reader.evaluations(program_id),
            iteration=reader.iteration_of(program_id), held=reader.held_out(),
            calls=reader.model_calls(program=program_id), test_doubles=campaign_label(reader)))


@app.command()
@friendly
def iteration(
    ctx: typer.Context, run: RunArg,
    n: Annotated[int, typer.Argument(metavar="N", help="Iteration number (from 0).")],
    prompts: Annotated[bool, typer.Option(
        help="Show each call's prompt, as the transcript recorded it.")] = True,
) -> None:
    """One iteration, program or not: what was planned, what came of it (why an edit was
    refused), and each model call with its tokens, latency, error, prompt and answer."""
    from discovery.loop.campaign import last_config
    from discovery.models.transcripts import TranscriptIndex, transcript_of

    with open_run(ctx, run) as reader:
        found = reader.iteration(n)
        calls = reader.model_calls(iteration=n)
        program = reader.program(found.program_id) if found.program_id is not None else None
        index = TranscriptIndex(transcript_of(reader.path.parent, last_config(reader)))
        exchanges = index.exchanges([call.call_id for call in calls])
    console.print(views.iteration_view(found, calls, exchanges, program, prompts))


@app.command()
@friendly
def diff(
    ctx: typer.Context, run: RunArg,
    a: Annotated[int, typer.Argument(help="Program id.")],
    b: Annotated[int | None, typer.Argument(
        help="Second program id (default: A's primary parent, diffed against A).")] = None,
) -> None:
    """Unified diff of two programs, or of a program against its parent."""
    from rich.syntax import Syntax

    with open_run(ctx, run) as reader:
        program = reader.program(a)
        if b is None:
            if program.parent_id is None:
                raise ArchiveError(f"program {a} is a seed with no parent: name a second id")
            old, new = reader.program(program.parent_id), program
        else:
            old, new = program, reader.program(b)
    text = "".join(difflib.unified_diff(
        old.code.splitlines(keepends=True), new.code.splitlines(keepends=True),
        f"program {old.id}", f"program {new.id}",
    ))
    if not text:
        console.print(f"programs {old.id} and {new.id} have the same code")
    elif console.is_terminal:
        console.print(Syntax(sanitize.terminal(text), "diff"))
    else:  # a file or a pipe: the diff as it is, which `patch` applies (no padding, no colour)
        typer.echo(sanitize.terminal(text), nl=False)


@app.command()
@friendly
def export(
    ctx: typer.Context, run: RunArg,
    best: Annotated[bool, typer.Option(help="Export the best program (the default).")] = False,
    program_id: Annotated[int | None, typer.Option("--id", help="Export this program.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write a module, e.g. best_program.py.")] = None,
    package: Annotated[Path | None, typer.Option(
        help="Write an installable package into this directory instead.")] = None,
    name: Annotated[str | None, typer.Option(help="Import name of the package.")] = None,
    force: Annotated[bool, typer.Option(
        help="Replace an existing file (--out) or package directory (--package).")] = False,
    requires: Annotated[list[str] | None, typer.Option(
        "--requires", metavar="REQUIREMENT",
        help="With --package: a dependency of the package (repeat it), besides the task's "
             "declared requirements; the program's own imports never become dependencies.",
    )] = None,
) -> None:
    """Write a program as an importable module (or package) with its provenance."""
    from discovery import export as exporting

    if best and program_id is not None:
        raise ArchiveError("--best and --id exclude each other: give one")
    if (out is None) == (package is None):
        raise ArchiveError("say where to write: exactly one of --out FILE.py or --package DIR")
    if requires and package is None:
        raise ArchiveError("--requires names a package's dependencies: use it with --package")
    if out is not None and out.exists() and not force:
        raise ArchiveError(f"{out} already exists: remove it or pass --force to replace it")
    with open_run(ctx, run) as reader:
        if out is not None:
            program = exporting.export_module(reader, program_id, out)
            console.print(f"wrote program {program.id} (score {views.score_text(program.score)})"
                          f" to {out}")
        else:
            done = exporting.export_package(reader, program_id, package, name, force,
                                            requires or [])
            console.print(sanitize.text(
                f"wrote program {done.program.id} as package {done.module} in {package} "
                f"(dependencies: {', '.join(done.dependencies) or 'none'}): "
                f"pip install {package}"), soft_wrap=True)
            if done.unlisted:
                console.print(sanitize.text(
                    f"note: the program imports {', '.join(done.unlisted)}, which are not "
                    "dependencies (only the task's requirements and --requires are): add "
                    "--requires NAME for those it needs"), soft_wrap=True)


@app.command()
@friendly
def report(
    ctx: typer.Context, run: RunArg,
    out: Annotated[Path | None, typer.Option(
        help="Where to write the plots and report.md (default: <run>/report).")] = None,
    isolation: Annotated[str | None, typer.Option(
        help=f"Force an isolation level ({', '.join(LEVELS)}) for evaluating baselines; "
             "default: the strongest here.",
    )] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Baselines evaluated at a time (one warm worker each).")] = 2,
) -> None:
    """Plot a campaign: scores over iterations, time and cost per island, failures by reason,
    and the best program's curves against the task's baselines for tasks that name a curve."""
    from discovery import report as reporting
    from discovery.models import agent_models
    from discovery.models.agent import AgentModelConfig
    from evaluators.executors import check_isolation, open_executor

    check_isolation(isolation)  # a typo fails now, not after the archive's plots
    with open_run(ctx, run) as reader:
        where = out or reader.path.parent / "report"
        stored = reader.campaign().config.get("agent_model")
        models = stored and agent_models(AgentModelConfig.model_validate(stored))
        written = reporting.write_report(
            reader, where, lambda: open_executor("warm", size=workers, isolation=isolation),
            say=lambda text: console.print(sanitize.text(f"evaluating {text}")), workers=workers,
            model=lambda: models and models.for_evaluation([]))
    console.print(sanitize.text(reporting.plain_text((where / "report.md").read_text())))
    console.print("wrote " + ", ".join(str(p) for p in written), markup=False)
