import json

from typer.testing import CliRunner

from discovery.cli import app

runner = CliRunner()


def discover(*args: str):
    return runner.invoke(app, list(args))


def test_eval_seed_program_reports_stages_and_metrics():
    result = discover("eval", "circle_packing", "--held-out")
    assert result.exit_code == 0, result.output
    for text in ("circle_packing-", "smoke", "full", "2.16667", "fraction_of_best_known",
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
    report = json.loads(result.output)
    assert report["isolation"] == "rlimits" and report["results"][-1]["score"] == 0.0
    shown = discover("eval", "circle_packing", str(program), "--isolation", "rlimits")
    assert "network and files NOT protected" in shown.output


def test_eval_bad_input_is_one_line():
    for args, text in ((["eval", "nope"], "unknown task 'nope'"),
                       (["eval", "circle_packing", "missing.py"], "no program file at"),
                       (["eval", "circle_packing", "--isolation", "docker"], "unknown isolation")):
        result = discover(*args)
        assert result.exit_code == 1 and text in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_eval_on_a_warm_worker_scores_the_same():
    fresh = json.loads(discover("eval", "function_minimisation", "--json").output)
    warm = json.loads(discover("eval", "function_minimisation", "--json", "--executor",
                               "warm").output)
    assert [r["score"] for r in warm["results"]] == [r["score"] for r in fresh["results"]]
    assert warm["results"][-1]["resources"]["worker"] == "warm"
    one_line = discover("eval", "circle_packing", "--executor", "slurm")
    assert one_line.exit_code == 1 and "unknown executor 'slurm'" in one_line.stderr
