"""A memory's `embed(texts)` over the harness channel, through the real sandbox: answered by
the agent model's embedding model (the offline lexical embedding, or one through litellm, here
the mock server), counted in the evaluation's budgets and recorded as `embed` model calls; a
refused or malformed request costs the memory its episode, never the evaluation; what the
embedding model answers is checked before the candidate sees it."""

import math

import pytest
from memory_helpers import baseline, program, smoke

from discovery.doubles.mock_server import MockServer
from discovery.models import agent_models
from discovery.models.agent import AgentModelConfig
from discovery.models.base import ModelSpec
from discovery.models.lexical import trigram_embedding
from evaluators.agent_model import AgentModelError
from evaluators.task import Case, load_task
from evaluators.workers import WorkerPool

TASK = load_task("gridworld_memory")
SECRET = {"seed": 1, "size": 25, "items": 16, "budget": 50, "worlds": 2, "tasks_per_world": 8,
          "agent": "scripted"}
"""16 tasks: 8 collected, 8 deployed 3 times; a case where trajectory retrieval helps. The
agent is scripted: the chat model is never asked, the memory's `embed` alone is."""


def run(code: str, model=None, **config):
    """SECRET on the smoke stage with `code`, with an evaluation model of `config` (or
    none); the result, the evaluation's recorded model calls and its model."""
    stage, case = smoke("gridworld_memory")
    calls = []
    if model is None and config:
        model = agent_models(AgentModelConfig(name="simulator", **config)).for_evaluation(calls)
    with WorkerPool(size=1) as pool:
        result = TASK.run_case(stage, Case(case.name, {}, SECRET, model), code, pool)
    assert result.status == "ok", result.reason
    return result, calls, model


def test_the_embedding_baseline_retrieves_by_lexical_embeddings_and_matches_trajectory():
    retrieval, calls, model = run(baseline("gridworld_memory", "embedding_retrieval")
                                  .read_text(), embed_texts_per_evaluation=100)
    plain, _, _ = run(baseline("gridworld_memory", "trajectory").read_text())
    none, _, _ = run(TASK.seed_code)
    assert retrieval.metrics.public["memory_errors"] == 0
    assert calls and all(c.purpose == "embed" and c.model == "lexical" and c.error is None
                         and c.tokens_in > 0 for c in calls)
    assert retrieval.metrics.private["model_calls"] == len(calls) == model.spending.calls
    assert model.embedded == len(calls) and model.dimension == 256  # one goal a call
    assert retrieval.metrics.score >= plain.metrics.score > none.metrics.score


def test_the_litellm_path_gives_the_mock_servers_vectors_and_records_each_call():
    """The mock server answers the lexical vectors, so the same memory scores the same."""
    code = baseline("gridworld_memory", "embedding_retrieval").read_text()
    lexical, lexical_calls, _ = run(code, embed_texts_per_evaluation=100)
    with MockServer() as server:
        spec = ModelSpec(name="openai/mock-embed", api_base=server.base_url, timeout_s=30.0)
        served, calls, model = run(code, embedding=spec)
        asked = [r for r in server.requests if r["path"].endswith("/embeddings")]
    assert served.metrics.score == lexical.metrics.score
    assert len(asked) == len(calls) == len(lexical_calls) > 0
    assert all(r["body"]["model"] == "mock-embed" for r in asked)
    assert all(c.purpose == "embed" and c.model == "openai/mock-embed" and c.tokens_in > 0
               for c in calls)
    assert model.dimension == 256


EMBEDS = """
from memory_loop import embed


class Memory:
    def general_update(self, recorder):
        embed([recorder["init"]["goal"]])

    def general_retrieve(self, recorder):
        vector = embed([recorder["init"]["goal"]])[0]
        return {"norm": sum(x * x for x in vector)}
"""


@pytest.mark.parametrize("caps, reason", [
    ({"embed_texts_per_evaluation": 3}, "3 texts to embed"),
    ({"calls_per_evaluation": 3}, "3 agent-model calls"),
    ({"tokens_per_evaluation": 3 * len(b"go to the xxx") + 3}, "agent-model tokens")])
def test_a_spent_budget_costs_each_later_episode_not_the_evaluation(caps, reason):
    result, calls, model = run(program("gridworld_memory", EMBEDS), **caps)
    admitted = len(calls)
    assert 0 < admitted <= 3 and all(c.purpose == "embed" for c in calls)
    # 8 updates in collection, then 24 retrievals
    assert result.metrics.public["memory_errors"] == 8 + 24 - admitted
    assert reason in model.refused and reason in result.metrics.public["episodes"]
    assert result.metrics.score == 0  # every deployment retrieval refused


HOSTILE = """
import memory_loop
from memory_loop import embed

ASKS = [lambda: embed("one string"), lambda: embed([1, 2]), lambda: embed([]),
        lambda: embed(["x" * 100_000]), lambda: embed(["a"] * 5_000),
        lambda: embed([["nested"]]), lambda: memory_loop._stream("embed", ["a"], "extra"),
        lambda: embed({"texts": ["a"]})]


class Memory:
    def __init__(self):
        self.n = 0

    def general_update(self, recorder):
        self.n += 1
        ASKS[self.n % len(ASKS)]()

    def general_retrieve(self, recorder):
        self.n += 1
        ASKS[self.n % len(ASKS)]()
        return {}
"""


def test_hostile_embed_requests_cost_their_episodes_and_are_never_sent():
    result, calls, model = run(program("gridworld_memory", HOSTILE),
                               embed_texts_per_evaluation=100)
    assert result.metrics.public["memory_errors"] == 8 + 24
    assert calls == [] and model.embedded == 0  # refused before any budget or model
    errors = [line for line in result.metrics.public["episodes"].splitlines()
              if line.startswith('{"error_info"')]
    assert errors and all("RuntimeError: AgentModelError: " in e or "RuntimeError: ask stream("
                          in e for e in errors)  # the oracle's refusals, handed back
    # without a model at all, the same requests are refused the same way
    alone, _, _ = run(program("gridworld_memory", EMBEDS))
    assert alone.metrics.public["memory_errors"] == 8 + 24
    assert "no agent model" in alone.metrics.public["episodes"]


class Answers:
    """An embedding model that answers `vectors` (a provider gone wrong)."""

    def __init__(self, vectors):
        self.vectors = vectors

    def embed(self, texts, *, purpose):
        from archive.records import ModelCall

        return self.vectors(texts), (ModelCall("bad", purpose, 1),)


@pytest.mark.parametrize("vectors, reason", [
    (lambda texts: [[math.nan, 1.0]] * len(texts), "finite numbers"),
    (lambda texts: [[1.0]], "for 2 texts"),
    (lambda texts: [[1.0, 2.0], [1.0]], "dimensions"),
    (lambda texts: [["1.0"], ["2.0"]], "finite numbers"),
    (lambda texts: [[]] * len(texts), "non-empty")])
def test_what_the_embedding_model_answers_is_checked_and_its_call_still_recorded(vectors,
                                                                                  reason):
    calls = []
    models = agent_models(AgentModelConfig(name="simulator"))
    models.embedder = Answers(vectors)
    model = models.for_evaluation(calls)
    with pytest.raises(AgentModelError, match=reason):
        model.embed(["go to the key", "go to the box"])
    assert len(calls) == 1 and model.spending.tokens == 1 and model.spending.reserved == (0, 0)


def test_the_dimension_is_fixed_for_the_evaluation():
    calls = []
    models = agent_models(AgentModelConfig(name="simulator"))
    model = models.for_evaluation(calls)
    assert model.embed(["go to the key"]) == [trigram_embedding("go to the key")]
    models.embedder = Answers(lambda texts: [[1.0, 0.0]])
    with pytest.raises(AgentModelError, match="2 and 256 dimensions"):
        model.embed(["go to the box"])
    assert [c.model for c in calls] == ["lexical", "bad"]
