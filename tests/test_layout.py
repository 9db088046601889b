"""The layout's rules, checked: packages depend one way (archive <- evaluators <- discovery), no
import cycles, test doubles off the product's paths, and no task reaching into a sibling task's
folder (a domain's shared code lives in its `_shared`-style folder)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from evaluators.task import TASKS_DIR, load_task, task_folders

ROOT = Path(__file__).parents[1]
PACKAGES = ("archive", "discovery", "evaluators", "prompts")


def project_modules() -> dict[str, Path]:
    """Every product module by dotted name (the tasks' folders are data, loaded by path)."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if TASKS_DIR in path.parents:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> nx.DiGraph:
    """module -> project module it imports, lazy (function-level) imports included."""
    modules = project_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
                    break
    return graph


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize(("package", "forbidden"), [
    ("archive", ("discovery", "evaluators")),
    ("evaluators", ("discovery",)),
])
def test_packages_depend_one_way(package, forbidden):
    graph = import_graph()
    wrong = [(a, b) for a, b in graph.edges
             if a.split(".")[0] == package and b.split(".")[0] in forbidden]
    assert not wrong, wrong


def test_test_doubles_stay_off_the_product_paths():
    """Only the commands that offer a double by name reach the doubles: `demo` (the synthetic
    campaign) and make_client (a `scripted:` model)."""
    allowed = {"discovery.cli.campaigns", "discovery.models"}
    graph = import_graph()
    users = {a for a, b in graph.edges if b.startswith("discovery.doubles")
             and not a.startswith("discovery.doubles")}
    assert users <= allowed, users - allowed


def test_every_task_lives_in_a_domain_folder():
    folders = task_folders()
    assert {"circle_packing", "function_minimisation", "cfr", "psro"} <= set(folders)
    for name, folder in folders.items():
        assert folder.parent.parent == TASKS_DIR and not folder.parent.name.startswith("_"), name


@pytest.mark.parametrize("name", sorted(task_folders()))
def test_no_task_reaches_into_a_sibling_task(name):
    """Everything a task's files name (support, trusted) and every module its scorer imports
    lies in its own folder, its domain's shared folder or the folder of the task it declares it
    `extends`: loaded in a fresh interpreter, so modules other tasks loaded earlier cannot hide
    an import."""
    folder = task_folders()[name]
    task = load_task(name)
    shared = [p for p in folder.parent.iterdir() if p.is_dir() and p.name.startswith("_")]
    base = [(folder / task.config.extends).parent] if task.config.extends else []
    allowed = [folder.resolve(), *(p.resolve() for p in [*shared, *base])]
    for listed in (*task.config.support, *task.config.trusted):
        path = (folder / listed).resolve()
        assert any(path.is_relative_to(a) for a in allowed), f"{name} names {listed}"
    script = ("import json, sys\nfrom evaluators.task import load_task\n"
              f"load_task({name!r})\nprint(json.dumps([getattr(m, '__file__', None) or '' for m in "
              "list(sys.modules.values())]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    loaded = [Path(f).resolve() for f in json.loads(done.stdout.splitlines()[-1]) if f]
    foreign = [f for f in loaded if TASKS_DIR.resolve() in f.parents
               and not any(f.is_relative_to(a) for a in allowed)]
    assert not foreign, f"{name} loaded another task's files: {foreign}"
