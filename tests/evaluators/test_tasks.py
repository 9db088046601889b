import re
import shutil

import numpy as np
import pytest

from evaluators.sandbox import Sandbox
from evaluators.scoring import InvalidOutput
from evaluators.task import Case, TaskError, load_task, task_names


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox()


@pytest.fixture(scope="module")
def packing():
    return load_task("circle_packing")


@pytest.fixture(scope="module")
def minimisation():
    return load_task("function_minimisation")


def test_shipped_tasks_load():
    assert {"circle_packing", "function_minimisation"} <= set(task_names())
    for name in task_names():
        task = load_task(name)
        assert "EVOLVE-BLOCK-START" in task.seed_code and "EVOLVE-BLOCK-END" in task.seed_code
        assert task.description.strip() and task.version.startswith(name)
        assert task.static_check(task.seed_code) is None


def test_seed_packing_scores_its_grid(packing, sandbox):
    results = packing.evaluate(packing.seed_code, sandbox, held_out=True)
    assert [r.stage for r in results] == ["smoke", "full"]
    final = results[-1]
    assert final.status == "ok" and final.score == pytest.approx(25 / 11)  # staggered rows
    assert final.public_metrics["fraction_of_best_known"] == pytest.approx(25 / 11 / 2.63598)
    assert final.private_metrics["held_out_score"] == pytest.approx(32 / 13)
    assert "held_out_score" not in final.public_metrics
    assert final.resources["isolation"] == sandbox.level


@pytest.mark.parametrize(("outputs", "reason"), [
    (([[0.25, 0.25], [0.75, 0.25], [0.5, 0.75]], [0.25, 0.25, 0.25]), None),
    ({"centers": [[0.25, 0.25], [0.75, 0.25], [0.5, 0.75]], "radii": [0.25, 0.25, 0.25]}, None),
    (([[0.25, 0.25], [0.25, 0.25], [0.5, 0.75]], [0.25, 0.25, 0.25]), "overlap"),
    (([[0.25, 0.25], [0.75, 0.25], [0.5, 0.9]], [0.25, 0.25, 0.25]), "leaves the unit square"),
    (([[0.25, 0.25], [0.75, 0.25], [float("nan"), 0.75]], [0.25, 0.25, 0.25]), "non-finite"),
    (([[0.25, 0.25], [0.75, 0.25], [0.5, 0.75]], [0.25, 0.25, float("nan")]), "non-finite"),
    (([[0.25, 0.25], [0.75, 0.25]], [0.25, 0.25]), "shape"),
    (([[0.25, 0.25], [0.75, 0.25], [0.5, 0.75]], [0.25, -0.1, 0.25]), "negative radius"),
    (([["a", 0.25], [0.75, 0.25], [0.5, 0.75]], [0.25, 0.25, 0.25]), "not an array"),
    ("nonsense", "must return (centers, radii)"),
])
def test_packing_validator(packing, outputs, reason):
    case = Case("n3", {"n": 3}, {})
    if reason is None:
        assert packing.scorer.score("full", case, outputs, None).score == pytest.approx(0.75)
    else:
        with pytest.raises(InvalidOutput, match=re.escape(reason)):
            packing.scorer.score("full", case, outputs, None)


def test_packing_tolerance_cannot_be_farmed(packing):
    # Two circles that overlap by more than the 1e-9 slack are refused.
    overlap = ([[0.25, 0.5], [0.75 - 2e-9, 0.5]], [0.25, 0.25])
    with pytest.raises(InvalidOutput, match="overlap"):
        packing.scorer.score("full", Case("n2", {"n": 2}, {}), overlap, None)


def test_smoke_stage_stops_a_broken_program_before_the_full_run(packing, sandbox):
    code = "def construct_packing(n):\n    return [[0.5, 0.5]] * 26, [0.01] * 26\n"
    results = packing.evaluate(code, sandbox)
    assert [r.stage for r in results] == ["smoke"]
    assert results[0].status == "invalid" and "shape" in results[0].reason


@pytest.mark.parametrize(("code", "reason"), [
    ("def construct_packing(n:\n    pass\n", "syntax error at line 1"),
    ("def other(n):\n    pass\n", "defines no function 'construct_packing'"),
    ("def construct_packing():\n    pass\n", "must accept the parameters n"),
])
def test_static_checks_run_nothing(packing, sandbox, code, reason):
    results = packing.evaluate(code, sandbox)
    assert len(results) == 1 and results[0].stage == "static"
    assert results[0].status == "invalid" and reason in results[0].reason


def test_static_check_accepts_kwargs_and_imported_entry_points(packing):
    assert packing.static_check("def construct_packing(**kw):\n    pass\n") is None
    assert packing.static_check("from math import sqrt as construct_packing\n") is None
    assert packing.static_check("construct_packing = lambda n: None\n") is None


def test_minimisation_oracle_counts_and_refuses_past_budget(minimisation):
    case = minimisation.config.stages[1].cases[0]
    oracle = minimisation.scorer.oracle("full", Case(case.name, case.inputs, case.secret))
    dim, budget = case.inputs["dim"], case.inputs["budget"]
    assert oracle.value(oracle.shift) == pytest.approx(0.0, abs=1e-12)
    for _ in range(budget):
        oracle([[0.0] * dim])
    with pytest.raises(RuntimeError, match="budget"):
        oracle([[0.0] * dim])
    with pytest.raises(ValueError, match=f"{dim} finite numbers"):
        minimisation.scorer.oracle("full", Case(case.name, case.inputs, case.secret))([[0.0]])


def test_minimisation_scores_what_the_evaluator_measures(minimisation, sandbox):
    seed = minimisation.evaluate(minimisation.seed_code, sandbox)
    assert [r.stage for r in seed] == ["smoke", "full"] and seed[-1].status == "ok"
    assert seed[-1].public_metrics["f1_calls"] == 2000
    # A program that ignores f and returns the box's centre cannot know the hidden minimum.
    blind = minimisation.evaluate(
        "def minimise(f, dim, budget, seed):\n    return [0.0] * dim\n", sandbox)
    assert blind[-1].status == "rejected" and "below the smoke stage's threshold" in \
        blind[-1].reason
    # Local search beats random search on the same hidden functions.
    local = """
import random
def minimise(f, dim, budget, seed):
    rng = random.Random(seed)
    x = [rng.uniform(-5, 5) for _ in range(dim)]
    fx, step = f(x), 2.0
    for _ in range(budget - 1):
        y = [min(5.0, max(-5.0, v + rng.gauss(0, step))) for v in x]
        fy = f(y)
        if fy < fx:
            x, fx, step = y, fy, step * 1.2
        else:
            step *= 0.97
    return x
"""
    assert minimisation.evaluate(local, sandbox)[-1].score > seed[-1].score + 1.0


def test_overspending_the_budget_fails_cleanly(minimisation, sandbox):
    greedy = ("def minimise(f, dim, budget, seed):\n"
              "    for _ in range(budget + 1):\n        f([0.0] * dim)\n    return [0.0] * dim\n")
    result = minimisation.evaluate(greedy, sandbox)[-1]
    assert result.status == "crashed" and "budget of 300 exhausted" in result.reason


def test_version_hash_follows_the_trusted_files(tmp_path):
    root = tmp_path / "circle_packing"
    shutil.copytree(load_task("circle_packing").root, root)
    before = load_task(root).version
    assert load_task(root).version == before
    (root / "scorer.py").write_text((root / "scorer.py").read_text() + "\n# changed\n")
    assert load_task(root).version != before


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text + "\nbogus = 1\n", "bogus: Extra inputs are not permitted"),
    (lambda text: text.replace('entry = "construct_packing"', 'entry = '), "not valid TOML"),
    (lambda text: text.replace("[[stages]]", "[[stagez]]", 1), "stagez"),
])
def test_bad_task_files_are_one_line_errors(tmp_path, edit, message):
    root = tmp_path / "t"
    shutil.copytree(load_task("circle_packing").root, root)
    (root / "task.toml").write_text(edit((root / "task.toml").read_text()))
    with pytest.raises(TaskError, match=message) as info:
        load_task(root)
    assert "\n" not in str(info.value)


def test_unknown_task():
    with pytest.raises(TaskError, match="unknown task 'nope': use one of ") as info:
        load_task("nope")
    for name in ("cfr", "circle_packing", "function_minimisation"):
        assert name in str(info.value)
    assert "task.toml" in str(info.value)


def test_a_task_name_typo_gets_a_suggestion():
    with pytest.raises(TaskError) as info:
        load_task("circle_pakcing")
    message = str(info.value)
    assert message.startswith("unknown task 'circle_pakcing': did you mean 'circle_packing'?")
    assert "psro_paper" in message and "\n" not in message  # the list still follows
    with pytest.raises(TaskError, match="unknown task 'zzz/circle_pakcing': use one of "):
        load_task("zzz/circle_pakcing")  # a path is the user's folder, not a shipped name


def test_numpy_outputs_travel_as_plain_data(packing, sandbox):
    code = ("import numpy as np\n\ndef construct_packing(n):\n"
            "    return np.full((n, 2), 0.5), np.zeros(n)\n")
    result = packing.evaluate(code, sandbox)[-1]
    assert result.status == "ok" and result.score == 0.0
    assert np.asarray(result.public_metrics["sum_radii"]) == 0.0


def _task_copy(tmp_path, name="circle_packing"):
    root = tmp_path / name
    shutil.copytree(load_task(name).root, root)
    return root


@pytest.mark.parametrize(("scorer", "message"), [
    ("def score(stage, case, outputs, oracle:\n    pass\n",
     r"scorer\.py: the scorer cannot be imported \(SyntaxError: .*line 1\)"),
    ("import no_such_module\n",
     r"scorer\.py: the scorer cannot be imported \(ModuleNotFoundError: No module named "
     r"'no_such_module'\)"),
    ("raise RuntimeError('first line\\nsecond line')\n",
     r"scorer\.py: the scorer cannot be imported \(RuntimeError: first line\)"),
])
def test_a_scorer_that_cannot_be_imported_is_a_one_line_task_error(tmp_path, scorer, message):
    root = _task_copy(tmp_path)
    (root / "scorer.py").write_text(scorer)
    with pytest.raises(TaskError, match=message) as info:
        load_task(root)
    assert "\n" not in str(info.value) and str(root / "scorer.py") in str(info.value)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda text: text.replace('entry = "construct_packing"', 'entry = "construct_pakcing"'),
     r"task\.toml: entry 'construct_pakcing' does not pass the check of the seed program "
     r".*seed\.py \(the program defines no function 'construct_pakcing'\)"),
    (lambda text: text.replace('parameters = ["n"]', 'parameters = ["n", "m"]'),
     r"task\.toml: .*seed\.py \(construct_packing\(\) must accept the parameters n, m\)"),
])
def test_an_entry_the_seed_does_not_define_is_a_task_error(tmp_path, edit, message):
    root = _task_copy(tmp_path)
    (root / "task.toml").write_text(edit((root / "task.toml").read_text()))
    with pytest.raises(TaskError, match=message) as info:
        load_task(root)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("bug", "message"), [
    ("def score(stage, case, outputs, oracle):\n    raise KeyError('radius')\n",
     r"scorer\.py: score\(\) raised KeyError: 'radius' for case n6 of stage "
     r"smoke: a scorer returns Metrics, or raises InvalidOutput\(reason\) for outputs that "
     r"break the task's contract"),
    ("def score(stage, case, outputs, oracle):\n    return 1.0\n",
     r"scorer\.py: score\(\) returned float for case n6 of stage smoke, not Metrics"),
    ("def score(stage, case, outputs, oracle):\n    return Metrics(float('nan'))\n",
     r"scorer\.py: score\(\) returned the score nan for case n6 of stage smoke: a score must "
     r"be a finite number"),
    ("def oracle(stage, case):\n    raise ValueError('no such game')\n",
     r"scorer\.py: oracle\(\) raised ValueError: no such game for case n6 of stage smoke"),
    ("def inputs(stage, case):\n    return 1 / 0\n",
     r"scorer\.py: inputs\(\) raised ZeroDivisionError: division by zero for case n6"),
])
def test_a_scorer_bug_is_a_task_error_not_an_invalid_program(tmp_path, sandbox, bug, message):
    root = _task_copy(tmp_path)
    (root / "scorer.py").write_text((root / "scorer.py").read_text() + "\n\n" + bug)
    task = load_task(root)
    with pytest.raises(TaskError, match=message) as info:
        task.evaluate(task.seed_code, sandbox)
    assert "\n" not in str(info.value)
