"""Tasks: `eval` scores programs on a task in the sandbox; `new-task` writes a task folder to
start from."""

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Annotated

import typer

from discovery.cli.common import app, console, friendly
from evaluators.catalog import task_names
from evaluators.sandbox import LEVELS

# The commands import the task machinery (pydantic, numpy) when they run, so that the command
# line starts without it (bench/startup_bench.py).

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "minimal_task"
"""What `new-task` copies: a working minimal task, which users may also copy by hand."""


@app.command("eval")
@friendly
def evaluate(
    task: Annotated[str, typer.Argument(
        help=f"A shipped task ({', '.join(task_names())}) or a task folder.")],
    programs: Annotated[list[Path] | None, typer.Argument(
        metavar="PROGRAM",
        help="Programs to score, in order, on one executor (default: the task's seed program).",
    )] = None,
    held_out: Annotated[bool, typer.Option(
        help="Also run the held-out stage (reported as private metrics).")] = False,
    isolation: Annotated[str | None, typer.Option(
        help=f"Force an isolation level ({', '.join(LEVELS)}); default: the strongest here.",
    )] = None,
    executor: Annotated[str, typer.Option(
        help="fresh: a new sandboxed process per run; warm: a fork server with numpy loaded; "
             "ray: Ray slots (pip install -e '.[ray]').")] = "fresh",
    agent_model: Annotated[str | None, typer.Option(
        help="For tasks whose programs call a model: the agent model (a litellm name, "
             "embedded, simulator; default: the task's own).")] = None,
    address: Annotated[str | None, typer.Option(
        help="With --executor ray: the cluster to join (default: start a local one).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a JSON list: one report per program.")] = False,
) -> None:
    """Score programs on a task in the sandbox, stage by stage, each reported on its own.
    Exit code 1 if any fails."""
    from archive.records import ModelCall
    from discovery import views
    from discovery.models import agent_models
    from discovery.models.agent import AgentModelConfig, task_budget
    from evaluators.executors import open_executor
    from evaluators.task import TaskError, load_task

    loaded = load_task(task)
    peer = _peer_lines(loaded)
    paths = programs or [loaded.root / loaded.config.seed]
    for path in paths:  # every file is checked before the first evaluation starts
        if not path.is_file():
            raise TaskError(f"no program file at {path}: give the path of a Python file")
    reports = []
    name = agent_model or loaded.config.agent_model
    models = None if name is None else agent_models(task_budget(
        AgentModelConfig(name=name), loaded.config.agent_calls_per_evaluation))
    with open_executor(executor, isolation=isolation, address=address,
                       preload=tuple(loaded.config.preload),
                       gpus=loaded.config.gpus) as sandbox:
        for path in paths:  # one executor: a warm pool stays warm from one program to the next
            calls: list[ModelCall] = []
            results = loaded.evaluate(path.read_text(encoding="utf-8"), sandbox,
                                      held_out=held_out,
                                      model=models and models.for_evaluation(calls))
            reports.append({"task": loaded.name, "version": loaded.version,
                            "isolation": sandbox.level, "program": str(path),
                            "results": [dataclasses.asdict(r) for r in results],
                            **({"peer": peer} if peer else {})})
            if not as_json:
                if peer:  # said before the scores it qualifies
                    typer.echo(f"trust: {peer['trust']}")
                console.print(views.evaluation_view(loaded.name, loaded.version, sandbox.level,
                                                    str(path), results))
                for key, lines in peer.items():
                    for line in [] if key == "trust" else lines:
                        typer.echo(f"{key}: {line}")
                if models is not None:
                    console.print(views.agent_calls_line(models.config.name, calls),
                                  markup=False)
    if as_json:
        typer.echo(json.dumps(reports, indent=1))
    if any(report["results"][-1]["status"] != "ok" for report in reports):
        raise typer.Exit(1)


def _peer_lines(task) -> dict[str, str | list[str]]:
    """For an OpenEvolve or ShinkaEvolve folder: its trust level, and its search settings as
    ours (`--set` overrides), each of its settings that has no equivalent, one line each;
    empty for a native task."""
    from discovery.peer_settings import peer_settings
    from evaluators.peers.task import PeerTask

    if not isinstance(task, PeerTask):
        return {}
    settings = peer_settings(task.folder)
    return {"trust": task.trust_note,
            "settings": [f"--set {line}" for line in settings.search],
            "models": [f"--set {line}" for line in settings.models],
            "mapped": settings.mapped, "ignored": settings.ignored}


@app.command("new-task")
@friendly
def new_task(
    name: Annotated[str, typer.Argument(
        help="The task's name: lower case letters, digits and underscores.")],
    out: Annotated[Path | None, typer.Option(
        help="The folder to write (default: ./NAME); it must not exist yet.")] = None,
    from_openevolve: Annotated[Path | None, typer.Option(
        "--from-openevolve", metavar="PATH",
        help="Scaffold from an OpenEvolve folder (initial_program.py, evaluator.py), as "
             "`discover convert` does.")] = None,
    from_shinka: Annotated[Path | None, typer.Option(
        "--from-shinka", metavar="PATH",
        help="Scaffold from a ShinkaEvolve folder (initial.py, evaluate.py), as "
             "`discover convert` does.")] = None,
) -> None:
    """Write a working task folder to start from: task.toml, seed.py (with its EVOLVE-BLOCK),
    a trusted scorer.py, description.md and a README.md for the reference table; or, with
    --from-openevolve / --from-shinka, that peer folder converted to a native task. Guides:
    docs/task-authoring.md, docs/formats.md."""
    from evaluators.task import TaskError

    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise TaskError(f"{name!r} is not a task name: use lower case letters, digits and "
                        "underscores, starting with a letter (e.g. my_task)")
    folder = out or Path(name)
    sources = {kind: path for kind, path in (("openevolve", from_openevolve),
                                             ("shinka", from_shinka)) if path is not None}
    if len(sources) > 1:
        raise TaskError("give one of --from-openevolve and --from-shinka, not both")
    if folder.exists():
        raise TaskError(f"{folder} already exists: choose another folder with --out, or "
                        "remove it first")
    if sources:
        [(kind, source)] = sources.items()
        _check_peer_kind(source, kind)
        _convert(source, folder, name)
        return
    if not (TEMPLATE / "task.toml").is_file():
        raise TaskError(f"the task template is missing from {TEMPLATE}: it ships with the "
                        "source tree (examples/minimal_task); install from a checkout")
    shutil.copytree(TEMPLATE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    config = folder / "task.toml"
    config.write_text(re.sub(r'(?m)^name = ".*"$', f'name = "{name}"',
                             config.read_text(encoding="utf-8"), count=1), encoding="utf-8")
    typer.echo(f"wrote task {name} to {folder}: a working example (spreading points in a "
               "square) to rewrite; the guide is docs/task-authoring.md\n"
               f"  discover eval {folder}                 # score the seed program\n"
               f"  discover run {folder} --iterations 10  # a short campaign")


def _check_peer_kind(source: Path, kind: str) -> None:
    """`--from-openevolve` on a ShinkaEvolve folder (or the reverse) is refused, naming the
    flag that fits; so is a folder with neither evaluator."""
    from evaluators.peers.formats import LAYOUTS, NAMES, peer_kind
    from evaluators.task import TaskError

    found = peer_kind(source)
    if found is None:
        stem, evaluator = LAYOUTS[kind]
        raise TaskError(f"{source} is not {NAMES[kind]} folder: it has no {evaluator} (give "
                        f"the folder holding {stem}.py and {evaluator})")
    if found != kind:
        raise TaskError(f"{source} is {NAMES[found]} folder ({LAYOUTS[found][1]}), not "
                        f"{NAMES[kind]} one: use --from-{found} {source}")


def _convert(source: Path, out: Path, name: str | None = None) -> None:
    """Converts the peer folder and says, one line each, what was and was not converted."""
    from discovery.peer_convert import convert_folder

    report = convert_folder(source, out, name)
    typer.echo(f"wrote {out}: a native task from {report.kind} folder {source}")
    for line in report.done:
        typer.echo(f"  converted: {line}")
    for line in report.not_converted:
        typer.echo(f"  NOT converted: {line}")
    typer.echo(f"  discover eval {out}    # score its seed (trusted scorer, candidate sandboxed)")
    typer.echo(f"  discover run {out} --config {out / 'campaign.toml'}    # with their settings")


@app.command("convert")
@friendly
def convert(
    folder: Annotated[Path, typer.Argument(
        help="An OpenEvolve or ShinkaEvolve task folder (evaluator.py or evaluate.py).")],
    out: Annotated[Path, typer.Argument(help="The native task folder to write (must not exist).")],
) -> None:
    """Write an OpenEvolve or ShinkaEvolve task as a native task folder: the candidate runs
    alone in the sandbox and the peer's evaluator scores its outputs in the trusted process
    (replayed through a stub program), with campaign.toml holding their search settings.
    Says what it could not convert. Guides: docs/bring-your-problem.md, docs/formats.md."""
    from evaluators.task import TaskError

    if out.exists():
        raise TaskError(f"{out} already exists: choose another folder, or remove it first")
    _convert(folder, out)
