"""Helpers shared by test modules (test modules never import each other)."""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from typer.testing import CliRunner

from archive import ArchiveWriter, EvaluationResult, NewProgram
from discovery.cli import app
from evaluators.sandbox import Sandbox
from evaluators.task import Case, load_task

SCRIPT = Path(__file__).parent / "data" / "circle_packing_script.jsonl"
SCRIPTED = ["--set", f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]',
            "--set", "edits.tune_share=0",
            "--set", "edits.restart_share=0", "--set", "executor=\"fresh\""]


def junk_model(path: Path) -> str:
    return f'models=[{{name="scripted:{path}", edit_mix={{rewrite=1.0}}}}]'


def run_scripted(runs: Path, name: str, iterations: int, model: str, *settings: str):
    """A quiet circle-packing campaign with model proposals only (no tuning, no restarts)."""
    extra = [arg for setting in settings for arg in ("--set", setting)]
    result = discover(runs, "run", "circle_packing", "--name", name, "--iterations",
                      str(iterations), "--progress", "quiet", "--set", model,
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0", *extra)
    assert result.exit_code == 0, result.output
    return result


def discover(runs: Path, *args: str):
    return CliRunner().invoke(app, ["--runs-dir", str(runs), *args])


def seed_code(value: float) -> str:
    return f'"""A tiny program."""\n\n# EVOLVE-BLOCK-START\nVALUE = {value!r}\n# EVOLVE-BLOCK-END\n'


def add_scored(writer: ArchiveWriter, value: float, score: float | None, parents=(),
               status: str = "ok", **kwargs) -> int:
    """Add a program and its final evaluation in one go."""
    pid = writer.add_program(NewProgram(seed_code(value), parents=tuple(parents), **kwargs))
    writer.record_evaluation(pid, EvaluationResult("full", status, score=score,
                                                   reason=None if status == "ok" else "boom"))
    return pid




def smoke_crash_reason(task_name: str, header: str, body: str) -> str:
    """Evaluate the task's seed with the body of the function whose `def` line is `header`
    (inside the EVOLVE-BLOCK) replaced by `body`, check that the run crashed in the smoke
    stage, and return the recorded reason: how tests write misbehaving candidates."""
    task = load_task(task_name)
    code = re.sub(rf"({re.escape(header)}\n).*?(\n\n\ndef |# EVOLVE-BLOCK-END)",
                  lambda m: f"{m.group(1)}    {body}\n{m.group(2)}", task.seed_code,
                  flags=re.DOTALL)  # up to the next function of the block, or its end
    result = task.evaluate(code, Sandbox())[0]
    assert result.stage == "smoke" and result.status == "crashed", result
    return result.reason


def replayed_driver(rule: str, oracle: str) -> str:
    """Code for inside a trusted-loop task's EVOLVE-BLOCK that redefines the driver `run` (which
    `solve` looks up when it is called): the honest run, then ten times its oracle calls, by
    replaying the last one."""
    return f"""
_honest_run = run


def run({rule}, {oracle}, *rest):
    sent = []

    def spy(*args):
        sent.append(args)
        return {oracle}(*args)
    _honest_run({rule}, spy, *rest)
    for _ in range(9 * len(sent)):
        {oracle}(*sent[-1])
"""


def forged_driver(rule: str, oracle: str, claim: str) -> str:
    """A redefined driver that runs honestly, then returns `claim` (a Python expression) as if
    that were what the run produced."""
    return f"""
_honest_run = run


def run({rule}, {oracle}, *rest):
    _honest_run({rule}, {oracle}, *rest)
    return {claim}
"""


def assert_same_score_or_refused(task_name: str, code: str, refusal: str | None) -> None:
    """The task's seed with `code` added to its EVOLVE-BLOCK, run on the smoke case: the seed's
    own metrics (refusal None), or refused with `refusal` in the reason."""
    task = load_task(task_name)
    stage = task.config.stages[0]
    case = Case(stage.cases[0].name, stage.cases[0].inputs, stage.cases[0].secret)
    honest = task.run_case(stage, case, task.seed_code, Sandbox())
    result = task.run_case(stage, case, task.seed_code.replace(
        "# EVOLVE-BLOCK-END", code + "# EVOLVE-BLOCK-END"), Sandbox())
    assert honest.status == "ok", honest
    if refusal is None:
        assert result.status == "ok" and result.metrics == honest.metrics, result
    else:
        assert result.status in ("crashed", "invalid") and refusal in result.reason, result


def load_module(path: Path, name: str) -> ModuleType:
    """A program file (a seed or a baseline) imported as module `name`, to call its functions
    in this process."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
