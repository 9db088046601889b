"""Recognising a task folder written for OpenEvolve or ShinkaEvolve, and reading what it holds
(program, evaluator, config, system message) without running any of it.

OpenEvolve: `initial_program.py`, `evaluator.py` with `evaluate(program_path)` (and optionally
the cascade `evaluate_stage1/2/3`), `config.yaml` (or another `config*.yaml`).
ShinkaEvolve: `initial.py`, `evaluate.py` with `main(program_path, results_dir)` writing
`metrics.json` and `correct.json`, settings in a `*.yaml` with `evo_config`/`db_config` or in
`run_evo.py`'s `EvolutionConfig(...)`/`DatabaseConfig(...)` calls (read as literals: never
run). Both mark the evolved code with `# EVOLVE-BLOCK-START` / `# EVOLVE-BLOCK-END`, as we do.

This module imports nothing of the task machinery, so that load_task may ask it cheaply."""

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from archive.pyparse import parse_python

Kind = Literal["openevolve", "shinka"]

LAYOUTS: dict[Kind, tuple[str, str]] = {
    "openevolve": ("initial_program", "evaluator.py"),
    "shinka": ("initial", "evaluate.py"),
}
"""Per format: the stem of the initial program and the evaluator's file name."""

NAMES: dict[Kind, str] = {"openevolve": "an OpenEvolve", "shinka": "a ShinkaEvolve"}


class PeerFormatError(ValueError):
    """A peer folder we recognise but cannot run; the message names the file and the fix."""


@dataclass
class PeerFolder:
    """What a peer task folder holds, read but not run."""

    kind: Kind
    root: Path
    program: str
    """The initial program's file name."""
    evaluator: str
    """The evaluator's file name."""
    functions: list[str]
    """The evaluator's top-level function names (which cascade stages it has)."""
    config: dict[str, Any] = field(default_factory=dict)
    """Their search settings, as their config file or run_evo.py gives them."""
    config_file: str | None = None
    system_message: str = ""
    notes: list[str] = field(default_factory=list)
    """What of the folder is not used, one line each."""


def peer_kind(root: Path) -> Kind | None:
    """The peer format of `root`, judged by its evaluator's file name (None: neither)."""
    for kind, (_, evaluator) in LAYOUTS.items():
        if (root / evaluator).is_file():
            return kind
    return None


def peer_task(root: Path) -> Kind | None:
    """The peer format of a folder that runs as a peer task: not one of ours (a `task.toml`
    wins, as for a converted folder), with a peer's evaluator (None otherwise)."""
    return None if (root / "task.toml").is_file() else peer_kind(root)


def read_folder(root: Path) -> PeerFolder:
    kind = peer_kind(root)
    if kind is None:
        raise PeerFormatError(f"{root} holds neither an OpenEvolve task (evaluator.py) nor a "
                              "ShinkaEvolve task (evaluate.py)")
    stem, evaluator = LAYOUTS[kind]
    programs = sorted(p.name for p in root.glob(f"{stem}.*"))
    if f"{stem}.py" not in programs:
        other = f" (it has {', '.join(programs)}: only Python candidates run here)" \
            if programs else ""
        raise PeerFormatError(f"{root}: {NAMES[kind]} task needs {stem}.py{other}")
    try:
        tree = parse_python((root / evaluator).read_text(encoding="utf-8"))
    except SyntaxError as exc:
        raise PeerFormatError(f"{root / evaluator}: syntax error at line {exc.lineno}: "
                              f"{exc.msg}") from exc
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    wanted = "evaluate" if kind == "openevolve" else "main"
    if wanted not in functions:
        raise PeerFormatError(f"{root / evaluator} defines no {wanted}(): {NAMES[kind]} "
                              f"evaluator defines {wanted}(program_path"
                              f"{', results_dir' * (kind == 'shinka')})")
    folder = PeerFolder(kind, root, f"{stem}.py", evaluator, functions)
    (_read_openevolve_config if kind == "openevolve" else _read_shinka_config)(folder)
    return folder


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PeerFormatError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    return data if isinstance(data, dict) else {}


def _read_openevolve_config(folder: PeerFolder) -> None:
    configs = sorted(p.name for p in folder.root.glob("config*.yaml"))
    if not configs:
        return
    chosen = "config.yaml" if "config.yaml" in configs else configs[0]
    folder.config, folder.config_file = _yaml(folder.root / chosen), chosen
    folder.notes += [f"{name}: not read (one config is used: {chosen})"
                     for name in configs if name != chosen]
    message = folder.config.get("prompt", {}).get("system_message")
    folder.system_message = message.strip() if isinstance(message, str) else ""


def _read_shinka_config(folder: PeerFolder) -> None:
    """A YAML with `evo_config`/`db_config` sections, else run_evo.py's config calls."""
    for path in sorted(folder.root.glob("*.yaml")):
        data = _yaml(path)
        if "evo_config" in data or "db_config" in data:
            folder.config, folder.config_file = data, path.name
            break
    runner = folder.root / "run_evo.py"
    if runner.is_file():
        calls, message = _run_evo_literals(runner)
        if not folder.config_file and calls:
            folder.config, folder.config_file = calls, "run_evo.py"
        folder.system_message = message
    message = folder.config.get("evo_config", {}).get("task_sys_msg")
    if isinstance(message, str) and message.strip():
        folder.system_message = message
    folder.system_message = folder.system_message.strip()


_SHINKA_SECTIONS = {"EvolutionConfig": "evo_config", "DatabaseConfig": "db_config",
                    "LocalJobConfig": "job_config", "ShinkaEvolveRunner": "runner"}


def _run_evo_literals(path: Path) -> tuple[dict[str, Any], str]:
    """The literal keyword arguments of run_evo.py's config calls, by section, and its task
    system message (a `task_sys_msg` keyword or item, or a module-level `*sys_msg` string).
    Parsed, never run: values that are not literals are left out."""
    try:
        tree = parse_python(path.read_text(encoding="utf-8"))
    except SyntaxError:
        return {}, ""
    strings = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
               and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
               for t in n.targets if isinstance(t, ast.Name)}
    sections: dict[str, Any] = {}
    message = next((v for k, v in strings.items() if k.endswith("sys_msg")), "")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _SHINKA_SECTIONS):
            continue
        section = sections.setdefault(_SHINKA_SECTIONS[node.func.id], {})
        for keyword in node.keywords:
            if keyword.arg == "task_sys_msg" and isinstance(keyword.value, ast.Name):
                message = strings.get(keyword.value.id, message)
            try:
                section[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError):
                continue
    return sections, message
