"""Tasks: `eval` scores programs on a task in the sandbox."""

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from discovery import views
from discovery.cli.common import app, console, friendly
from evaluators.executors import open_executor
from evaluators.sandbox import LEVELS
from evaluators.task import TaskError, load_task, task_names


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
    code = program.read_text(encoding="utf-8") if program else loaded.seed_code
    with open_executor(executor, isolation=isolation, address=address) as sandbox:
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


