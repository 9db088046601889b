"""Fixtures for the task tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]

_CASE = """
import json, sys
from evaluators.sandbox import Sandbox
from evaluators.task import Case, StageConfig, load_task
task, stage = load_task(sys.argv[1]), StageConfig.model_validate_json(sys.argv[2])
case = stage.cases[0]
result = task.run_case(stage, Case(case.name, case.inputs, case.secret), sys.stdin.read(),
                       Sandbox())
print(json.dumps([result.status, result.reason, result.metrics and result.metrics.public]))
"""


@pytest.fixture(scope="module")
def sandbox():
    """The strongest isolation this machine has, shared by a module's task evaluations."""
    from evaluators.sandbox import Sandbox

    return Sandbox()


@pytest.fixture
def case_with_blas_threads():
    """`run(task, stage, code, threads)`: the status, reason and public metrics of the first case
    of `stage` (a StageConfig), evaluated in a fresh evaluator process whose BLAS starts with
    `threads` threads (as on a machine with that many cores)."""
    def run(task: str, stage, code: str, threads: int) -> list:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads),
               "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        done = subprocess.run([sys.executable, "-c", _CASE, task, stage.model_dump_json()],
                              input=code, capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=300, check=True)
        return json.loads(done.stdout.splitlines()[-1])
    return run
