"""`discover`: the command line. Each command opens a campaign's archive, reads, renders, exits.

Problems a user can fix (unknown run, bad id, corrupt file, refused export) print one line on
stderr and exit 1; they never print a traceback.
"""

import contextlib
import dataclasses
import difflib
import functools
import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.syntax import Syntax

from archive import ARCHIVE_FILE, ArchiveError, ArchiveReader, archive_path
from archive import lineage as lineage_graph
from archive.synthetic import generate
from discovery import export as exporting
from discovery import report as reporting
from discovery import views
from discovery.campaign import Campaign
from discovery.config import ConfigError, load_config
from discovery.llm import CallFailed, ModelError, ModelSpec, load_specs, make_client
from evaluators.sandbox import LEVELS, Executor, Sandbox
from evaluators.task import TaskError, load_task, task_names
from evaluators.workers import WorkerPool

app = typer.Typer(
    help="LLM-driven algorithm discovery: run campaigns, inspect their lineage, export results.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console(highlight=False)

F = TypeVar("F", bound=Callable[..., None])

RunArg = Annotated[str, typer.Argument(
    help="A campaign: its name under the runs directory, its directory, or its archive.sqlite.")]


def friendly(command: F) -> F:
    """Turn the errors a user can fix into one line on stderr and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (ArchiveError, TaskError, ModelError, ConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
        except sqlite3.DatabaseError as exc:
            typer.echo(f"error: the archive cannot be read ({exc}): it is damaged; restore it "
                       "from a backup", err=True)
        raise typer.Exit(1)
    return wrapper  # type: ignore[return-value]


@app.callback()
def main(
    ctx: typer.Context,
    runs_dir: Annotated[Path, typer.Option(
        envvar="DISCOVER_RUNS_DIR", help="Where campaigns live, one directory each.",
    )] = Path("runs"),
) -> None:
    ctx.obj = runs_dir


def open_run(ctx: typer.Context, run: str) -> ArchiveReader:
    """Find a campaign by name, directory or file; an unknown one is a one-line error."""
    given, named = Path(run), Path(ctx.obj) / run / ARCHIVE_FILE
    for candidate in (given, given / ARCHIVE_FILE, named):
        if candidate.is_file():
            return ArchiveReader(candidate)
    raise ArchiveError(
        f"unknown run {run!r}: no {named} and no archive at {given}; "
        "`discover runs` lists the campaigns"
    )


@app.command()
@friendly
def demo(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Run name for the generated campaign.")] = "demo",
    programs: Annotated[int, typer.Option(min=1, help="How many programs to generate.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 0,
    force: Annotated[bool, typer.Option(help="Replace an earlier demo run of this name.")] = False,
) -> None:
    """Generate a synthetic campaign (real code, stand-in scores) and show it: no model needed."""
    run_dir = Path(ctx.obj) / name
    if run_dir.exists():
        if not force:
            raise ArchiveError(f"{run_dir} already exists: pass --force to replace it, or pick "
                               "another name")
        if not (run_dir / ARCHIVE_FILE).is_file():
            raise ArchiveError(f"{run_dir} is not a campaign directory: refusing to replace it")
        shutil.rmtree(run_dir)
    with ArchiveReader(generate(run_dir, programs, seed=seed, name=name)) as reader:
        console.print(views.status_view(reader))
        graph = lineage_graph.build_graph(reader)
        console.print(views.lineage_tree(graph, graph.graph["best"], depth=0))
    console.print(f"\nNext: discover lineage {name} | discover show {name} <id> | "
                  f"discover export {name} --best --out best_program.py")


@app.command()
@friendly
def runs(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Argument(
        help="Directory of campaigns (default: the runs directory).")] = None,
) -> None:
    """List campaigns with their best score, counts by status, tokens, cost and last update."""
    root = directory or Path(ctx.obj)
    if not root.is_dir():
        raise ArchiveError(f"no runs directory at {root}: start a campaign (e.g. `discover demo`) "
                           "or name the directory that holds them")
    rows, unreadable = [], []
    for path in sorted(root.glob(f"*/{ARCHIVE_FILE}")):
        try:
            with ArchiveReader(path) as reader:
                rows.append((path.parent.name, reader.summary()))
        except (ArchiveError, sqlite3.DatabaseError) as exc:
            unreadable.append(f"{path.parent.name}: unreadable ({exc})")
    if not rows and not unreadable:
        console.print(f"no campaigns in {root}")
    if rows:
        rows.sort(key=lambda row: -row[1].campaign.updated_at)
        console.print(views.runs_table(rows))
    for line in unreadable:
        console.print(line, style="red", soft_wrap=True)


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
    fmt: Annotated[str | None, typer.Option(
        "--format", help="Write the whole graph instead: graphml, gexf, json or dot.")] = None,
    out: Annotated[Path | None, typer.Option(help="File to write the graph to.")] = None,
) -> None:
    """Draw the lineage tree, best lineage highlighted, or write the graph to a file."""
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
    if fmt is not None:
        lineage_graph.write_graph(graph, out, fmt)
        console.print(f"wrote {graph.number_of_nodes()} programs and "
                      f"{graph.number_of_edges()} edges to {out} ({fmt})")
        return
    focus = program if program is not None else graph.graph.get("best")
    if focus is None:
        raise ArchiveError(f"{run} has no program that evaluated ok yet: pass --program ID")
    console.print(views.lineage_tree(graph, focus, depth=depth, width=width))
    stats = lineage_graph.branching_stats(graph)
    stones = lineage_graph.stepping_stones(graph, lineage_graph.ancestry(graph, focus))
    console.print(
        f"[dim]{stats.programs} programs, {stats.seeds} seeds, {stats.crossovers} crossovers, "
        f"max generation {stats.max_generation}, mean {stats.mean_children:.2f} children per "
        f"expanded program; stepping stones on this lineage: "
        f"{', '.join(f'#{s}' for s in stones) or 'none'}[/]"
    )


@app.command()
@friendly
def show(
    ctx: typer.Context, run: RunArg,
    program_id: Annotated[int, typer.Argument(metavar="ID", help="Program id.")],
) -> None:
    """A program's code, status, metrics, error tail and parents."""
    with open_run(ctx, run) as reader:
        console.print(views.program_view(reader.program(program_id),
                                         reader.evaluations(program_id)))


@app.command()
@friendly
def diff(
    ctx: typer.Context, run: RunArg,
    a: Annotated[int, typer.Argument(help="Program id.")],
    b: Annotated[int | None, typer.Argument(
        help="Second program id (default: A's primary parent, diffed against A).")] = None,
) -> None:
    """Unified diff of two programs, or of a program against its parent."""
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
        return
    console.print(Syntax(text, "diff"))


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
    force: Annotated[bool, typer.Option(help="Replace an existing package directory.")] = False,
) -> None:
    """Write a program as an importable module (or package) with its provenance."""
    if best and program_id is not None:
        raise ArchiveError("--best and --id exclude each other: give one")
    if (out is None) == (package is None):
        raise ArchiveError("say where to write: exactly one of --out FILE.py or --package DIR")
    with open_run(ctx, run) as reader:
        if out is not None:
            program = exporting.export_module(reader, program_id, out)
            console.print(f"wrote program {program.id} (score {views.score_text(program.score)})"
                          f" to {out}")
        else:
            program, module = exporting.export_package(reader, program_id, package, name, force)
            console.print(f"wrote program {program.id} as package {module} in {package}: "
                          f"pip install {package}")


def check_isolation(isolation: str | None) -> None:
    if isolation is not None and isolation not in LEVELS:
        raise TaskError(f"unknown isolation level {isolation!r}: use one of {', '.join(LEVELS)}")


@contextlib.contextmanager
def make_executor(kind: str, isolation: str | None, address: str | None) -> Iterator[Executor]:
    if kind == "fresh":
        yield Sandbox(isolation)
    elif kind == "warm":
        with WorkerPool(size=1, level=isolation) as pool:
            yield pool
    elif kind == "ray":
        from evaluators.ray_executor import RayExecutor

        ray_executor = RayExecutor(slots=1, address=address)
        try:
            yield ray_executor
        finally:
            ray_executor.close()
    else:
        raise TaskError(f"unknown executor {kind!r}: use fresh, warm or ray")


@app.command("eval")
@friendly
def evaluate(
    task: Annotated[str, typer.Argument(
        help=f"A shipped task ({', '.join(task_names())}) or a task folder.")],
    program: Annotated[Path | None, typer.Argument(
        help="The program to score (default: the task's seed program).")] = None,
    held_out: Annotated[bool, typer.Option(
        help="Also run the held-out stage (reported as private metrics).")] = False,
    isolation: Annotated[str | None, typer.Option(
        help=f"Force an isolation level ({', '.join(LEVELS)}); default: the strongest here.",
    )] = None,
    executor: Annotated[str, typer.Option(
        help="fresh: a new sandboxed process per run; warm: a fork server with numpy loaded; "
             "ray: Ray slots (pip install -e '.[ray]').")] = "fresh",
    address: Annotated[str | None, typer.Option(
        help="With --executor ray: the cluster to join (default: start a local one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Score one program on a task in the sandbox, stage by stage. Exit code 1 if it fails."""
    loaded = load_task(task)
    if program is not None and not program.is_file():
        raise TaskError(f"no program file at {program}: give the path of a Python file")
    check_isolation(isolation)
    code = program.read_text(encoding="utf-8") if program else loaded.seed_code
    with make_executor(executor, isolation, address) as sandbox:
        results = loaded.evaluate(code, sandbox, held_out=held_out)
    if as_json:
        typer.echo(json.dumps({"task": loaded.name, "version": loaded.version,
                               "isolation": sandbox.level,
                               "results": [dataclasses.asdict(r) for r in results]}, indent=1))
    else:
        console.print(views.evaluation_view(loaded.name, loaded.version, sandbox.level,
                                            str(program or "the seed program"), results))
    if results[-1].status != "ok":
        raise typer.Exit(1)


@app.command()
@friendly
def report(
    ctx: typer.Context, run: RunArg,
    out: Annotated[Path | None, typer.Option(
        help="Where to write the plots and report.md (default: <run>/report).")] = None,
    isolation: Annotated[str | None, typer.Option(
        help=f"Force an isolation level ({', '.join(LEVELS)}); default: the strongest here.",
    )] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="Baselines evaluated at a time (one warm worker each).")] = 2,
) -> None:
    """Plot the best program's curves (e.g. exploitability) against the task's baselines."""
    check_isolation(isolation)
    with open_run(ctx, run) as reader:
        task = load_task(reader.campaign().config["task"])
        where = out or reader.path.parent / "report"
        with WorkerPool(size=workers, level=isolation) as sandbox:
            written = reporting.write_report(reader, task, sandbox, where,
                                             say=lambda text: console.print(f"evaluating {text}"),
                                             workers=workers)
    console.print((where / "report.md").read_text())
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
@friendly
def models(
    config: Annotated[Path | None, typer.Option(
        help="A TOML file whose [[models]] entries to check (default: the embedded model).",
    )] = None,
    test: Annotated[str | None, typer.Option(
        help="Send one prompt to this model and show the answer, latency and tokens.")] = None,
    api_base: Annotated[str | None, typer.Option(
        help="With --test: an OpenAI-compatible endpoint (name the model openai/<name>).",
    )] = None,
    api_key_env: Annotated[str | None, typer.Option(
        help="With --test: the environment variable that holds the key.")] = None,
    prompt: Annotated[str, typer.Option(help="With --test: the prompt.")] =
        "Write a Python function add(a, b) that returns a + b. Reply with one code block.",
) -> None:
    """List the configured models and whether each answers; or --test one of them."""
    specs = load_specs(config)
    if test is not None:
        spec = next((s for s in specs if s.name == test), ModelSpec(name=test))
        overrides = {k: v for k, v in (("api_base", api_base), ("api_key_env", api_key_env))
                     if v is not None}
        client = make_client(spec.model_copy(update=overrides))
        try:
            answer = client.complete([{"role": "user", "content": prompt}], purpose="test")
        except CallFailed as exc:
            raise ModelError(str(exc)) from exc
        console.print(views.model_test_view(answer))
        return
    rows = []
    for spec in specs:
        try:
            client = make_client(spec)
            if spec.name == "embedded":
                status = f"offline, ready ({client.path.name})"
            else:
                reply = client.complete([{"role": "user", "content": "Reply with OK."}],
                                        purpose="check")
                status = f"reachable ({reply.latency_s:.2f} s)"
        except (ModelError, CallFailed) as exc:
            status = f"not usable: {exc}"
        rows.append((spec, status))
    console.print(views.models_table(rows))


PROGRESS_HELP = ("rich (a live panel on a terminal, one line per iteration otherwise), lines, "
                 "quiet or jsonl.")


class _Progress:
    """Where a campaign's log events go: a Rich live panel, plain lines, JSON lines or nowhere."""

    def __init__(self, mode: str):
        if mode not in ("rich", "lines", "quiet", "jsonl"):
            raise typer.BadParameter(f"--progress {mode!r}: use {PROGRESS_HELP}")
        self.mode = mode
        self.view = views.CampaignProgress()
        self.live = Live(self.view, console=console, refresh_per_second=4, transient=False) \
            if mode == "rich" and console.is_terminal else None

    def __call__(self, event: dict) -> None:
        if self.mode == "jsonl":
            typer.echo(json.dumps(event, default=str))
        elif self.live is not None:
            self.view.update(event)
        elif self.mode != "quiet" and event.get("event") == "stopped":
            console.print(f"[bold]stopped:[/] {event['reason']}; best "
                          f"{views.score_text(event['best'])}")
        elif self.mode != "quiet" and "n" in event:
            console.print(views.iteration_line(event), soft_wrap=True)


def _run_and_report(campaign: Campaign, progress: _Progress) -> None:
    try:
        if progress.live is not None:
            with progress.live:
                campaign.run()
        else:
            campaign.run()
    finally:
        campaign.close()
    if progress.mode in ("rich", "lines"):
        with ArchiveReader(archive_path(campaign.run_dir)) as reader:
            console.print(views.status_view(reader))
        console.print(f"campaign in {campaign.run_dir}; best program exported to "
                      f"{campaign.run_dir / 'best' / 'best_program.py'}")
    if campaign.broken is not None:
        typer.echo(f"error: {campaign.broken}", err=True)
        raise typer.Exit(1)


@app.command()
@friendly
def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help=f"A shipped task ({', '.join(task_names())}) or "
                                             "a task folder.")],
    config: Annotated[Path | None, typer.Option(help="Campaign config (TOML).")] = None,
    name: Annotated[str | None, typer.Option(help="Run name (default: task-date-time).")] = None,
    iterations: Annotated[int | None, typer.Option(help="Iteration budget.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random choice.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override any config field: --set selection.islands=4")] = None,
    progress: Annotated[str, typer.Option(help=PROGRESS_HELP)] = "rich",
) -> None:
    """Run a discovery campaign on a task (default model: the embedded one, offline)."""
    overrides = list(set_ or [])
    for key, value in (("name", name), ("budgets.iterations", iterations), ("seed", seed)):
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    if not any(o.startswith("runs_dir=") for o in overrides):
        overrides.append(f"runs_dir={json.dumps(str(ctx.obj))}")
    shown = _Progress(progress)
    _run_and_report(Campaign.start(load_config(task, config, overrides), shown), shown)


@app.command()
@friendly
def resume(
    ctx: typer.Context, run_name: Annotated[str, typer.Argument(metavar="RUN", help=(
        "The campaign: its name under the runs directory, or its directory."))],
    iterations: Annotated[int | None, typer.Option(
        help="A new total iteration budget.")] = None,
    progress: Annotated[str, typer.Option(help=PROGRESS_HELP)] = "rich",
) -> None:
    """Continue a stopped or killed campaign: in-flight work is redone, nothing duplicated."""
    with open_run(ctx, run_name) as reader:
        run_dir = reader.path.parent
        budgets = dict(reader.campaign().config.get("budgets", {}))
    overrides = {"budgets": {**budgets, "iterations": iterations}} if iterations else None
    shown = _Progress(progress)
    _run_and_report(Campaign.resume(run_dir, shown, overrides), shown)
