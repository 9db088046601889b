"""A forced isolation level that cannot run here is one line naming the level and the fix,
from the library and from the CLI, never a traceback."""

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from discovery.cli import app
from evaluators.sandbox import IsolationError, Sandbox
from evaluators.workers import WorkerPool

FAILING = "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n"


@pytest.fixture(params=["failing", "not executable"])
def broken_bwrap(request, tmp_path: Path, monkeypatch) -> None:
    """A `bwrap` that fails (user namespaces refused: first on PATH) or that cannot be
    executed at all (found, but not executable: a PermissionError when started)."""
    fake = tmp_path / "bwrap"
    if request.param == "failing":
        fake.write_text(FAILING)
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    else:
        fake.write_text("")
        fake.chmod(0o644)
        monkeypatch.setattr(shutil, "which", lambda name: str(fake))


def test_forcing_an_unusable_level_is_one_clear_error(broken_bwrap):
    for make in (Sandbox, lambda level: WorkerPool(level=level)):
        with pytest.raises(IsolationError) as raised:
            make("bwrap")
        message = str(raised.value)
        assert len(message.splitlines()) == 1
        assert "'bwrap'" in message and "--isolation" in message and "bubblewrap" in message


def test_cli_eval_with_an_unusable_level_prints_one_line(broken_bwrap):
    result = CliRunner().invoke(app, ["eval", "circle_packing", "--isolation", "bwrap"])
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'bwrap'" in result.stderr and "--isolation" in result.stderr


def test_a_warm_worker_outlives_the_thread_that_started_it():
    """bubblewrap's --die-with-parent fires when the *thread* that started the worker exits:
    the pool starts workers from a thread of its own, so a worker started on behalf of a
    short-lived thread (a report's evaluation pool) still serves the next job."""
    import threading
    import time

    code = "def f(x):\n    return x * 2\n"
    with WorkerPool(size=1) as pool:
        if pool.level != "bwrap":
            pytest.skip("warm workers need bubblewrap")
        first = []
        thread = threading.Thread(target=lambda: first.append(pool.run(code, "f", {"x": 1})))
        thread.start()
        thread.join()
        time.sleep(0.3)  # the parent-death signal would have arrived by now
        assert first[0].outputs == 2
        again = pool.run(code, "f", {"x": 2})
        assert again.status == "ok" and again.outputs == 4, again.reason
