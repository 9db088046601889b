"""The command line starts without the heavy packages (issue 27, item 8): `discover --help`
imports none of them, and `discover runs` only what listing campaigns needs. Module names, not
times, so that a loaded machine cannot fail it; the times are bench/startup_bench.py's."""

import sys

from bench.startup_bench import HEAVY, imported
from discovery.doubles.synthetic import generate


def test_help_imports_no_heavy_package():
    loaded = set(imported([sys.executable, "-m", "discovery", "--help"]))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_runs_imports_no_heavy_package_but_typers_pydantic(tmp_path):
    generate(tmp_path / "demo", 5, name="demo")
    loaded = set(imported([sys.executable, "-m", "discovery", "--runs-dir", str(tmp_path),
                           "runs"]))
    assert "discovery.cli.campaigns" in loaded  # it did list them
    # typer (0.2x) coerces a command's parameters with pydantic: every command runs with it
    heavy = set(HEAVY) - {"pydantic"}
    assert not loaded & heavy, sorted(loaded & heavy)
