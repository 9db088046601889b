"""`discover convert`: an OpenEvolve or ShinkaEvolve folder written out as a native task, as far
as that can be done mechanically. The candidate's entry point (the function the peer's
evaluator calls) runs alone in the sandbox; the peer's evaluator, copied into the folder as a
trusted module, scores the returned outputs in the trusted process through a replay stub
(evaluators/peers/replay.py). What cannot be carried over is said, one line each."""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from discovery.peer_settings import peer_settings, toml_value
from evaluators.peers.formats import NAMES
from evaluators.peers.replay import replay_entry
from evaluators.peers.task import PeerTask, load_peer_task
from evaluators.task import TaskError

SCORER = '''"""Trusted scorer written by `discover convert` from the {kind} folder {source}: the
candidate's outputs are replayed to its evaluator ({evaluator}) in this process, so the
evaluator never sees the candidate's code (evaluators/peers/replay.py)."""

from pathlib import Path

from evaluators.peers.replay import replay_score

EVALUATOR = Path(__file__).with_name({evaluator!r})


def score(stage, case, outputs, oracle):
    return replay_score(EVALUATOR, {kind!r}, {function}, {entry!r}, outputs)
'''

UNCONVERTED = '''"""`discover convert` could not write this scorer from the {kind} folder {source}:
{why}. Write score() here: it gets the entry point's return value as plain data and returns
Metrics (docs/task-authoring.md)."""

from evaluators.scoring import InvalidOutput


def score(stage, case, outputs, oracle):
    raise InvalidOutput("this converted task has no scorer yet: write score() in scorer.py")
'''


@dataclass
class Conversion:
    kind: str
    done: list[str] = field(default_factory=list)
    not_converted: list[str] = field(default_factory=list)


def convert_folder(source: Path, out: Path, name: str | None = None) -> Conversion:
    """Writes the native folder `out` (which must not exist) from the peer folder `source`;
    the task is called `name`, else after the source folder (`discover new-task NAME --from-*`
    names it, `discover convert` does not)."""
    task = load_peer_task(source)
    if not isinstance(task, PeerTask):
        raise TaskError(f"{source} is not an OpenEvolve or ShinkaEvolve folder")
    folder = task.folder
    report = Conversion(folder.kind)
    entry, why = replay_entry(folder)
    out.mkdir(parents=True)
    for file, text in task.support_files.items():
        (out / file).write_text(text, encoding="utf-8")
    shutil.copyfile(source / folder.program, out / "seed.py")
    (out / "description.md").write_text(task.description, encoding="utf-8")
    function = "stage" if folder.kind == "openevolve" else repr("main")
    if not why:
        (out / "scorer.py").write_text(SCORER.format(
            kind=folder.kind, source=source.name, evaluator=folder.evaluator,
            function=function, entry=entry), encoding="utf-8")
        report.done.append(f"scorer.py: {folder.evaluator} scores the outputs of {entry}() "
                           "in the trusted process")
    else:
        (out / "scorer.py").write_text(UNCONVERTED.format(
            kind=folder.kind, source=source.name, why=why), encoding="utf-8")
        report.not_converted.append(f"the scorer: {why}; scorer.py is a placeholder to "
                                    "rewrite (run the folder unchanged with `discover run "
                                    f"{source}` meanwhile)")
    (out / "task.toml").write_text(_task_toml(task, entry or "main", name), encoding="utf-8")
    if any(stage.threshold is not None for stage in task.config.stages):
        report.not_converted.append(
            "the cascade thresholds, left as comments in task.toml: a stage under its threshold "
            "here rejects the program, where OpenEvolve kept it with that stage's score")
    report.done.append(f"seed.py from {folder.program}, description.md from the system "
                       "message and README, task.toml with the stages and time limits")
    if "# EVOLVE-BLOCK-START" not in task.seed_code:
        report.not_converted.append("seed.py has no EVOLVE-BLOCK: mark the code the models "
                                    "may change with # EVOLVE-BLOCK-START / -END lines")
    settings = peer_settings(folder)
    lines = [f"# The search settings of {source}'s {folder.config_file or 'defaults'}, "
             f"written by `discover convert`:\n# discover run {out} --config "
             f"{out / 'campaign.toml'}", f'task = "{out}"', *settings.search]
    if settings.models:
        lines += ["# their models (need the provider's key): uncomment to use",
                  *(f"# {line}" for line in settings.models)]
    lines += [f"# ignored: {line}" for line in settings.ignored]
    (out / "campaign.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.done.append("campaign.toml: " + (", ".join(settings.search) or "no settings"))
    report.not_converted += settings.ignored
    return report


def _task_toml(task: PeerTask, entry: str, name: str | None) -> str:
    """task.toml: the peer task's stages, each one case with no inputs, calling `entry`."""
    files = sorted(task.support_files)
    lines = [f"# Written by `discover convert` from {NAMES[task.kind]} folder.",
             f"name = {toml_value(name or task.config.name.removeprefix(task.kind + '_'))}",
             f"summary = {toml_value(task.config.summary)}",
             f"entry = {toml_value(entry)}", f"trusted = {toml_value(files)}", ""]
    for stage in task.config.stages:
        lines += ["[[stages]]", f"name = {toml_value(stage.name)}"]
        if stage.threshold is not None:  # ours rejects; OpenEvolve kept the stage's score
            lines.append(f"# threshold = {toml_value(stage.threshold)}")
        limits = {"wall_s": stage.limits.wall_s, "cpu_s": stage.limits.cpu_s}
        lines += [f"cases = [{{ name = {toml_value(stage.name)} }}]",
                  f"limits = {toml_value(limits)}", ""]
    return "\n".join(lines)
