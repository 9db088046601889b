"""Fuzzing the trusted side of the memory tasks (ALMA) and the agent tasks (ADAS), driven with
what a hostile candidate can send (tests/fuzz/answers.py, plus each domain's near-valid
answers: hint dicts with cells out of the world, unknown moves, huge ints, NaN, 64 kB strings;
answers and failures with junk ids and texts).

The promise checked: the oracle and the scorer raise InvalidOutput or return Metrics with a
finite score, never anything else (any other exception, in the scorer or kept by the stream as
its own error, is a TaskError that halts a campaign), and no score is above the honest best
unless what was measured passed its invariants: a memory's stream that finished scored every
retrieval only after it was a dict of at most 64 kB whose hints read (grid_agent.read_hints);
an agent scores at most what the gold answers to the same questions score."""

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators.scoring import InvalidOutput, Metrics
from evaluators.task import Case, load_task
from tests.evaluators.tasks.memory_helpers import Echo, baseline, memory_class
from tests.fuzz.answers import floats, json_values

GRID = load_task("gridworld_memory")
from grid_agent import read_hints  # noqa: E402  (memory_helpers put the shared modules on the path)
from memory_stream import MAX_RETRIEVED_KB, play_in_process  # noqa: E402

SMALL = {"seed": 0, "worlds": 2, "tasks_per_world": 6, "budget": 14}
"""A small stream: 6 collection episodes, 6 deployment tasks played 3 times, with few enough
steps that the best baseline scores below 1 (0.72 batched): room to score above it."""
MEMORY_CASES = {
    "batched": SMALL,
    "sequential": {**SMALL, "mode": "sequential", "copy": 2},
    "rooms": {**SMALL, "domain": "rooms"},
    "llm": {**SMALL, "agent": "llm"},
}
"""The grid scorer's paths a retrieval reaches: the scripted agent in batched and sequential
mode, another domain, the LLM agent (its prompt holds the retrieved dict; a stand-in model
answers with the scripted agent's move)."""

cell_values = st.one_of(st.integers(-3, 25), st.integers(-(2**70), 2**70))
cells = st.one_of(st.tuples(cell_values, cell_values).map(list), json_values)
hints = st.fixed_dictionaries({}, optional={
    "targets": st.lists(cells, max_size=8),
    "waypoints": st.one_of(st.lists(cells, max_size=8),
                           st.integers(1, 4096).map(lambda n: [[-5, -5]] * n)),
    "avoid": st.lists(cells, max_size=40),
    "plan": st.lists(st.sampled_from(["north", "south", "east", "west", "up", 1, None]),
                     max_size=10),
    "notes": st.one_of(json_values, floats, st.integers(60, 70).map(lambda kb: "x" * kb * 1024)),
})
"""Retrieved dicts near the hint schema (grid_agent.py): cells off the world or malformed,
every waypoint out of reach (the agent's search allowance), unknown moves, huge notes."""
retrievals = st.lists(st.one_of(hints, json_values), min_size=1, max_size=4)
"""A memory's answers, cycled over a stream's retrievals."""


def memory_case(name: str) -> Case:
    secret = MEMORY_CASES[name]
    return Case(name, {}, secret, Echo() if secret.get("agent") == "llm" else None)


def play(case: Case, answers: list) -> tuple[Metrics | None, list]:
    """The case's stream with `answers` as the memory's retrievals, through the task's oracle
    and scorer as Task.run_case calls them: the Metrics (None where the program was refused),
    and the retrievals scored."""
    stage = GRID.config.stages[0].name
    oracle = GRID.scorer.oracle(stage, case)
    retrieved, command = [], oracle(["next", None])
    while command["kind"] != "done":
        answer = answers[len(retrieved) % len(answers)] if command["kind"] == "retrieve" \
            else None
        if command["kind"] == "retrieve":
            retrieved.append(answer)
        command = oracle(["next", answer])
    assert oracle.error is None, oracle.error  # the stream's own exception: a TaskError
    try:
        metrics = GRID.scorer.score(stage, case, {"memories": 1}, oracle)
    except InvalidOutput:
        return None, retrieved
    assert isinstance(metrics, Metrics) and math.isfinite(metrics.score)
    assert 0.0 <= metrics.score <= 1.0
    return metrics, retrieved


BEST: dict[str, float] = {}


def honest_best(name: str) -> float:
    """The best baseline's score (map_memory) on the case, played in this process."""
    if name not in BEST:
        case = memory_case(name)
        scorer = GRID.scorer.SCORER
        oracle = play_in_process(scorer.stream(scorer.case(case.secret), case.model),
                                 memory_class(baseline("gridworld_memory", "map_memory")),
                                 case.model)
        BEST[name] = oracle.result.mean_and_se()[0]
    return BEST[name]


@pytest.mark.parametrize("name", list(MEMORY_CASES))
@settings(max_examples=25)
@given(answers=retrievals)
def test_memory_scorer_refuses_or_scores_what_passed_its_invariants(name, answers):
    """No TaskError, no crash; a stream that scored took only retrievals that pass their
    invariants, so no score above map_memory's without them."""
    metrics, retrieved = play(memory_case(name), answers)
    if metrics is None:
        return
    assert metrics.score <= honest_best(name) or all(passes(answer) for answer in retrieved)
    # stronger, and what the oracle promises: every retrieval of a finished stream passed
    assert all(passes(answer) for answer in retrieved)


def passes(answer) -> bool:
    """A retrieval's invariants: a dict of at most MAX_RETRIEVED_KB kB whose hints read."""
    if not (isinstance(answer, dict) and len(json.dumps(answer)) <= MAX_RETRIEVED_KB * 1024):
        return False
    try:
        read_hints(answer)
    except InvalidOutput:
        return False
    return True


AGENTS = {name: load_task(name) for name in ("arithmetic", "multiple_choice", "arc")}
from question_loop import bootstrap  # noqa: E402  (the agent tasks' scorer put it on the path)

AGENT_CASES = {
    "arithmetic": {"dataset": "arithmetic", "seed": 1, "count": 6, "threads": 1},
    "multiple_choice": {"dataset": "multiple_choice", "seed": 1, "count": 6, "threads": 1},
    "arc": {"dataset": "arc", "split": "validation", "count": 3, "threads": 1},
}

texts = st.one_of(
    st.text(max_size=40), st.sampled_from(["nan", "inf", "1e309", "-0", "answer: 12", "(B)",
                                           "[[1, 2], [3, 4]]", "[" * 5000, "1|2|" * 600]),
    floats.map(repr), st.integers(-(10**30), 10**30).map(str),
    st.integers(4000, 25_000).map(lambda n: "9" * n))
"""Answer texts at the edges of every rule of `correct`: numbers past the int-string limit,
deep JSON nesting, DROP's span separator, letters, NaN."""


def requests(qids: list[str]) -> st.SearchStrategy[list]:
    """What an agent can send: answers and failures to real or junk ids, with junk texts."""
    ids = st.one_of(st.sampled_from(qids), json_values)
    return st.one_of(
        st.tuples(st.sampled_from(["answer", "fail"]), ids, st.one_of(texts, json_values))
        .map(list),
        st.lists(json_values, max_size=4))


@pytest.mark.parametrize("name", list(AGENTS))
@settings(max_examples=40)
@given(data=st.data())
def test_question_scorer_refuses_or_scores_at_most_the_gold_answers(name, data):
    """Every request is answered or refused with a ValueError (the sandbox hands it back to the
    agent); the scorer returns Metrics or InvalidOutput; the score is at most the score of the
    gold answers to the questions the agent answered, and 1 at most."""
    task = AGENTS[name]
    case = Case(name, {}, AGENT_CASES[name])
    stage = task.config.stages[0].name
    loop = task.scorer.oracle(stage, case)
    handed = loop(["start"])
    for request in data.draw(st.lists(requests([q["id"] for q in handed["questions"]]),
                                      max_size=12)):
        with contextlib.suppress(ValueError):
            loop(request)
    outputs = data.draw(st.one_of(st.just({}), json_values))
    try:
        metrics = task.scorer.score(stage, case, outputs, loop)
    except InvalidOutput:
        return
    assert isinstance(metrics, Metrics) and 0.0 <= metrics.score <= 1.0
    for value in metrics.public.values():
        assert not isinstance(value, float) or math.isfinite(value)
    gold = [1.0 if qid in loop.answers else 0.0 for qid in loop.questions]
    assert metrics.score <= round(bootstrap(gold)[0], 4)

