"""Turn an archived program into an importable Python module or a small installable package.

The module is the program's code under a docstring that records where it came from, plus a
`__provenance__` dict with the same facts for code that wants to check them. Every file is
written atomically: a failed export leaves nothing behind and overwrites nothing.

A package's dependencies are what the task declares its programs may use (task.toml
`requirements`) and what the user asks for (`--requires`), never what the program's code
imports: the code is a candidate's, and `pip install` of a name it chose would fetch whatever
the registry holds under that name. Imports that neither covers are named, not added.
"""

import ast
import datetime as dt
import importlib.metadata
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from archive import ArchiveError, ArchiveReader, Program
from archive.atomic import atomic_write_text
from discovery import sanitize
from discovery.double_label import campaign_label
from discovery.search.edits import design_notes
from evaluators.task import TaskError, load_task, parse_python

_REQUIREMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[\w.,\s-]*\])?"
                          r"(?:\s*[<>=!~;@(][^\x00-\x1f\x7f]*)?")
"""A PEP 508 requirement on one line: a distribution name, extras, then any version, marker
or URL (pip checks the rest when the package is installed)."""


class Exported(NamedTuple):
    """What `export_package` wrote."""

    program: Program
    module: str
    """The package's import name."""
    dependencies: list[str]
    """The task's requirements and the user's, as the package declares them."""
    unlisted: list[str]
    """Distributions the program's code imports that no requirement covers: named for the
    user to decide on, never added."""


def exportable(reader: ArchiveReader, program_id: int | None) -> Program:
    """The program to export (the best one when no id is given), refused unless it evaluated ok
    with a finite score, so a broken program never masquerades as a result."""
    if program_id is None:
        best = reader.best()
        if best is None:
            raise ArchiveError(
                f"{reader.path} has no program that evaluated ok yet: nothing to export"
            )
        return best
    program = reader.program(program_id)
    if program.status != "ok":
        raise ArchiveError(
            f"program {program.id} never evaluated ok (status: {program.status}): export an ok "
            "program, e.g. with --best"
        )
    if program.score is None or not math.isfinite(program.score):
        raise ArchiveError(
            f"program {program.id} has no finite score ({program.score!r}): export another "
            "program, e.g. with --best"
        )
    if program.language != "python":
        raise ArchiveError(
            f"program {program.id} is {program.language}, not Python: only Python exports as a "
            "module"
        )
    return program


def provenance(reader: ArchiveReader, program: Program) -> dict[str, Any]:
    """The facts an export carries; `test_doubles` (only when the campaign's agent or meta
    model was a test double) says its score tests plumbing, not the design."""
    campaign = reader.campaign()
    doubled = campaign_label(reader)
    lineage = reader.ancestry(program.id)
    final = [e for e in reader.evaluations(program.id) if e.final]
    ancestors = reader.programs(lineage)
    models = sorted({p.model for p in ancestors if p.model})
    return {
        "campaign": campaign.name,
        "task": campaign.task,
        "program_id": program.id,
        "score": program.score,
        "metrics": final[-1].public_metrics if final else {},
        "lineage": lineage,
        **({"design": notes.name, "thought": notes.thought}
           if (notes := design_notes(program.code)) is not None else {}),
        "models": models,
        **({"test_doubles": doubled} if doubled else {}),
        "operators": list(dict.fromkeys(p.edit_kind or "-" for p in ancestors)),
        "evaluator_version": program.evaluator_version,
        "created": _iso(program.created_at),
        "exported": _iso(dt.datetime.now(dt.UTC).timestamp()),
    }


def module_source(reader: ArchiveReader, program: Program) -> str:
    try:
        tree = parse_python(program.code)
    except SyntaxError as exc:
        raise ArchiveError(f"program {program.id}'s code does not parse ({exc})") from exc
    code, own_doc = program.code, ast.get_docstring(tree, clean=False)
    if own_doc is not None:  # fold the program's docstring into ours; two would break __future__
        first = tree.body[0]
        lines = code.splitlines(keepends=True)
        code = "".join(lines[:first.lineno - 1] + lines[first.end_lineno:])
    facts = provenance(reader, program)
    summary = (own_doc.strip() if own_doc
               else f"Program {program.id} of campaign {facts['campaign']}.")
    doc = "\n".join([
        summary,
        "",
        "Exported by discovery. Provenance:",
        f"    campaign:          {facts['campaign']} (task {facts['task']})",
        f"    program:           {program.id} (generation {program.generation}, "
        f"island {program.island})",
        f"    score:             {program.score!r}",
        *([f"    caveat:            {facts['test_doubles']}"] if "test_doubles" in facts else []),
        f"    metrics:           {json.dumps(facts['metrics'], sort_keys=True)}",
        f"    lineage:           {' -> '.join(map(str, facts['lineage']))}",
        *([f"    design:            {facts['design']}"] if "design" in facts else []),
        f"    models:            {', '.join(facts['models']) or 'none'}",
        f"    operators:         {', '.join(facts['operators'])}",
        f"    evaluator version: {facts['evaluator_version']}",
        f"    created:           {facts['created']}",
        f"    exported:          {facts['exported']}",
        *(["", "A proposer program: `discover run TASK --proposer THIS_FILE.py`, or [proposer]",
           "program = \"THIS_FILE.py\" in a campaign config (docs/meta.md)."]
          if facts["task"] == "meta_proposer" else []),
    ])
    # the program's docstring without control characters: a NUL does not compile, an escape
    # sequence would act on the terminal of whoever prints the module
    escaped = sanitize.terminal(doc).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    source = (f'"""{escaped}\n"""\n\n{code.rstrip()}\n\n'
              f"__provenance__ = {_literal(facts)}\n")
    compile(source, f"<export of program {program.id}>", "exec")
    return source


def export_module(reader: ArchiveReader, program_id: int | None, out: Path) -> Program:
    if out.suffix != ".py" or not out.stem.isidentifier():
        raise ArchiveError(
            f"{out} is not an importable module name: use a .py file named like a Python "
            "identifier, e.g. best_program.py"
        )
    program = exportable(reader, program_id)
    atomic_write_text(out, module_source(reader, program))
    return program


def exported_provenance(path: Path) -> dict[str, Any] | None:
    """The `__provenance__` of a module `export_module` wrote, or None when the file is missing
    or is not such an export: how a campaign tells whether its best export is current."""
    try:
        tree = parse_python(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in reversed(tree.body):
        if isinstance(node, ast.Assign) and \
                [getattr(t, "id", None) for t in node.targets] == ["__provenance__"]:
            try:
                facts = ast.literal_eval(node.value)
            except ValueError:
                return None
            return facts if isinstance(facts, dict) else None
    return None


def export_package(reader: ArchiveReader, program_id: int | None, out_dir: Path,
                   name: str | None = None, force: bool = False,
                   requires: Sequence[str] = ()) -> Exported:
    """Write `out_dir/pyproject.toml` and `out_dir/<name>/__init__.py`, depending on the task's
    requirements and `requires` (the user's), never on the program's imports."""
    program = exportable(reader, program_id)
    dependencies = list(dict.fromkeys([*task_requirements(reader), *requires]))
    for requirement in dependencies:
        if not _REQUIREMENT.fullmatch(requirement):
            raise ArchiveError(f"{requirement!r} is not a requirement: give a distribution "
                               "name with an optional version, e.g. --requires 'numpy>=1.26'")
    name = name or _identifier(f"{reader.campaign().name}_program_{program.id}")
    if not name.isidentifier():
        raise ArchiveError(f"package name {name!r} is not a Python identifier: pick another --name")
    if out_dir.exists() and not force:
        raise ArchiveError(f"{out_dir} already exists: remove it or pass --force to replace it")
    source = module_source(reader, program)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / name).mkdir()
        (staging / name / "__init__.py").write_text(source, encoding="utf-8")
        (staging / "pyproject.toml").write_text(_pyproject(name, program, reader, dependencies),
                                                "utf-8")
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, old / "pkg")
            os.replace(staging, out_dir)
            shutil.rmtree(old)
        else:
            os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    covered = {_distribution(requirement) for requirement in dependencies}
    return Exported(program, name, dependencies,
                    [d for d in third_party_distributions(program.code)
                     if _distribution(d) not in covered])


def task_requirements(reader: ArchiveReader) -> list[str]:
    """What the campaign's task declares its programs may import (task.toml `requirements`);
    none when the task does not load here (the user's `--requires` then say it all)."""
    campaign = reader.campaign()
    try:
        task = load_task(campaign.config.get("task", campaign.task))
    except TaskError:
        return []
    return list(task.config.requirements)


def _distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]*", requirement)[0]).lower()


def _pyproject(name: str, program: Program, reader: ArchiveReader,
               dependencies: list[str]) -> str:
    campaign = reader.campaign().name
    deps = ", ".join(json.dumps(d) for d in dependencies)
    return "\n".join([
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        f'name = "{name.replace("_", "-")}"',
        'version = "1.0.0"',
        f"description = {json.dumps(f'Program {program.id} of discovery campaign {campaign}')}",
        'requires-python = ">=3.11"',
        f"dependencies = [{deps}]",
        "",
        "[tool.setuptools]",
        f'packages = ["{name}"]',
        "",
    ])


def third_party_distributions(code: str) -> list[str]:
    """Distributions that provide the program's non-standard-library imports, as installed here
    (falling back to the import name when none is installed): what to tell the user the code
    asks for, never a dependency by itself."""
    roots = set()
    for node in ast.walk(parse_python(code)):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    mapping = importlib.metadata.packages_distributions()
    return sorted({
        dist for root in roots - set(sys.stdlib_module_names) - {"__future__"}
        for dist in mapping.get(root, [root])
    })


def _identifier(text: str) -> str:
    ident = re.sub(r"\W+", "_", text).strip("_").lower()
    return ident if ident[:1].isalpha() else f"p_{ident}"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _literal(value: dict[str, Any]) -> str:
    """A Python literal of the dict; json gives `true`/`null`, so go through repr instead."""
    text = repr(value)
    ast.literal_eval(text)
    return text
