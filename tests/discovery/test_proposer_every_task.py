"""`discover run TASK --proposer ...` on every shipped task (issue 24: "`--proposer` works on
every shipped task"). The task list comes from the catalog, so a new task is covered without
editing this file; a task whose optional package is missing here is skipped, saying which.

Every model is a TEST DOUBLE (a scripted answer: the task's own seed with a harmless helper
added), and the agent model is the `simulator`: what is checked is the plumbing (the proposer
program runs in the sandbox, its model calls and its `evaluate` tool reach the trusted side, its
answer becomes a child that the task scores, a broken program costs only its proposal), not
what a real model would find. Each campaign is a copy of the task with its first stage only
(no held-out stage): a proposer sees only text and plain data, the same on every task, and the
later stages (CFR's train stage alone takes minutes) add nothing to what is checked here."""

import ast
import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import discover
from meta_doubles import script

from archive import ArchiveReader
from discovery.meta.program import SEED_FILE
from discovery.models.agent import EMBED_PURPOSE
from discovery.models.agent import PURPOSE as AGENT_PURPOSE
from evaluators.catalog import task_folders, task_names
from evaluators.task import load_task

FAST = {"circle_packing", "arithmetic"}
"""Tasks whose campaign here takes seconds; every other one is marked slow."""

HELPER = '''

def proposed_helper():
    """Added by the scripted model: the child differs from its parent and works the same."""
    return "made through the proposer program"
'''

TRACER = '''
def propose(request, tools):
    """The seed proposer's call, then its draft scored with the evaluate tool and the verdict
    written into the child (a line the test finds), then a second call: the archive records
    two proposal calls where the built-in makes one."""
    draft = tools.model(request["messages"])
    verdict = tools.evaluate(draft)
    tools.model(request["messages"] + [{"role": "assistant", "content": draft}])
    note = f"# evaluate said: {verdict['status']}\\n"
    return draft.replace("# EVOLVE-BLOCK-END", note + "# EVOLVE-BLOCK-END", 1)
'''
"""The seed proposer program's block changed to use both tools: proof, in the archive,
that the program (not the built-in) made the proposal, and that `evaluate` works on the task."""

HOSTILE = {
    "overspends": '''
def propose(request, tools):
    """Calls the model until the budget stops it, and lets the refusal escape."""
    while True:
        tools.model(request["messages"])
''',
    "hangs": '''
def propose(request, tools):
    """Asks once, then never answers (asleep: no CPU burnt on a shared machine)."""
    import time

    tools.model(request["messages"])
    while True:
        time.sleep(1)
''',
}
"""Broken proposer blocks, put into the seed proposer's frame."""


def missing_package(name: str) -> str | None:
    """The first module that the task's trusted code or support files import and this
    environment lacks (an optional extra such as textworld), or None."""
    folder = task_folders()[name]
    config = tomllib.loads((folder / "task.toml").read_text())
    files = [folder / "scorer.py", *(folder / p for p in config.get("trusted", []) +
                                     config.get("support", []))]
    local = {p.stem for p in folder.parent.rglob("*.py")}
    for file in files:
        if file.suffix != ".py" or not file.exists():
            continue
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local \
                        and importlib.util.find_spec(top) is None:
                    return f"{name} needs the {top} package, not installed here"
    return None


def first_stage_copy(name: str, tmp_path: Path) -> Path:
    """A copy of the task's room (its `_shared` code included) whose task keeps only its first
    stage: everything from its second `[[stages]]` or its `[held_out]` on is dropped."""
    folder = task_folders()[name]
    room = shutil.copytree(folder.parent, tmp_path / "tasks" / folder.parent.name,
                           ignore=shutil.ignore_patterns("__pycache__"))
    toml = room / name / "task.toml"
    head, first, *_ = re.split(r"(?m)^(?=\[\[stages\]\]|\[held_out\])", toml.read_text())
    toml.write_text(head + first)
    return room / name


def proposer_file(tmp_path: Path, block: str) -> Path:
    """A proposer program: the seed proposer's frame around `block`."""
    seed = SEED_FILE.read_text()
    code = seed.split("# EVOLVE-BLOCK-START\n")[0] + "# EVOLVE-BLOCK-START\n" + \
        block.lstrip("\n") + "# EVOLVE-BLOCK-END\n" + seed.split("# EVOLVE-BLOCK-END\n")[1]
    path = tmp_path / "proposer.py"
    path.write_text(code)
    return path


def campaign(tmp_path: Path, name: str, proposer: Path, *settings: str) -> Path:
    """A campaign of one proposal on the first-stage copy of task `name`, the scripted model
    answering with the task's seed plus HELPER; the run's folder."""
    task = first_stage_copy(name, tmp_path)
    seed = load_task(str(task)).seed_code
    answer = seed.replace("# EVOLVE-BLOCK-END", HELPER + "# EVOLVE-BLOCK-END", 1)
    model = script(tmp_path / "model.jsonl", [f"```python\n{answer}```"])
    extra = [arg for setting in settings for arg in ("--set", setting)]
    result = discover(tmp_path / "runs", "run", str(task), "--name", "p", "--iterations", "2",
                      # the seed's iteration, then the one proposal
                      "--progress", "quiet", "--no-preflight", "--proposer", str(proposer),
                      "--set", f'models=[{{name="scripted:{model}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0",
                      "--set", "selection.islands=1", "--set", 'agent_model={name="simulator"}',
                      *extra)
    assert result.exit_code == 0, result.output  # never a crash, whatever the program does
    return tmp_path / "runs" / "p"


def every_task(fast: set[str]) -> list:
    """Every shipped task as a parameter, slow unless in `fast` (most take 3 to 30 s here on an
    idle machine, cfr_paper's smoke stage 70 to 160 s: together minutes, too many for CI)."""
    return [pytest.param(name, marks=[] if name in fast else [pytest.mark.slow])
            for name in task_names()]


@pytest.mark.parametrize("name", every_task(FAST))
def test_a_proposer_program_proposes_on_every_shipped_task(tmp_path, name):
    """The tracing proposer program makes the one proposal: two model calls recorded, its
    evaluate tool scores the draft on the task (status written into the child) with the
    campaign's agent model where the task's evaluations call one (those calls recorded between
    the program's two), and the child is scored by the task like any program."""
    reason = missing_package(name)
    if reason:
        pytest.skip(reason)
    run = campaign(tmp_path, name, proposer_file(tmp_path, TRACER))
    with ArchiveReader(run / "archive.sqlite") as reader:
        purposes = [c.purpose for c in reader.model_calls(iteration=1)]
        calls = [c for c in reader.model_calls(iteration=1) if c.purpose == "propose"]
        agent = {AGENT_PURPOSE, EMBED_PURPOSE}
        seed_asks = any(c.purpose in agent for c in reader.model_calls(iteration=0))
        step = reader.iteration(1)
        child = reader.program(step.program_id) if step.program_id else None
        assert len(calls) == 2 and all(c.error is None for c in calls), calls
        first, second = [i for i, p in enumerate(purposes) if p == "propose"]
        between = set(purposes[first + 1:second])  # the evaluate tool's agent calls
        assert (between and between <= agent) if seed_asks else not between, purposes
        assert child is not None, step.reason
        assert "proposed_helper" in child.code
        assert "# evaluate said: ok" in child.code, child.code[-400:]
        assert step.status == "ok", step.reason


@pytest.mark.parametrize("behaviour, name", [
    ("overspends", "circle_packing"),
    pytest.param("hangs", "gridworld_memory", marks=pytest.mark.slow),
    pytest.param("overspends", "cfr", marks=pytest.mark.slow),
])
def test_a_broken_proposer_program_costs_only_its_proposal(tmp_path, behaviour, name):
    """A program that spends past its model budget, or never answers, fails its proposal with
    the reason recorded: the campaign goes on and finishes with its seed."""
    reason = missing_package(name)
    if reason:
        pytest.skip(reason)
    proposer = proposer_file(tmp_path, HOSTILE[behaviour])
    run = campaign(tmp_path, name, proposer, "proposer.model_calls=3", "proposer.wall_s=20")
    with ArchiveReader(run / "archive.sqlite") as reader:
        step = reader.iteration(1)
        calls = [c for c in reader.model_calls(iteration=1) if c.purpose == "propose"]
        assert step.program_id is None and step.status == "no program"
        assert reader.best().id == 1  # the seed, scored
    if behaviour == "overspends":
        assert len(calls) == 3 and "budget of 3 model calls" in step.reason, step.reason
    else:
        assert len(calls) == 1 and "timeout" in step.reason, step.reason
