import ast
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import add_scored

from archive import ArchiveError, ArchiveReader, ArchiveWriter, EvaluationResult, NewProgram
from discovery.export import (
    export_module,
    export_package,
    module_source,
    third_party_distributions,
)


def fresh_python(code: str, *path) -> str:
    """Run code in a new interpreter that sees only `path` and the standard library."""
    env = {"PYTHONPATH": ":".join(map(str, path)), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = "
                           f"{[str(p) for p in path]!r}\n{code}"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_exported_best_module_imports_and_runs_in_a_fresh_interpreter(cli, demo_runs, tmp_path):
    out = tmp_path / "best_program.py"
    result = cli("export", "demo", "--best", "--out", str(out))
    assert result.exit_code == 0, result.output
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        best = reader.best()
        lineage = reader.ancestry(best.id)
    printed = fresh_python(
        "import json, best_program as m\n"
        "x, fx = m.run()\n"
        "print(json.dumps({'fx': fx, 'prov': m.__provenance__, 'doc': m.__doc__}))", tmp_path)
    got = json.loads(printed)
    assert got["fx"] < 1.0  # the search really ran on Rosenbrock, from f = 2.5 at the start
    prov = got["prov"]
    assert prov["program_id"] == best.id and prov["score"] == best.score
    assert prov["lineage"] == lineage and prov["campaign"] == "demo"
    assert prov["evaluator_version"] == "synthetic-v1" and prov["models"]
    assert got["doc"].startswith("Minimise a black-box function")  # its own docstring kept
    assert f"program:           {best.id}" in got["doc"]


def test_export_by_id_and_package_installs(cli, demo_runs, tmp_path):
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        second = reader.top_k(2)[1]
    pkg = tmp_path / "pkg"
    result = cli("export", "demo", "--id", str(second.id), "--package", str(pkg), "--name",
                 "my_minimiser")
    assert result.exit_code == 0, result.output
    assert (pkg / "my_minimiser" / "__init__.py").is_file()
    target = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(pkg)],
        capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    printed = fresh_python("import my_minimiser as m; print(m.__provenance__['program_id'])",
                           target)
    assert int(printed) == second.id
    # A second export refuses to overwrite unless told to, and --force replaces cleanly.
    again = cli("export", "demo", "--best", "--package", str(pkg))
    assert again.exit_code == 1 and "--force" in again.stderr
    assert cli("export", "demo", "--best", "--package", str(pkg), "--force").exit_code == 0
    assert not (pkg / "my_minimiser").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg", "site"]  # no staging left


def test_refused_exports_write_nothing(cli, demo_runs, tmp_path):
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        crashed = reader._conn.execute(
            "SELECT id FROM programs WHERE status = 'crashed' LIMIT 1").fetchone()[0]
    out = tmp_path / "prog.py"
    out.write_text("# an older export\n")
    result = cli("export", "demo", "--id", str(crashed), "--out", str(out), "--force")
    assert result.exit_code == 1 and "never evaluated ok (status: crashed)" in result.stderr
    assert out.read_text() == "# an older export\n"
    assert list(tmp_path.iterdir()) == [out]
    bad_name = cli("export", "demo", "--best", "--out", str(tmp_path / "my-prog.py"))
    assert bad_name.exit_code == 1 and "identifier" in bad_name.stderr
    assert cli("export", "demo", "--best").exit_code == 1
    assert cli("export", "demo", "--best", "--id", "3", "--out", str(out)).exit_code == 1


def test_an_existing_module_is_replaced_only_with_force(cli, tmp_path):
    out = tmp_path / "best_program.py"
    out.write_text("# my own edits\n")
    refused = cli("export", "demo", "--best", "--out", str(out))
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert out.read_text() == "# my own edits\n"
    assert cli("export", "demo", "--best", "--out", str(out), "--force").exit_code == 0
    assert "__provenance__" in out.read_text()


def test_non_finite_score_is_refused(writer, tmp_path):
    pid = add_scored(writer, 1.0, 0.5)
    writer._conn.execute("UPDATE programs SET score = 1e999 WHERE id = ?", (pid,))  # +inf
    with pytest.raises(ArchiveError, match="no finite score"):
        export_module(writer, pid, tmp_path / "m.py")
    assert not (tmp_path / "m.py").exists()


def test_empty_campaign_has_nothing_to_export(writer, tmp_path):
    with pytest.raises(ArchiveError, match="no program that evaluated ok"):
        export_module(writer, None, tmp_path / "m.py")


def test_future_imports_and_quotes_survive(writer):
    code = ('"""Uses \\"\\"\\" quotes and a \\\\ backslash."""\n'
            "from __future__ import annotations\n\n"
            "def f(x: int) -> int:\n    return x + 1\n")
    pid = writer.add_program(NewProgram(code))
    writer.record_evaluation(pid, EvaluationResult("full", "ok", score=1.0,
                                                   public_metrics={"note": 'has """ in it'}))
    source = module_source(writer, writer.program(pid))
    tree = ast.parse(source)
    doc = ast.get_docstring(tree)
    assert doc.startswith('Uses """ quotes and a \\ backslash.')
    assert 'has \\"\\"\\" in it' in doc or 'has """ in it' in doc
    namespace: dict = {}
    exec(compile(source, "m", "exec"), namespace)
    assert namespace["f"](1) == 2


def test_the_note_names_the_distributions_of_the_imports():
    code = "import os\nimport numpy as np\nfrom networkx import DiGraph\nfrom . import x\n"
    deps = third_party_distributions(code)
    assert "networkx" in deps and "numpy" in deps and "os" not in deps


def hostile_program(writer) -> int:
    """An ok program whose dead code imports names of its own choosing."""
    code = ("import math\n\n\ndef f(x):\n    return math.sqrt(x)\n\n\nif False:\n"
            "    import evil_typosquat\n    from attacker_pkg.sub import thing\n")
    pid = writer.add_program(NewProgram(code))
    writer.record_evaluation(pid, EvaluationResult("full", "ok", score=1.0))
    return pid


def pyproject_dependencies(package) -> list[str]:
    return tomllib.loads((package / "pyproject.toml").read_text())["project"]["dependencies"]


def test_a_programs_imports_never_become_dependencies(writer, tmp_path):
    pid = hostile_program(writer)
    package = tmp_path / "pkg"
    exported = export_package(writer, pid, package, "mod")
    assert pyproject_dependencies(package) == []  # the task (toy) declares none
    assert exported.unlisted == ["attacker_pkg", "evil_typosquat"]  # named, never added


def test_dependencies_are_the_users_requires(cli, tmp_path):
    runs = tmp_path / "runs"
    with ArchiveWriter.create(runs / "r" / "archive.sqlite", name="r", task="toy",
                              config={"task": "toy"}, seed=0, evaluator_version="v1") as writer:
        hostile_program(writer)
    package = tmp_path / "pkg"
    result = cli("export", "r", "--package", str(package), "--requires", "numpy>=1.26",
                 "--requires", "scipy", runs_dir=runs)
    assert result.exit_code == 0, result.output
    assert pyproject_dependencies(package) == ["numpy>=1.26", "scipy"]
    assert "evil_typosquat" in result.output and "not dependencies" in result.output
    bad = cli("export", "r", "--package", str(tmp_path / "other"), "--requires", "x\ny",
              runs_dir=runs)
    assert bad.exit_code == 1 and "not a requirement" in bad.stderr


def test_dependencies_are_the_tasks_declared_requirements(tmp_path):
    task = tmp_path / "task"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "minimal_task", task)
    toml = task / "task.toml"  # a top-level key: before the file's first table
    toml.write_text('requirements = ["numpy>=1.26"]\n' + toml.read_text())
    with ArchiveWriter.create(tmp_path / "r" / "archive.sqlite", name="r", task="minimal_task",
                              config={"task": str(task)}, seed=0,
                              evaluator_version="v1") as writer:
        pid = hostile_program(writer)
        export_package(writer, pid, tmp_path / "pkg", "mod", requires=["scipy"])
    assert pyproject_dependencies(tmp_path / "pkg") == ["numpy>=1.26", "scipy"]


def test_control_characters_in_a_docstring_are_dropped_from_the_export(writer):
    """A NUL would make the module uncompilable, an escape sequence would retitle the terminal
    of whoever prints it: the export keeps the docstring's text without them."""
    pid = writer.add_program(NewProgram('"""doc \\x00 \\x1b]0;pwned\\x07end"""\nx = 1\n'))
    writer.record_evaluation(pid, EvaluationResult("full", "ok", score=1.0))
    source = module_source(writer, writer.program(pid))
    assert ast.get_docstring(ast.parse(source)).startswith("doc  end")
    assert not any(ch in source for ch in "\x00\x1b\x07")
