"""Running campaigns: `run`, `resume`, `runs`, `rm`, and `demo` (a generated campaign)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from archive import ARCHIVE_FILE, ArchiveError, ArchiveReader, archive_path
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
from discovery.doubles.synthetic import generate, is_synthetic
from discovery.loop.liveness import Liveness, describe, run_state, state_text
from evaluators.catalog import task_names

if TYPE_CHECKING:  # imported by the commands that run one: the others start without it
    from discovery.loop.campaign import Campaign

NO_PREFLIGHT = typer.Option(
    "--no-preflight", help="Skip the one cheap call to each hosted model before the first "
                           "evaluation (their keys are still checked).")


class Output(Progress):
    """A campaign's progress (common.Progress) with what the campaign waits for: the start
    said at once (a resume can wait minutes for its first model call), Ctrl-C answered at once
    (on stderr, in every mode), and the work in flight with its age: a live line under the
    Rich panel, or, for plain lines (and as a `waiting` event for jsonl), a `waiting for ...`
    line after WAIT_S without output (then after twice as long, up to 5 minutes)."""

    WAIT_S = 20.0

    def __init__(self, mode: str):
        super().__init__(mode)
        self.liveness: Liveness | None = None
        self.quiet_since = time.monotonic()
        self._done = threading.Event()
        if self.live is not None:
            self.live = Live(Group(self.view, self), console=console, refresh_per_second=4,
                             transient=False)

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind in ("stopping", "abandoning"):  # a person pressed Ctrl-C: answered in any mode
            typer.echo(sanitize.terminal(event["message"]), err=True)
        if kind == "started" and self.mode in ("rich", "lines") and self.live is None:
            console.print(_start_line(event), soft_wrap=True)
        super().__call__(event)
        self.quiet_since = time.monotonic()

    def __rich__(self) -> Text:
        """The live panel's last line: what is in flight, with its age."""
        waiting = describe(self.liveness.in_flight()) if self.liveness else ()
        return Text("in flight: " + (", ".join(waiting) if waiting else "-"), style="dim")

    def watch(self, liveness: Liveness) -> None:
        """Show `liveness`'s work in flight until `unwatch`."""
        self.liveness = liveness
        if self.mode in ("lines", "jsonl") or (self.mode == "rich" and self.live is None):
            threading.Thread(target=self._waiting_lines, daemon=True).start()

    def unwatch(self) -> None:
        self._done.set()

    def _waiting_lines(self) -> None:
        wait = self.WAIT_S
        while not self._done.wait(1.0):
            quiet = time.monotonic() - self.quiet_since
            if quiet < self.WAIT_S:
                wait = self.WAIT_S  # there was output: back to the first wait
            elif quiet >= wait and self.liveness is not None:
                waiting = describe(self.liveness.in_flight())
                if waiting and self.mode == "jsonl":
                    typer.echo(json.dumps({"event": "waiting", "in_flight": list(waiting)}))
                elif waiting:
                    console.print(sanitize.text("waiting for " + ", ".join(waiting),
                                                style="dim"), soft_wrap=True)
                wait = min(wait * 2, 300.0) if wait < 300.0 else wait + 300.0


def _start_line(event: dict) -> Text:
    """The campaign's first line, printed before anything is in flight."""
    budgets = event["budgets"]
    total = f" of {budgets['iterations']}" if budgets.get("iterations") else ""
    verb = "resumed" if event.get("resumed") else "started"
    return Text.assemble((verb, "bold"), sanitize.text(
        f" {event.get('run_dir', 'campaign')}: {event['done']}{total} iterations done, best "
        f"{views.score_text(event['best'])}; Ctrl-C stops it"),
        *([("\n" + event["test_doubles"], "bold yellow")] if event.get("test_doubles") else []))


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
    no_preflight: Annotated[bool, NO_PREFLIGHT] = False,
    proposer: Annotated[str | None, typer.Option(
        metavar="RUN[:ID]", help="Propose with a proposer program ([proposer] program): the "
        "best (or program ID) of a meta_proposer run, an exported .py, or 'seed'.")] = None,
) -> None:
    """Run a discovery campaign on a task (default model: the embedded one, offline). Every
    model is checked first; Ctrl-C stops it after the work in flight, twice at once."""
    overrides = [*_peer_settings(task), *(set_ or [])]  # a peer folder's first: --set wins
    for key, value in (("name", name), ("budgets.iterations", iterations), ("seed", seed),
                       ("proposer.program", proposer)):
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    if not any(o.startswith("runs_dir=") for o in overrides):
        overrides.append(f"runs_dir={json.dumps(str(ctx.obj))}")
    shown = Output(progress)
    from discovery.config import load_config
    from discovery.loop.campaign import Campaign

    _run_and_report(Campaign.start(load_config(task, config, overrides), shown,
                                   check=not no_preflight), shown)


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
    no_preflight: Annotated[bool, NO_PREFLIGHT] = False,
) -> None:
    """Continue a stopped or killed campaign: in-flight work is redone, nothing duplicated. A
    finished one needs a larger budget (--iterations N)."""
    with open_run(ctx, run_name) as reader:
        run_dir = reader.path.parent
    overrides = list(set_ or [])
    if iterations is not None:
        overrides.append(f"budgets.iterations={iterations}")
    shown = Output(progress)
    from discovery.loop.campaign import Campaign

    _run_and_report(Campaign.resume(run_dir, shown, overrides, check=not no_preflight,
                                    more=True), shown)


def _peer_settings(task: str) -> list[str]:
    """An OpenEvolve or ShinkaEvolve folder's search settings as our overrides, each setting
    with no equivalent named on stderr (docs/bring-your-problem.md); none for our own tasks."""
    from discovery.peer_settings import peer_settings
    from evaluators.peers.formats import peer_task, read_folder

    folder = Path(task)
    if peer_task(folder) is None:
        return []
    peer = peer_settings(read_folder(folder))
    for line in peer.ignored:
        typer.echo(f"ignored: {line}", err=True)
    return list(peer.search)


def _run_and_report(campaign: Campaign, progress: Output) -> None:
    progress.watch(campaign.liveness)
    try:
        if progress.live is not None:
            with progress.live:
                campaign.run()
        else:
            campaign.run()
    finally:
        progress.unwatch()
        campaign.close()
    if campaign.abandoned:  # Ctrl-C twice: threads still wait for a model call or a sandbox
        sys.stdout.flush()  # run that nobody will commit; the stop is recorded: leave now
        sys.stderr.flush()
        os._exit(130)
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
    rows, unreadable, states = [], [], {}
    for path in sorted(root.glob(f"*/{ARCHIVE_FILE}")):
        try:
            with ArchiveReader(path) as reader:
                summary = reader.summary()
                started = summary.total > 0 or bool(reader.events("iteration", 1))
                state = run_state(path.parent, reader=reader)
            states[path.parent.name] = state_text(state, detail=False)
            rows.append((path.parent.name, summary, started))
        except (ArchiveError, sqlite3.DatabaseError) as exc:
            unreadable.append(f"{path.parent.name}: unreadable ({exc})")
    if not rows and not unreadable:
        console.print(f"no campaigns in {root}")
    if rows:
        rows.sort(key=lambda row: -row[1].campaign.updated_at)
        print_wide(_with_column(views.runs_table(rows), "state",
                                [states[name] for name, _, _ in rows]))
    for line in unreadable:
        console.print(sanitize.text(line, style="red"), soft_wrap=True)


def _with_column(table: Table, header: str, cells: list[Text]) -> Table:
    """`table` with one more column after its others (Rich adds columns only before rows)."""
    wider = Table(title=table.title, caption=table.caption, header_style=table.header_style,
                  box=table.box, pad_edge=table.pad_edge)
    for column in table.columns:
        wider.add_column(column.header, justify=column.justify, no_wrap=column.no_wrap)
    wider.add_column(header, no_wrap=True)
    for row in zip(*(list(column.cells) for column in table.columns), cells, strict=True):
        wider.add_row(*row)
    return wider


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
    state = run_state(run_dir)
    if state.alive:
        raise ArchiveError(f"{run_dir} is {state.state} ({state.reason}): stop it first "
                           "(Ctrl-C in its terminal)")
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
        from archive import lineage as lineage_graph

        graph = lineage_graph.build_graph(reader)
        console.print(views.lineage_tree(graph, graph.graph["best"], depth=0))
    console.print(f"\nNext: discover lineage {name} | discover show {name} <id> | "
                  f"discover export {name} --best --out best_program.py")


