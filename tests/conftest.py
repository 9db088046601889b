import pytest
from typer.testing import CliRunner

from archive import ArchiveWriter, EvaluationResult, NewProgram
from archive.synthetic import generate
from discovery.cli import app


def seed_code(value: float) -> str:
    return f'"""A tiny program."""\n\n# EVOLVE-BLOCK-START\nVALUE = {value!r}\n# EVOLVE-BLOCK-END\n'


@pytest.fixture
def writer(tmp_path):
    w = ArchiveWriter.create(tmp_path / "run" / "archive.sqlite", name="run", task="toy",
                             config={"task": "toy", "islands": 2}, seed=7, evaluator_version="v1")
    yield w
    w.close()


def add_scored(writer: ArchiveWriter, value: float, score: float | None, parents=(),
               status: str = "ok", **kwargs) -> int:
    """Add a program and its final evaluation in one go."""
    pid = writer.add_program(NewProgram(seed_code(value), parents=tuple(parents), **kwargs))
    writer.record_evaluation(pid, EvaluationResult("full", status, score=score,
                                                   reason=None if status == "ok" else "boom"))
    return pid


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
