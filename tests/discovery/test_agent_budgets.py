"""Hostile tests of the agent model (issue 23): budgets that concurrent calls cannot overshoot,
slots that one candidate's threads cannot take from another's evaluation, and a transcript that
a candidate's prompts cannot grow without bound, with replay still exact."""

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.records import ModelCall
from discovery.doubles.mock_server import MockServer
from discovery.doubles.simulator import Simulator
from discovery.models.agent import AgentModelConfig, AgentModels, EvaluationModel, prompt_bound
from discovery.models.base import Completion, ModelSpec
from discovery.models.transcripts import Recorder, Replayer, TranscriptIndex
from evaluators.agent_model import AgentModelError
from evaluators.task import load_task
from evaluators.workers import WorkerPool

MAXIMAL = 400
"""The agent model's max_tokens here: a maximal call answers this many tokens."""
PROMPT = [{"role": "user", "content": " ".join(["word"] * 100)}]
"""100 tokens as the mock server counts them (words)."""


def words(n: int) -> Callable[[list[dict[str, Any]]], str]:
    """A mock-server reply of `n` words: `n` completion tokens as the mock server counts."""
    return lambda messages: " ".join(["w"] * n)


def on_mock(server: MockServer, **caps: Any) -> AgentModels:
    """Agent models through litellm to the mock server, priced at $10 per million tokens."""
    config = AgentModelConfig(name="openai/mock-model", api_base=server.base_url,
                              max_tokens=MAXIMAL, price_in_per_mtok=10.0,
                              price_out_per_mtok=10.0, backoff_s=0.01, timeout_s=30.0,
                              max_concurrency=32, **caps)
    from discovery.models.litellm_client import LiteLLMClient

    return AgentModels(config, LiteLLMClient(config))


def hammer(model: EvaluationModel, n: int, messages: list[dict[str, str]] = PROMPT
           ) -> list[str]:
    """`n` calls at once on threads; the refusals' reasons (answers are dropped)."""
    refusals: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            model(messages)
        except AgentModelError as exc:
            with lock:
                refusals.append(str(exc))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return refusals


def spent(calls: list[ModelCall]) -> tuple[int, float]:
    return sum(c.tokens_in + c.tokens_out for c in calls), sum(c.cost for c in calls)


# -- class 5: budgets under concurrency ---------------------------------------------------------

@pytest.mark.parametrize(("caps", "what"), [
    ({"tokens_per_evaluation": 1000}, "1,000 agent-model tokens"),
    ({"cost_per_evaluation": 0.01}, "$0.01"),
])
def test_parallel_maximal_calls_never_overshoot_an_evaluations_caps(caps, what):
    """32 maximal calls at once used to all pass a check made before any was charged (3.17M
    tokens against a cap of 1,000): each now reserves its bound first, and one that cannot fit
    is refused with the reason."""
    with MockServer(reply=words(MAXIMAL)) as server:
        models = on_mock(server, **caps)
        calls: list[ModelCall] = []
        refusals = hammer(models.for_evaluation(calls), 32)
    tokens, cost = spent(calls)
    assert tokens <= 1000 and cost <= 0.01 + 1e-12, (tokens, cost)
    assert calls and len(refusals) == 32 - len(calls)
    assert all(what in reason for reason in refusals), refusals[:3]
    assert all(c.tokens_out == MAXIMAL for c in calls)  # they were maximal calls


def test_parallel_evaluations_never_overshoot_the_campaigns_caps():
    with MockServer(reply=words(MAXIMAL)) as server:
        models = on_mock(server, tokens=3000, cost=0.02)
        calls: list[list[ModelCall]] = [[] for _ in range(4)]
        threads = [threading.Thread(target=hammer, args=(models.for_evaluation(c), 8))
                   for c in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    tokens, cost = spent([c for each in calls for c in each])
    assert 0 < tokens <= 3000 and cost <= 0.02 + 1e-12, (tokens, cost)
    assert models.campaign.tokens == tokens and models.campaign.reserved == (0, 0.0)


@given(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]),
                                        "content": st.text(max_size=300)}),
                min_size=1, max_size=4))
def test_the_prompt_bound_is_never_below_a_real_tokenizers_count(messages):
    """What the reservation rests on: tiktoken's counts (through litellm, offline) of any text,
    emoji and scripts of every kind included, with the chat template's tokens."""
    import litellm

    for model in ("gpt-4o-mini", "gpt-3.5-turbo"):
        assert litellm.token_counter(model=model, messages=messages) <= prompt_bound(messages)


FLOOD = '''
def forward(self, taskInfo):
    """Flood: eight threads per question, each asking with a long prompt."""
    import threading
    agent = LLMAgentBase(["answer"], "Flood")
    threads = [threading.Thread(target=agent, args=([taskInfo], "go on " * 1000))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return "0"
'''


def test_a_candidate_flooding_the_channel_from_the_sandbox_stays_within_its_caps():
    """The attack end to end: a candidate in the real sandbox calls the model on 8 threads
    from each of the question loop's threads (128 at once); what it spends stays within
    its evaluation's caps, and the metrics say which budget refused it."""
    task = load_task("arithmetic")
    start, end = task.seed_code.index("def forward"), task.seed_code.index("# EVOLVE-BLOCK-END")
    code = task.seed_code[:start] + FLOOD.lstrip() + task.seed_code[end:]
    config = AgentModelConfig(name="simulator", tokens_per_evaluation=30_000)
    calls: list[ModelCall] = []
    with WorkerPool(size=1) as pool:
        result = task.evaluate(code, pool, model=AgentModels(config, Simulator(config))
                               .for_evaluation(calls))[-1]
    assert result.status == "ok", result.reason
    assert 0 < spent(calls)[0] <= 30_000, spent(calls)
    assert "30,000 agent-model tokens" in result.public_metrics["model_refused"]


class Overspending:
    """A provider that ignores max_tokens: every answer is `factor` times too long."""

    def __init__(self, spec: ModelSpec, factor: int):
        self.spec, self.factor = spec, factor

    def complete(self, messages, *, purpose="agent", seed=None, temperature=None,
                 reference=None, json_mode=False) -> Completion:
        out = self.spec.max_tokens * self.factor
        attempt = ModelCall(self.spec.name, purpose, 100, out, 0.0, 0.0, raw_response="x")
        return Completion(self.spec.name, "x", 100, out, 0.0, 0.0, (attempt,))


def test_a_provider_that_ignores_max_tokens_overshoots_by_at_most_the_calls_in_flight():
    """The documented bound: past the estimate, a cap is exceeded by at most the excess of the
    calls in flight (at most max_concurrency of them), and no call starts after that."""
    config = AgentModelConfig(name="simulator", max_tokens=MAXIMAL, max_concurrency=4,
                              tokens_per_evaluation=1000)
    models = AgentModels(config, Overspending(config, 10))
    calls: list[ModelCall] = []
    model = models.for_evaluation(calls)
    hammer(model, 32)
    excess = 100 + 10 * MAXIMAL - models.estimate(PROMPT)[0]
    assert spent(calls)[0] <= 1000 + config.max_concurrency * excess
    assert len(calls) <= config.max_concurrency


# -- class 6: one candidate cannot starve another ------------------------------------------------

class Gate:
    """A client whose calls wait, each until the test lets it through; `entered` lists each
    call's first message in the order the calls reached the model."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.entered: list[str] = []
        self.released: set[str] = set()
        self.cond = threading.Condition()

    def complete(self, messages, *, purpose="agent", seed=None, temperature=None,
                 reference=None, json_mode=False) -> Completion:
        tag = messages[0]["content"]
        with self.cond:
            self.entered.append(tag)
            self.cond.notify_all()
            self.cond.wait_for(lambda: tag in self.released)
        attempt = ModelCall(self.spec.name, purpose, 1, 1, 0.0, 0.0, raw_response=tag)
        return Completion(self.spec.name, tag, 1, 1, 0.0, 0.0, (attempt,))

    def release(self, tag: str) -> None:
        with self.cond:
            self.released.add(tag)
            self.cond.notify_all()

    def wait_entered(self, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.entered) >= n, timeout=60), self.entered


def waiting(models: AgentModels, n: int) -> None:
    """Until `n` calls wait for a slot (the slots notify on every change)."""
    slots = models.slots
    with slots.changed:
        assert slots.changed.wait_for(lambda: slots.waiting() >= n, timeout=60)


def start_calls(model: EvaluationModel, tags: list[str]) -> list[threading.Thread]:
    threads = [threading.Thread(target=model, args=([{"role": "user", "content": t}],))
               for t in tags]
    for thread in threads:
        thread.start()
    return threads


def test_a_candidates_threads_leave_another_evaluation_its_fair_share_of_slots():
    """Evaluation A fills every slot and queues more; B asks later. Each freed slot goes to
    the evaluation holding fewest, so B gets the next one, then they alternate at 2 and 2
    (the old single pool served A's earlier waiters first: B waited for all of them)."""
    config = AgentModelConfig(name="simulator", max_concurrency=4)
    gate = Gate(config)
    models = AgentModels(config, gate)
    a, b = models.for_evaluation([]), models.for_evaluation([])
    threads = start_calls(a, [f"A{i}" for i in range(8)])
    gate.wait_entered(4)
    waiting(models, 4)
    threads += start_calls(b, [f"B{i}" for i in range(4)])
    waiting(models, 8)
    assert models.slots.held() == {a: 4}
    for n, first in enumerate(gate.entered[:3], 5):
        gate.release(first)
        gate.wait_entered(n)
    assert [t[0] for t in gate.entered[4:]] == ["B", "B", "A"]
    assert models.slots.held() == {a: 2, b: 2}
    for tag in [f"A{i}" for i in range(8)] + [f"B{i}" for i in range(4)]:
        gate.release(tag)
    for thread in threads:
        thread.join()
    assert models.slots.held() == {}


def test_a_lone_evaluation_still_uses_every_slot():
    config = AgentModelConfig(name="simulator", max_concurrency=4)
    gate = Gate(config)
    models = AgentModels(config, gate)
    a = models.for_evaluation([])
    threads = start_calls(a, [f"A{i}" for i in range(6)])
    gate.wait_entered(4)
    waiting(models, 2)
    assert models.slots.held() == {a: 4}
    for i in range(6):
        gate.release(f"A{i}")
    for thread in threads:
        thread.join()
    assert len(gate.entered) == 6


# -- class 7: the transcript's size ---------------------------------------------------------------

BIG = [{"role": "system", "content": "x" * 20_000},
       {"role": "user", "content": "What is 2 + 2? Answer in the JSON format."}]


def recorded(path, **caps: Any) -> AgentModels:
    config = AgentModelConfig(name="simulator", **caps)
    return AgentModels(config, Recorder(Simulator(config), path))


def lines(path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def ask(model: EvaluationModel, n: int) -> list[str]:
    return [model(BIG, temperature=0.8, reference=4) for _ in range(n)]


def test_an_evaluations_prompts_stop_filling_the_transcript_at_its_cap_and_replay_stays_exact(
        tmp_path):
    """60 calls with 20 kB prompts wrote 1.2 MB; past the cap each call is recorded without
    its prompt (key, answer, figures: all that replay needs), a line marks the cut, the
    evaluation says so, and a replay answers every call exactly as recorded."""
    path = tmp_path / "transcript.jsonl"
    models = recorded(path, transcript_bytes_per_evaluation=100_000)
    calls: list[ModelCall] = []
    model = models.for_evaluation(calls)
    answers = ask(model, 60)
    records = lines(path)
    full = [r for r in records if r.get("messages")]
    assert sum(len(json.dumps(r)) + 1 for r in full) <= 100_000 and len(full) == 4
    assert path.stat().st_size < 100_000 + 60 * 1_000
    cuts = [r for r in records if "cut" in r]
    assert len(cuts) == 1 and "100,000" in cuts[0]["cut"]
    assert model.transcript_cut is not None and "100,000" in model.transcript_cut

    again = AgentModels(models.config, Replayer(models.config, path)).for_evaluation([])
    assert ask(again, 60) == answers
    index = TranscriptIndex(path)  # a call's prompt is found by its id: none past the cut
    exchanges = [index.exchange(call.call_id) for call in calls]
    assert all(e is not None for e in exchanges)
    assert [e.messages is not None for e in exchanges] == [True] * 4 + [False] * 56


def test_the_campaigns_transcript_cap_holds_across_evaluations_and_resumes(tmp_path):
    path = tmp_path / "transcript.jsonl"
    first = recorded(path, transcript_bytes=180_000)
    answers = [ask(first.for_evaluation([]), 4) for _ in range(2)]
    resumed = recorded(path, transcript_bytes=180_000)  # a resumed campaign: the file counts
    late = resumed.for_evaluation([])
    answers.append(ask(late, 4))
    full = [r for r in lines(path) if r.get("messages")]
    assert len(full) == 8 and late.transcript_cut is not None
    assert "180,000" in late.transcript_cut
    replay = AgentModels(first.config, Replayer(first.config, path))
    assert [ask(replay.for_evaluation([]), 4) for _ in range(3)] == answers
