"""What every command shares: the app, the console, one-line errors for problems a user can
fix (unknown run, bad id, corrupt file, refused export: one line on stderr, exit 1, never a
traceback), finding a run, and where a campaign's progress goes."""

import functools
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from archive import ARCHIVE_FILE, ArchiveError, ArchiveReader
from discovery import sanitize, views

# Click's plain help: in Typer's Rich panels, markup eats `[ray]` and `[[models]]` from help
# texts and every flag shows a `<bool>` type.
app = typer.Typer(
    help="LLM-driven algorithm discovery: run campaigns, inspect their lineage, export results.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None, context_settings={"max_content_width": 120, "terminal_width": 110},
)
console = Console(highlight=False)

F = TypeVar("F", bound=Callable[..., None])

RunArg = Annotated[str, typer.Argument(
    help="A campaign: its name under the runs directory, its directory, or its archive.sqlite.")]


USER_ERRORS = (("archive.errors", "ArchiveError"), ("evaluators.task", "TaskError"),
               ("discovery.models.base", "ModelError"), ("discovery.config", "ConfigError"),
               ("evaluators.sandbox", "IsolationError"))
"""The errors a user can fix, by module: looked up when one is raised, so that the command
line need not import pydantic and numpy (the modules that define them) to start; an error of a
module never imported cannot have been raised."""


def _user_errors() -> tuple[type[Exception], ...]:
    return tuple(getattr(sys.modules[module], name) for module, name in USER_ERRORS
                 if module in sys.modules)


def friendly(command: F) -> F:
    """Turn the errors a user can fix into one line on stderr and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            typer.echo(f"error: the archive cannot be read ({exc}): it is damaged; restore it "
                       "from a backup", err=True)
        except Exception as exc:
            if not isinstance(exc, _user_errors()):
                raise
            typer.echo(f"error: {sanitize.terminal(exc)}", err=True)
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


def print_wide(renderable: RenderableType) -> None:
    """Print at the renderable's natural width, past the terminal's if need be (the terminal
    wraps the line): for tables whose cells must never be cut, such as run names."""
    width = console.measure(renderable, options=console.options.update_width(10_000)).maximum
    Console(highlight=False, width=max(width, console.width)).print(renderable)


PROGRESS_HELP = ("rich (a live panel on a terminal, one line per iteration otherwise), lines, "
                 "quiet or jsonl.")


class Progress:
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
        elif event.get("event") == "warning":  # in every mode: a warning is never silent
            typer.echo(f"warning: {sanitize.terminal(event['message'])}", err=True)
        elif self.live is not None:
            self.view.update(event)
        elif self.mode != "quiet" and event.get("event") == "stopped":
            console.print(Text.assemble(("stopped:", "bold"), sanitize.text(
                f" {views.stopped_text(event)}")), soft_wrap=True)
        elif self.mode != "quiet" and "n" in event:
            console.print(views.iteration_line(event), soft_wrap=True)


