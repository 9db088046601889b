"""Fuzzing the math tasks' trusted side: circle packing's scorer, function minimisation's
scorer and its oracle (the counted objective `f`), driven with what a hostile candidate can
send (tests/fuzz/answers.py, plus each task's near-valid answers).

The promise checked: a scorer raises InvalidOutput or returns Metrics with a finite score and
finite public figures, never anything else (any other exception is a TaskError that halts a
campaign); a score is what an independent re-check of the measured object gives (the sum of
radii of a packing re-validated here; -log10 of the regret of the point re-evaluated here), so
nothing scores above the honest best unless it passes. The oracle answers a JSON-encodable
float or refuses with an exception (the candidate's error), counts only the calls it answers
and never more than the budget. The attacks that got through before are also run end to end,
through the real sandbox."""

import itertools
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators.sandbox import Sandbox
from evaluators.scoring import InvalidOutput, Metrics
from evaluators.task import Case, load_task
from tests.fuzz.answers import floats, json_values

PACKING = load_task("circle_packing")
MINIMISING = load_task("function_minimisation")
TOLERANCE = 1e-9
"""Overlap and containment slack that circle packing's description promises."""
ROUNDING = 1e-12
"""What numpy's and this file's arithmetic may differ by, on numbers below 10."""
EXAMPLES = settings(max_examples=150)
"""More than the profile's 60: each example costs about a millisecond."""


def cases(task) -> list[tuple[str, Case]]:
    """Every case of the task (held-out too), with its stage's name."""
    stages = [*task.config.stages, *filter(None, [task.config.held_out])]
    return [(s.name, Case(c.name, c.inputs, c.secret)) for s in stages for c in s.cases]


def scored(task, stage: str, case: Case, outputs: Any, oracle: Any = None) -> Metrics | None:
    """The scorer's Metrics, or None where it refused the outputs (InvalidOutput); any other
    exception fails the test (Task._call_scorer would make it a TaskError). Checks what
    Task.run_case checks after a scorer, and that every public figure is finite."""
    try:
        metrics = task.scorer.score(stage, case, outputs, oracle)
    except InvalidOutput:
        return None
    assert isinstance(metrics, Metrics) and math.isfinite(metrics.score)
    for name, value in metrics.public.items():
        assert isinstance(value, int | float) and math.isfinite(value), (name, value)
    return metrics


def json_numbers(value: Any) -> list | float | None:
    """`value` as nested lists of floats where it is made of numbers as the scorers read them
    (numpy's conversion: a bool is 0 or 1, a string is what float() makes of it), else None
    (an integer too large for a float, a string that is no number, anything else)."""
    if isinstance(value, list | tuple):
        items = [json_numbers(item) for item in value]
        return None if any(item is None for item in items) else items
    if not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):
        return None


def numbers(value: Any, length: int) -> list[float] | None:
    """A list of `length` finite numbers, or None."""
    value = json_numbers(value)
    if not isinstance(value, list) or len(value) != length:
        return None
    ok = all(isinstance(v, float) and math.isfinite(v) for v in value)
    return value if ok else None


# -- circle packing ------------------------------------------------------------------------

def valid_packing(n: int, outputs: Any) -> list[float] | None:
    """The radii of `outputs` if it is a packing of n circles in the unit square (within the
    promised slack), checked circle by circle with math.hypot: independent of the scorer's
    vectorised check."""
    if isinstance(outputs, dict):
        outputs = [outputs.get("centers"), outputs.get("radii")]
    if not isinstance(outputs, list | tuple) or len(outputs) != 2:
        return None
    centers, radii = json_numbers(outputs[0]), numbers(outputs[1], n)
    if not isinstance(centers, list) or len(centers) != n or radii is None:
        return None
    if not all(numbers(c, 2) is not None for c in centers):
        return None
    slack = TOLERANCE + ROUNDING
    for (x, y), r in zip(centers, radii, strict=True):
        if not (r >= 0 and min(x - r, y - r) >= -slack and max(x + r, y + r) <= 1 + slack):
            return None
    for i in range(n):
        for j in range(i):
            gap = math.hypot(centers[i][0] - centers[j][0], centers[i][1] - centers[j][1])
            if not gap - radii[i] - radii[j] >= -slack:
                return None
    return radii


def grid(n: int) -> tuple[list[list[float]], float]:
    """An honest packing: n circles on a square grid, and their common radius."""
    side = math.ceil(math.sqrt(n))
    r = 0.5 / side
    return [[r + 2 * r * (k % side), r + 2 * r * (k // side)] for k in range(n)], r


NUDGES = st.sampled_from([0.0, 1e-12, 5e-10, 1e-9, 1.1e-9, 2e-9, 1e-6, -1e-6, 5e-324])


@st.composite
def near_packings(draw, n: int) -> Any:
    """A grid packing whose radii, or a centre, are nudged around the slack: the answers a
    validator must tell apart to the last 1e-9."""
    centers, r = grid(n)
    radii = [r + draw(NUDGES) for _ in range(n)]
    k = draw(st.integers(0, n - 1))
    centers[k] = [centers[k][0] + draw(NUDGES) - draw(NUDGES), centers[k][1] - draw(NUDGES)]
    radii[k] = draw(st.one_of(floats, st.just(radii[k])))
    shape = draw(st.sampled_from(["tuple", "list", "dict"]))
    return {"centers": centers, "radii": radii} if shape == "dict" else \
        (centers, radii) if shape == "tuple" else [centers, radii]


@st.composite
def packing_answers(draw) -> tuple[str, Case, Any]:
    stage, case = draw(st.sampled_from(cases(PACKING)))
    n = case.inputs["n"]
    element = st.one_of(floats, st.booleans(), st.integers(-(10**400), 10**400),
                        st.floats(0, 1))
    outputs = draw(st.one_of(
        json_values,
        near_packings(n),
        st.tuples(st.lists(st.lists(element, min_size=2, max_size=2), min_size=n, max_size=n),
                  st.lists(element, min_size=n, max_size=n)).map(list),
        st.tuples(st.lists(st.lists(element, max_size=3), max_size=n + 1),
                  st.lists(element, max_size=n + 1)),
    ))
    return stage, case, outputs


@EXAMPLES
@given(packing_answers())
def test_circle_packing_scores_only_packings_it_would_revalidate(answer):
    stage, case, outputs = answer
    metrics = scored(PACKING, stage, case, outputs)
    if metrics is None:
        return
    radii = valid_packing(case.inputs["n"], outputs)
    assert radii is not None, "the scorer accepted what an independent check refuses"
    assert metrics.score == pytest.approx(math.fsum(radii), abs=ROUNDING)
    best = PACKING.scorer.BEST_KNOWN.get(case.inputs["n"], math.sqrt(case.inputs["n"] / math.pi))
    assert metrics.score <= best + case.inputs["n"] * TOLERANCE  # no packing beats the best


def test_circle_packing_keeps_its_honest_figures():
    """The seed's and a grid's sums are unchanged by the checks."""
    stage, case = cases(PACKING)[1]
    centers, r = grid(26)
    assert scored(PACKING, stage, case, [centers, [r] * 26]).score == pytest.approx(26 * r)


# -- function minimisation -----------------------------------------------------------------

def g(name: str, z: list[float]) -> float:
    """The five hidden functions, written again here in plain Python (minimum 0 at z = 0)."""
    try:
        return _g(name, z)
    except (OverflowError, ValueError):  # Python's math raises where numpy gives inf or NaN
        return math.inf


def _g(name: str, z: list[float]) -> float:
    n = len(z)
    if name == "sphere":
        return math.fsum(v * v for v in z)
    if name == "rosenbrock":
        x = [v + 1.0 for v in z]
        return math.fsum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2 for a, b in
                         itertools.pairwise(x))
    if name == "rastrigin":
        return 10.0 * n + math.fsum(v * v - 10.0 * math.cos(2 * math.pi * v) for v in z)
    if name == "ackley":
        return (-20.0 * math.exp(-0.2 * math.sqrt(math.fsum(v * v for v in z) / n))
                - math.exp(math.fsum(math.cos(2 * math.pi * v) for v in z) / n) + 20.0 + math.e)
    assert name == "griewank"
    return 1.0 + math.fsum(v * v for v in z) / 4000.0 - math.prod(
        math.cos(v / math.sqrt(i)) for i, v in enumerate(z, 1))


def shift(case: Case) -> list[float]:
    return MINIMISING.scorer.Objective(case).shift.tolist()


@st.composite
def points(draw, case: Case) -> Any:
    """What a candidate can return or pass to f: anything, arrays of hostile numbers of the
    right and wrong lengths, and points at the secret minimum nudged by a few ulps (the
    regrets near 0 that the score's cap must bound)."""
    dim = case.inputs["dim"]
    element = st.one_of(floats, st.booleans(), st.integers(-(10**400), 10**400),
                        st.floats(-5, 5), st.sampled_from([5.0, -5.0, 5.000000000000001]))
    nudge = st.sampled_from([0.0, 5e-324, 1e-300, 1e-16, 1e-8, 1e-3, -1e-8])
    return draw(st.one_of(
        json_values,
        st.lists(element, min_size=dim, max_size=dim),
        st.lists(element, max_size=dim + 2),
        st.lists(nudge, min_size=dim, max_size=dim).map(
            lambda d: [s + e for s, e in zip(shift(case), d, strict=True)]),
    ))


@st.composite
def minimising_answers(draw) -> tuple[str, Case, Any]:
    stage, case = draw(st.sampled_from(cases(MINIMISING)))
    return stage, case, draw(points(case))


@EXAMPLES
@given(minimising_answers())
def test_function_minimisation_scores_the_point_as_reevaluated(answer):
    stage, case, outputs = answer
    objective = MINIMISING.scorer.oracle(stage, case)
    metrics = scored(MINIMISING, stage, case, outputs, objective)
    if metrics is None:
        return
    x = numbers(outputs, case.inputs["dim"])
    assert x is not None and all(abs(v) <= 5.0 for v in x), "accepted a point outside the box"
    regret = max(g(case.secret["function"], [a - b for a, b in
                                             zip(x, shift(case), strict=True)]), 0.0)
    assert metrics.public["regret"] == pytest.approx(regret, rel=1e-9, abs=ROUNDING)
    best = MINIMISING.scorer.MAX_SCORE
    assert metrics.score == (min(best, -math.log10(metrics.public["regret"]))
                             if metrics.public["regret"] > 0 else best)


@st.composite
def calls(draw) -> tuple[Case, list[Any]]:
    """A case with a small budget, and requests for f: `[point]` as the harness sends them,
    or any JSON value."""
    _, case = draw(st.sampled_from(cases(MINIMISING)))
    case = Case(case.name, {**case.inputs, "budget": draw(st.integers(0, 4))}, case.secret)
    request = st.one_of(json_values, points(case).map(lambda p: [p]))
    return case, draw(st.lists(request, max_size=8))


@EXAMPLES
@given(calls())
def test_the_counted_objective_answers_numbers_and_counts_what_it_answers(drawn):
    """f answers a float (JSON-encodable: what the harness sends back) for a point of `dim`
    finite numbers while the budget lasts, else raises (an error the candidate gets); it
    counts the calls it answers and nothing else."""
    case, requests = drawn
    objective = MINIMISING.scorer.oracle("fuzz", case)
    answered = 0
    for request in requests:
        try:
            value = objective(request)
        except Exception:  # the sandbox sends any refusal back to the candidate as an error
            point = numbers(request[0], case.inputs["dim"]) \
                if isinstance(request, list) and len(request) == 1 else None
            assert point is None or answered == case.inputs["budget"], request
            continue
        answered += 1
        assert isinstance(value, float) and not math.isnan(value)
        json.dumps({"value": value})
        point = numbers(request[0], case.inputs["dim"])
        assert point is not None, f"f answered {request!r}"
        z = [a - b for a, b in zip(point, shift(case), strict=True)]
        expected = g(case.secret["function"], z)
        assert value == pytest.approx(expected, rel=1e-9, abs=ROUNDING) or \
            (math.isinf(value) and math.isinf(expected))
    assert objective.calls == answered <= case.inputs["budget"]


# -- the attacks, end to end ---------------------------------------------------------------

@pytest.mark.parametrize(("task", "code"), [
    (PACKING, "def construct_packing(n):\n    return [[[10**400, 0]] * n, [0] * n]\n"),
    (MINIMISING, "def minimise(f, dim, budget, seed):\n    return [10**400] + [0] * (dim - 1)\n"),
    (PACKING, "def construct_packing(n):\n"
              "    return [[[0.5, 0.5]] + [[0.0, 0.0]] * (n - 1), [5e-324] + [0.0] * (n - 1)]\n"),
])
def test_an_unscorable_answer_is_the_programs_failure(task, code):
    """An integer too large for a float (scored, it raised OverflowError: a TaskError that
    halted the campaign); radii whose mean underflows to 0 (a NaN radius spread, published
    and used as a MAP-Elites descriptor)."""
    result = task.evaluate(code, Sandbox())[-1]
    assert result.status in ("invalid", "ok"), result.reason
    assert all(math.isfinite(v) for v in result.public_metrics.values()
               if isinstance(v, float)), result.public_metrics
    if result.status == "invalid":
        assert "not an array of numbers" in result.reason

