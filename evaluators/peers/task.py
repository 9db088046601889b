"""An OpenEvolve or ShinkaEvolve task folder as one of our tasks, unchanged: the candidate and
the peer's own evaluator run together in the sandbox (evaluators/peers/driver.py), and the
trusted side maps the evaluator's answer to our metrics (evaluators/peers/scorer.py).

Trust: the peer's evaluator imports and runs the candidate in its own process, so a candidate
can reach the evaluator's variables and change its score. A peer task is therefore weaker than
a native one, whose trusted scorer runs outside the sandbox on the candidate's outputs only;
`discover eval` says so, every score carries the private metric `evaluator_trust`, and
`discover convert` writes a native folder where that can be done mechanically."""

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.records import EvaluationResult
from evaluators.agent_model import AgentModel
from evaluators.peers import driver, scorer
from evaluators.peers.formats import PeerFolder, PeerFormatError, read_folder
from evaluators.sandbox import DEFAULT_LIMITS, Executor, Limits, Run
from evaluators.task import (
    Case,
    CaseResult,
    StageConfig,
    Task,
    TaskConfig,
    TaskError,
    parse_python,
    version_hash,
)

DATA_SUFFIXES = (".py", ".json", ".jsonl", ".txt", ".csv", ".yaml", ".yml", ".md")
"""The folder's files that go into the sandbox next to the evaluator (text only: the harness
writes text files)."""

DATA_LIMIT = 4 * 2**20
"""Bytes of the folder's files carried into the sandbox, at most; larger files are left out
(and named)."""

README_LIMIT = 4000
"""Characters of the folder's README.md a description without a system message keeps (every
prompt carries the description)."""

DEFAULT_WALL_S = 300.0
"""OpenEvolve's default evaluator timeout, used where a folder names none."""

TRUST_NOTE = ("peer evaluator ({kind}): it imports and runs the candidate in its own "
              "process inside the sandbox, so a candidate could change its own score; weaker "
              "than a native task, whose trusted scorer sees only outputs (`discover convert` "
              "writes one)")


class _WithProgram:
    """An executor that writes the candidate's program next to the driver: the driver is the
    module the harness runs, the program a file the peer's evaluator loads."""

    def __init__(self, inner: Executor, program: str):
        self.inner, self.program = inner, program
        self.level = inner.level

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = DEFAULT_LIMITS,
            oracle: Any = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        return self.inner.run(code, entry, inputs, limits, oracle=oracle,
                              oracle_arg=oracle_arg,
                              files={**(files or {}), driver.PROGRAM: self.program})


@dataclass
class PeerTask(Task):
    """A peer folder run unchanged (see the module's docstring)."""

    folder: PeerFolder | None = None
    carried: dict[str, str] | None = None
    """The folder's files written next to the driver in the sandbox (the evaluator and what it
    reads)."""

    @property
    def kind(self) -> str:
        return self.folder.kind

    @property
    def trust_note(self) -> str:
        return TRUST_NOTE.format(kind=self.kind)

    @functools.cached_property
    def description(self) -> str:
        """Their system message, else their README.md, and how the program is scored."""
        parts = [self.folder.system_message]
        readme = self.root / "README.md"
        if not self.folder.system_message and readme.is_file():  # else it is their results
            parts.append(readme.read_text(encoding="utf-8").strip()[:README_LIMIT])
        parts.append(f"The program is scored by {self.kind}'s evaluator "
                     f"({self.folder.evaluator}), which imports it and calls its functions: "
                     "keep the names and return values of the code outside the "
                     "EVOLVE-BLOCK.")
        return "\n\n".join(p for p in parts if p) + "\n"

    @functools.cached_property
    def support_files(self) -> dict[str, str]:
        return dict(self.carried or {})

    @functools.cached_property
    def driver_code(self) -> str:
        return Path(driver.__file__).read_text(encoding="utf-8")

    def static_check(self, code: str) -> str | None:
        """Parsing only: the peer's evaluator decides which functions it needs."""
        try:
            parse_python(code)
        except SyntaxError as exc:
            return f"syntax error at line {exc.lineno}: {exc.msg}"
        return None

    def evaluate(self, code: str, sandbox: Executor, *, held_out: bool = False,
                 model: AgentModel | None = None) -> list[EvaluationResult]:
        """As OpenEvolve's cascade does: a stage under its threshold ends the evaluation with
        that stage's score (not a rejection), and the public metric `cascade` says why."""
        results = super().evaluate(code, sandbox, held_out=held_out, model=model)
        last = results[-1]
        if last.status == "rejected":
            results[-1] = dataclasses.replace(
                last, status="ok", reason=None,
                public_metrics={**last.public_metrics, "cascade": f"stopped: {last.reason}"})
        return results

    def run_case(self, stage: StageConfig, case: Case, code: str,
                 executor: Executor) -> CaseResult:
        return super().run_case(stage, case, self.driver_code, _WithProgram(executor, code))


def load_peer_task(root: Path) -> PeerTask:
    """The peer folder at `root` as a task; a TaskError names what is missing."""
    try:
        folder = read_folder(root)
    except PeerFormatError as exc:
        raise TaskError(str(exc)) from exc
    files, left_out = _carried_files(folder)
    folder.notes += left_out
    name = re.sub(r"[^a-z0-9_]+", "_", root.resolve().name.lower()).strip("_") or "task"
    config = TaskConfig(name=f"{folder.kind}_{name}", summary=_summary(folder),
                        entry="run_peer", parameters=["evaluator", "function", "kind"],
                        seed=folder.program, support=[], preload=["numpy"],
                        stages=_stages(folder))
    ours = [str(Path(module.__file__)) for module in (driver, scorer)]
    task = PeerTask(root, config, version_hash(root, ours), scorer, folder=folder,
                    carried=files)
    problem = task.static_check(task.seed_code)
    if problem is not None:
        raise TaskError(f"{root / folder.program}: {problem}")
    return task


def _stages(folder: PeerFolder) -> list[StageConfig]:
    """OpenEvolve's cascade (evaluate_stage1, 2, 3 while each passes its threshold) where its
    config asks for it and the evaluator has the stages; else one stage calling `evaluate`
    (ShinkaEvolve: `main`). The evaluator's timeout is the sandbox's wall and CPU limit."""
    settings = folder.config.get("evaluator", {}) if folder.kind == "openevolve" else {}
    wall = float(settings.get("timeout") or _shinka_wall(folder) or DEFAULT_WALL_S)
    limits = {"wall_s": wall, "cpu_s": wall}

    def stage(function: str, threshold: float | None = None) -> StageConfig:
        return StageConfig.model_validate({
            "name": function, "threshold": threshold, "limits": limits,
            "cases": [{"name": function, "inputs": {
                "evaluator": folder.evaluator, "function": function, "kind": folder.kind}}]})

    if folder.kind == "shinka":
        return [stage("main")]
    cascade = [f"evaluate_stage{i}" for i in (1, 2, 3) if f"evaluate_stage{i}" in folder.functions]
    if not settings.get("cascade_evaluation", True) or not cascade:
        return [stage("evaluate")]
    thresholds = list(settings.get("cascade_thresholds", [0.5, 0.75, 0.9]))
    return [stage(function, thresholds[i] if i < len(thresholds) and function != cascade[-1]
                  else None) for i, function in enumerate(cascade)]


def _shinka_wall(folder: PeerFolder) -> float | None:
    """run_evo.py's LocalJobConfig(time="HH:MM:SS"), in seconds."""
    text = folder.config.get("job_config", {}).get("time")
    if isinstance(text, str) and re.fullmatch(r"\d+:\d\d:\d\d", text):
        hours, minutes, seconds = (int(part) for part in text.split(":"))
        return float(hours * 3600 + minutes * 60 + seconds) or None
    return None


def _summary(folder: PeerFolder) -> str:
    readme = folder.root / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines() if readme.is_file() else []
    text = next((line.strip() for line in lines
                 if line.strip() and not line.startswith(("#", "`"))), "")
    return text[:300] or f"An {folder.kind} task: raise the evaluator's combined_score."


def _carried_files(folder: PeerFolder) -> tuple[dict[str, str], list[str]]:
    """The folder's top-level text files for the sandbox (the initial program stays out: the
    candidate takes its place), and a note for each file or folder left out."""
    files: dict[str, str] = {}
    notes, used = [], 0
    for path in sorted(folder.root.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__" \
                or path.name == folder.program:
            continue
        if path.is_dir():
            notes.append(f"{path.name}/: a folder, not carried into the sandbox (only the "
                         "folder's top-level text files are)")
        elif path.suffix not in DATA_SUFFIXES or path.name in ("candidate.py", driver.PROGRAM):
            notes.append(f"{path.name}: not carried into the sandbox (text files "
                         f"{', '.join(DATA_SUFFIXES)} are)")
        elif used + path.stat().st_size > DATA_LIMIT:
            notes.append(f"{path.name}: not carried into the sandbox (past "
                         f"{DATA_LIMIT // 2**20} MB of files)")
        else:
            try:
                files[path.name] = path.read_text(encoding="utf-8")
                used += path.stat().st_size
            except UnicodeDecodeError:
                notes.append(f"{path.name}: not text, not carried into the sandbox")
    return files, notes
