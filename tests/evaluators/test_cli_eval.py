import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from discovery.cli import app
from evaluators.task import task_folders
from evaluators.workers import WarmWorker

runner = CliRunner()


def discover(*args: str):
    return runner.invoke(app, list(args))


def test_eval_seed_program_reports_stages_and_metrics():
    result = discover("eval", "circle_packing", "--held-out")
    assert result.exit_code == 0, result.output
    for text in ("circle_packing-", "smoke", "full", "2.27273", "fraction_of_best_known",
                 "never shown to models", "held_out_score"):
        assert text in result.output


def test_eval_a_failing_program_prints_the_report_and_exits_1(tmp_path):
    program = tmp_path / "bad.py"
    program.write_text("def construct_packing(n):\n    raise ValueError('no idea')\n")
    result = discover("eval", "circle_packing", str(program))
    assert result.exit_code == 1
    assert "crashed" in result.output and "ValueError: no idea" in result.output
    assert "error tail" in result.output


def test_eval_json_and_forced_weaker_isolation(tmp_path):
    program = tmp_path / "p.py"
    program.write_text("def construct_packing(n):\n    return [[0.5, 0.5]] * n, [0.0] * n\n")
    result = discover("eval", "circle_packing", str(program), "--json", "--isolation", "rlimits")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["isolation"] == "rlimits" and report["results"][-1]["score"] == 0.0
    # the trusted scorer's seconds beside the sandbox's (an RL task trains there, for minutes)
    assert all(r["resources"]["scorer_s"] >= 0 for r in report["results"])
    shown = discover("eval", "circle_packing", str(program), "--isolation", "rlimits")
    assert "network and files NOT protected" in shown.output and "scorer s" in shown.output


def test_eval_bad_input_is_one_line():
    for args, text in ((["eval", "nope"], "unknown task 'nope'"),
                       (["eval", "circle_pakcing"], "did you mean 'circle_packing'?"),
                       (["eval", "circle_packing", "missing.py"], "no program file at"),
                       (["eval", "circle_packing", "--isolation", "docker"], "unknown isolation")):
        result = discover(*args)
        assert result.exit_code == 1 and text in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_task_name_typo_gets_a_suggestion_from_run_too(tmp_path):
    result = discover("--runs-dir", str(tmp_path), "run", "circle_pakcing")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "unknown task 'circle_pakcing': did you mean 'circle_packing'?" in result.stderr
    assert not list(tmp_path.iterdir())  # nothing was started


def test_eval_on_a_warm_worker_scores_the_same():
    [fresh] = json.loads(discover("eval", "function_minimisation", "--json").output)
    [warm] = json.loads(discover("eval", "function_minimisation", "--json", "--executor",
                                 "warm").output)
    assert [r["score"] for r in warm["results"]] == [r["score"] for r in fresh["results"]]
    assert warm["results"][-1]["resources"]["worker"] == "warm"
    one_line = discover("eval", "circle_packing", "--executor", "slurm")
    assert one_line.exit_code == 1 and "unknown executor 'slurm'" in one_line.stderr


@pytest.mark.parametrize(("bug", "text"), [
    ("import no_such_module\n", "the scorer cannot be imported (ModuleNotFoundError"),
    ("def score(stage, case, outputs, oracle):\n    raise RuntimeError('scorer bug')\n",
     "score() raised RuntimeError: scorer bug for case n6 of stage smoke"),
])
def test_eval_blames_a_broken_scorer_on_the_task_in_one_line(tmp_path, bug, text):
    root = tmp_path / "t"
    shutil.copytree(task_folders()["circle_packing"], root)
    (root / "scorer.py").write_text((root / "scorer.py").read_text() + "\n" + bug)
    result = discover("eval", str(root))
    assert result.exit_code == 1 and text in result.stderr
    assert str(root / "scorer.py") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid" not in result.output


def test_eval_several_programs_in_order_on_one_warm_worker(tmp_path, monkeypatch):
    starts = []
    start = WarmWorker.start
    monkeypatch.setattr(WarmWorker, "start", lambda self: starts.append(1) or start(self))
    monkeypatch.chdir(tmp_path)  # short names: the report's panel wraps long paths
    good, bad = Path("good.py"), Path("bad.py")
    good.write_text("def construct_packing(n):\n    return [[0.5, 0.5]] * n, [0.0] * n\n")
    bad.write_text("def construct_packing(n):\n    raise ValueError('no idea')\n")
    result = discover("eval", "circle_packing", str(good), str(bad), "--executor", "warm",
                      "--json")
    assert result.exit_code == 1  # one of them failed
    reports = json.loads(result.output)
    assert [r["program"] for r in reports] == [str(good), str(bad)]
    assert [r["results"][-1]["status"] for r in reports] == ["ok", "crashed"]
    assert {r["results"][-1]["resources"]["worker"] for r in reports} == {"warm"}
    assert len(starts) == 1  # one pool, one worker, kept warm across the programs
    shown = discover("eval", "circle_packing", str(good), str(bad))
    assert shown.exit_code == 1 and shown.output.index("good.py") < shown.output.index("bad.py")
    assert "ValueError: no idea" in shown.output
