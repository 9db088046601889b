"""The simulated agent model honours the ARC task's mechanics: right code fits the examples the
prompt shows, wrong code fits none, so designs that check code on the examples gain with it as
with a real model (before, every `code` answer failed every example, and those designs ranked
below the seed)."""

import json

import pytest

from discovery.doubles.simulator import Simulator
from discovery.models import agent_models
from discovery.models.agent import AgentModelConfig
from discovery.models.base import ModelSpec
from evaluators.task import load_task
from evaluators.tasks.agents._shared.questions import arc, arc_examples
from evaluators.workers import WorkerPool

CODER = ("You are a helpful assistant.\n\nReply EXACTLY with the following JSON format.\n"
         '{\n    "thinking": "Your thinking.",\n    "code": "Your code."\n}\nDO NOT MISS')


def code_answers(question, seeds: range) -> list[tuple[str, bool]]:
    """(code, whether it is right) of the simulator's answers to a coder's prompt on
    `question`, one per seed, at temperature 0.8."""
    simulator = Simulator(ModelSpec(name="simulator"))
    messages = [{"role": "system", "content": CODER},
                {"role": "user", "content": f"# Your Task:\n{question.text}\n\nWrite code."}]
    out = []
    for seed in seeds:
        code = json.loads(simulator.complete(messages, seed=seed, temperature=0.8,
                                             reference=question.answer).text)["code"]
        out.append((code, code.rstrip().endswith(f"return {question.answer}")))
    return out


def outputs(code: str, grids: list) -> list:
    scope: dict = {}
    exec(code, scope)  # the simulator's own code, a test double's: a lookup and a return
    return [scope["transform"](grid) for grid in grids]


def test_right_code_fits_every_example_and_wrong_code_fits_none():
    question = arc("validation")[0]
    examples, test_input = arc_examples(question.id)
    answers = code_answers(question, range(12))
    assert {right for _, right in answers} == {True, False}  # both kinds were drawn
    for code, right in answers:
        got = outputs(code, [e["input"] for e in examples] + [test_input])
        fits = [g == e["output"] for g, e in zip(got, examples, strict=False)]
        assert all(fits) if right else not any(fits), code
        assert (got[-1] == json.loads(question.answer)) == right


@pytest.fixture(scope="module")
def small_arc(tmp_path_factory):
    """ARC's first 5 validation questions, each asked twice."""
    root = tmp_path_factory.mktemp("arc") / "arc_small"
    root.mkdir()
    (root / "task.toml").write_text(
        f'extends = "{load_task("arc").root / "task.toml"}"\nname = "arc_small"\n'
        '[secret]\nn_repeat = 2\n[[stages]]\nname = "validation"\ncases = [{ name = "v", '
        'secret = { dataset = "arc", split = "validation", count = 5, threads = 4 } }]\n')
    return load_task(root)


def test_designs_that_use_example_feedback_no_longer_rank_below_the_seed(small_arc):
    models = agent_models(AgentModelConfig(name="simulator"))
    with WorkerPool(size=1) as pool:
        def score(code: str) -> float:
            result = small_arc.evaluate(code, pool, model=models.for_evaluation([]))[-1]
            assert result.status == "ok", result.reason
            return result.score
        seed = score(small_arc.seed_code)  # one repair turn from the feedback
        plain = score(small_arc.baselines["adas_chain_of_thought"])  # no feedback
        best_of_5 = score(small_arc.baselines["sampled_programs"])
        refined = score(small_arc.baselines["refine_with_feedback"])
    assert best_of_5 >= seed > plain and refined >= seed, (plain, seed, best_of_5, refined)
