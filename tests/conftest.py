"""Fixtures shared by the whole suite; plain helpers live in helpers.py."""

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from archive import ArchiveWriter
from discovery.cli import app
from discovery.doubles.synthetic import generate


@pytest.fixture
def writer(tmp_path):
    w = ArchiveWriter.create(tmp_path / "run" / "archive.sqlite", name="run", task="toy",
                             config={"task": "toy", "islands": 2}, seed=7, evaluator_version="v1")
    yield w
    w.close()


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory):
    """A runs directory holding one generated 300-program campaign named `demo`."""
    root = tmp_path_factory.mktemp("runs")
    generate(root / "demo", 300, seed=3)
    return root


@pytest.fixture
def cli(demo_runs):
    runner = CliRunner()

    def invoke(*args: str, runs_dir=None):
        return runner.invoke(app, ["--runs-dir", str(runs_dir or demo_runs), *args])

    return invoke


# The fuzz tests (tests/fuzz/) replay the same examples on every machine (derandomize), never
# fail for being slow (no deadline: a loaded CI machine is not a bug), and keep no example
# database in the tree.
settings.register_profile("fuzz", derandomize=True, deadline=None, database=None,
                          max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fuzz")
