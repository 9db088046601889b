"""Running campaigns: `run`, `resume`, `runs`, `rm`, and `demo` (a generated campaign)."""

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from archive import ARCHIVE_FILE, ArchiveError, ArchiveReader, archive_path
from archive import lineage as lineage_graph
from discovery import sanitize, views
from discovery.cli.common import (
    PROGRESS_HELP,
    Progress,
    RunArg,
    app,
    console,
    friendly,
    open_run,
    print_wide,
)
from discovery.config import load_config
from discovery.doubles.synthetic import generate, is_synthetic
from discovery.loop.campaign import Campaign
from evaluators.task import task_names


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
        "--set", metavar="KEY=VALUE",
        help="Override any config field: --set selection.islands=4")] = None,
    progress: Annotated[str, typer.Option(help=PROGRESS_HELP)] = "rich",
) -> None:
    """Run a discovery campaign on a task (default model: the embedded one, offline)."""
    overrides = list(set_ or [])
    for key, value in (("name", name), ("budgets.iterations", iterations), ("seed", seed)):
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    if not any(o.startswith("runs_dir=") for o in overrides):
        overrides.append(f"runs_dir={json.dumps(str(ctx.obj))}")
    shown = Progress(progress)
    _run_and_report(Campaign.start(load_config(task, config, overrides), shown), shown)


@app.command()
@friendly
def resume(
    ctx: typer.Context, run_name: Annotated[str, typer.Argument(metavar="RUN", help=(
        "The campaign: its name under the runs directory, or its directory."))],
    iterations: Annotated[int | None, typer.Option(
        help="A new total iteration budget.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Change a config field from here on (kept by later resumes), e.g. "
                      "--set models=[{name=\"embedded\"}]")] = None,
    progress: Annotated[str, typer.Option(help=PROGRESS_HELP)] = "rich",
) -> None:
    """Continue a stopped or killed campaign: in-flight work is redone, nothing duplicated."""
    with open_run(ctx, run_name) as reader:
        run_dir = reader.path.parent
    overrides = list(set_ or [])
    if iterations is not None:
        overrides.append(f"budgets.iterations={iterations}")
    shown = Progress(progress)
    _run_and_report(Campaign.resume(run_dir, shown, overrides), shown)


def _run_and_report(campaign: Campaign, progress: Progress) -> None:
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
        exported, best = campaign.exported(), campaign.best
        console.print(f"campaign in {campaign.run_dir}; " + (
            f"best program #{best.id} (score {views.score_text(best.score)}) exported to "
            f"{exported}" if exported and best else "no program evaluated ok: nothing exported"),
            markup=False)
    if campaign.broken is not None:
        typer.echo(f"error: {sanitize.terminal(campaign.broken)}", err=True)
        raise typer.Exit(1)


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
                summary = reader.summary()
                started = summary.total > 0 or bool(reader.events("iteration", 1))
                rows.append((path.parent.name, summary, started))
        except (ArchiveError, sqlite3.DatabaseError) as exc:
            unreadable.append(f"{path.parent.name}: unreadable ({exc})")
    if not rows and not unreadable:
        console.print(f"no campaigns in {root}")
    if rows:
        rows.sort(key=lambda row: -row[1].campaign.updated_at)
        print_wide(views.runs_table(rows))
    for line in unreadable:
        console.print(sanitize.text(line, style="red"), soft_wrap=True)


@app.command()
@friendly
def rm(
    ctx: typer.Context, run: RunArg,
    yes: Annotated[bool, typer.Option("--yes", help="Remove it even if it holds programs.")]
    = False,
) -> None:
    """Remove a campaign's directory: one with no programs (a run that never started) at
    once, any other only with --yes."""
    with open_run(ctx, run) as reader:
        run_dir, programs = reader.path.parent, reader.count()
    if programs and not yes:
        raise ArchiveError(f"{run_dir} holds {programs} programs: pass --yes to remove it and "
                           "them for good")
    shutil.rmtree(run_dir)
    console.print(f"removed {run_dir}")


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
        with ArchiveReader(run_dir / ARCHIVE_FILE) as reader:
            if not is_synthetic(reader):
                raise ArchiveError(f"{run_dir} is a real campaign, not a demo: refusing to "
                                   f"replace it; pick another name (or `discover rm {name}`)")
        shutil.rmtree(run_dir)
    with ArchiveReader(generate(run_dir, programs, seed=seed, name=name)) as reader:
        console.print(views.status_view(reader))
        graph = lineage_graph.build_graph(reader)
        console.print(views.lineage_tree(graph, graph.graph["best"], depth=0))
    console.print(f"\nNext: discover lineage {name} | discover show {name} <id> | "
                  f"discover export {name} --best --out best_program.py")


