"""The AlphaEvolve analysis problems (autocorrelation inequalities, the uncertainty inequality,
Erdős's minimum overlap): seeds through the real sandbox, AlphaEvolve's own constructions
scoring 1, hostile answers refused, and the step-function bounds checked against exact
rational arithmetic (they must be exact up to a rounding that never favours the candidate)."""

import importlib.util
import math
import re
from fractions import Fraction

import numpy as np
import pytest
import sympy

from evaluators.scoring import InvalidOutput
from evaluators.task import Case, load_task

STEP_TASKS = ["autocorrelation_first", "autocorrelation_second", "autocorrelation_third",
              "erdos_minimum_overlap"]
TASKS = [*STEP_TASKS, "uncertainty_inequality"]


@pytest.fixture(scope="module")
def tasks():
    return {name: load_task(name) for name in TASKS}


def seed_value(name: str) -> float:
    """The seed's bound, worked out by hand: a constant f's autoconvolution is a triangle
    (max / integral^2 = 2; L2^2 / (L1 Linf) = 2/3), h = 1/2 overlaps itself by 1/2, and
    P = 16x^2 (x^2 - 3) changes sign last at sqrt(3)."""
    return {"autocorrelation_first": 2.0, "autocorrelation_second": 2 / 3,
            "autocorrelation_third": 2.0, "erdos_minimum_overlap": 0.5,
            "uncertainty_inequality": 3 / (2 * math.pi)}[name]


def normalised(task, value: float) -> float:
    reference = task.scorer.ALPHAEVOLVE
    return value / reference if task.name == "autocorrelation_second" else reference / value


@pytest.mark.parametrize("name", TASKS)
def test_seed_passes_every_stage_below_alphaevolve(tasks, sandbox, name):
    task = tasks[name]
    results = task.evaluate(task.seed_code, sandbox, held_out=True)
    assert [r.stage for r in results] == ["smoke", "full"]
    final = results[-1]
    assert final.status == "ok", final.reason
    expected = normalised(task, seed_value(name))
    assert 0 < expected < 1
    assert final.score == pytest.approx(expected, rel=1e-9)
    assert final.private_metrics["held_out_status"] == "ok"
    assert final.private_metrics["held_out_score"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", TASKS)
def test_alphaevolve_construction_scores_one(tasks, sandbox, name):
    task = tasks[name]
    final = task.evaluate(task.baselines["alphaevolve"], sandbox)[-1]
    assert final.status == "ok", final.reason
    assert final.score == pytest.approx(1, abs=1e-9)


def test_previous_record_scores_below_alphaevolve(tasks, sandbox):
    task = tasks["uncertainty_inequality"]
    final = task.evaluate(task.baselines["goncalves"], sandbox)[-1]
    assert final.public_metrics["c4_bound"] == pytest.approx(0.3523, abs=5e-5)
    assert 0.999 < final.score < 1


def score(task, n, outputs, key="n"):
    return task.scorer.score("full", Case("c", {key: n}, {}), outputs, None)


@pytest.mark.parametrize("name", STEP_TASKS)
@pytest.mark.parametrize(("outputs", "reason"), [
    ([0.5, 0.5, float("nan"), 0.5], "non-finite"),
    ([0.5, 0.5, float("inf"), 0.5], "non-finite"),
    ([0.5, 0.5, 0.5], "shape"),
    ([[0.5, 0.5], [0.5, 0.5]], "shape"),
    (np.full(10 ** 6, 0.5).tolist(), "shape"),
    (["a", 0.5, 0.5, 0.5], "not an array"),
    ("nonsense", "not an array"),
    ([0.0, 0.0, 0.0, 0.0], "all zero|integral of h is 0.0"),
    ([0.5, 2e308 * 0, 0.5, 0.5], "non-finite"),
])
def test_hostile_step_functions_are_invalid(tasks, name, outputs, reason):
    with pytest.raises(InvalidOutput, match=reason):
        score(tasks[name], 4, outputs)


@pytest.mark.parametrize(("name", "outputs", "reason"), [
    ("autocorrelation_first", [1.0, -0.1, 1.0, 1.0], "non-negative"),
    ("autocorrelation_second", [1.0, -0.1, 1.0, 1.0], "non-negative"),
    ("autocorrelation_third", [1.0, -1.0, 2.0, -2.0], "integral of f is 0"),
    ("erdos_minimum_overlap", [1.5, 0.5, 0.0, 0.0], "in [0, 1]"),
    ("erdos_minimum_overlap", [-0.1, 0.6, 0.5, 1.0], "in [0, 1]"),
    ("erdos_minimum_overlap", [1.0, 1.0, 1.0, 0.0], "integral of h is 1.5"),
    ("erdos_minimum_overlap", [0.5, 0.5, 0.5, 0.5 - 1e-8], "integral of h"),
])
def test_constraint_violations_are_invalid(tasks, name, outputs, reason):
    with pytest.raises(InvalidOutput, match=re.escape(reason)):
        score(tasks[name], 4, outputs)


def test_huge_heights_are_scaled_not_overflowed(tasks):
    task = tasks["autocorrelation_third"]
    small, huge = score(task, 3, [2 / 3, -1 / 3, 1.0]), score(task, 3, [1e308, -0.5e308, 1.5e308])
    assert small.score > 0 and huge.score == pytest.approx(small.score, rel=1e-12)


def exact_conv(a: list[Fraction]) -> list[Fraction]:
    return [sum((a[i] * a[k - i] for i in range(max(0, k - len(a) + 1), min(k, len(a) - 1) + 1)),
                Fraction(0)) for k in range(2 * len(a) - 1)]


@pytest.mark.parametrize("name", ["autocorrelation_first", "autocorrelation_third"])
def test_max_ratio_is_exact_and_rounded_up(tasks, name):
    rng = np.random.default_rng(0)
    n = 40
    a = rng.uniform(0, 1, n) if name == "autocorrelation_first" else rng.normal(0.3, 1, n)
    exact = [Fraction(float(x)) / Fraction(float(np.abs(a).max())) for x in a]
    conv = exact_conv(exact)
    truth = 2 * n * max(conv) / sum(exact) ** 2
    bound = score(tasks[name], n, a.tolist()).public[
        "c1_bound" if name == "autocorrelation_first" else "c3_bound"]
    assert bound >= truth and bound == pytest.approx(float(truth), rel=1e-12)


def test_second_inequality_norms_are_exact_and_rounded_down(tasks):
    a = np.random.default_rng(1).uniform(0, 1, 30)
    exact = [Fraction(float(x)) / Fraction(float(a.max())) for x in a]
    y = [Fraction(0), *exact_conv(exact), Fraction(0)]
    l2 = sum(y[k] ** 2 + y[k] * y[k + 1] + y[k + 1] ** 2 for k in range(len(y) - 1)) / 3
    truth = l2 / (sum(y) * max(y))
    bound = score(tasks["autocorrelation_second"], 30, a.tolist()).public["c2_bound"]
    assert bound <= truth and bound == pytest.approx(float(truth), rel=1e-12)


def test_overlap_is_exact_and_rounded_up(tasks):
    n = 24
    u = np.random.default_rng(2).uniform(-1, 1, n)
    h = 0.5 + 0.45 * (u - u.mean())  # in [0.05, 0.95], summing to n / 2 up to rounding
    exact = [Fraction(float(x)) for x in h]
    g = [1 - x for x in exact]
    truth = max(sum((exact[i] * g[i - k] for i in range(n) if 0 <= i - k < n), Fraction(0))
                for k in range(-n + 1, n)) * Fraction(2, n)
    bound = score(tasks["erdos_minimum_overlap"], n, h.tolist()).public["overlap_bound"]
    assert bound >= truth and bound == pytest.approx(float(truth), rel=1e-12)


@pytest.mark.parametrize(("outputs", "reason"), [
    ([0.0, 0.0, 0.0], "all zero"),
    ([1.0, float("nan"), 0.0], "non-finite"),
    ([1.0, 0.0], "shape"),
    ([1.0, -0.1, 0.0], "negative at x = 0"),
])
def test_hostile_coefficients_are_invalid(tasks, outputs, reason):
    with pytest.raises(InvalidOutput, match=re.escape(reason)):
        score(tasks["uncertainty_inequality"], 3, outputs, key="m")


def test_sign_change_ignores_double_roots(tasks):
    x = sympy.Symbol("x")
    p = sympy.Poly(x ** 2 * (x - 3) ** 2 * (x + 3) ** 2 * (x ** 2 - 1), x, domain="QQ")
    assert tasks["uncertainty_inequality"].scorer.largest_sign_change(p) == pytest.approx(1)


def test_subnormal_coefficients_cost_nothing_special(tasks):
    metrics = score(tasks["uncertainty_inequality"], 3, [1.0, -1 / 12, 5e-324], key="m")
    assert metrics.public["c4_bound"] == pytest.approx(3 / (2 * math.pi), rel=1e-12)


def test_resample_keeps_the_function_on_finer_grids_and_the_integral_on_any(tasks):
    path = tasks["erdos_minimum_overlap"].root.parent / "_shared" / "step_grid.py"
    spec = importlib.util.spec_from_file_location("step_grid_under_test", path)
    step_grid = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(step_grid)
    h = np.array([0.0, 1.0, 0.25, 0.75])
    assert np.allclose(step_grid.resample(h, 12), np.repeat(h, 3), atol=1e-15)
    coarse = step_grid.resample(h, 3)
    assert coarse.sum() / 3 == pytest.approx(h.sum() / 4)
    assert ((coarse >= 0) & (coarse <= 1)).all()
