"""The agent model: what candidate agents (and memories) call over the model channel.

ADAS searched with a strong meta model and a cheap agent model, so the two are configured
apart: `[[models]]` propose programs, `[agent_model]` answers the programs' own calls. The
candidate asks inside the sandbox; the task's trusted oracle passes the request here, where it
is admitted against the evaluation's and the campaign's budgets (calls, tokens, cost: each call
reserves its bound before it is made and settles with its real figures after), given one of
`max_concurrency` slots shared fairly between the evaluations asking at once, sent through the
same clients as the meta model's (litellm, embedded, scripted, the simulator; replayed from a
transcript), recorded to the transcript within its byte caps, and recorded as a model call of
purpose `agent` attributed to the evaluated program. A candidate's `embed` calls take the same
path to the agent model's embedding model (`AgentModelConfig.embedding`: one through litellm,
or the offline lexical embedding), counted in the same budgets and recorded with purpose
`embed`; they are not written to the transcript (a replay embeds again: the lexical embedding
gives the same vectors, a provider's may differ).

A candidate controls how many calls it makes, how long their prompts are and how many threads
make them; none of that may let it spend past a cap, slow another candidate's evaluation beside
it, or fill the disk.
"""

import contextlib
import hashlib
import itertools
import json
import threading
from collections import Counter, deque
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from archive.records import ModelCall
from discovery.models.base import (
    EMBEDDED,
    CallFailed,
    Completion,
    Messages,
    ModelClient,
    ModelError,
    ModelSpec,
    one_line,
    price,
)
from discovery.models.lexical import LEXICAL, LexicalEmbedder
from discovery.models.litellm_client import LiteLLMClient
from discovery.models.transcripts import Recorder, stamp
from evaluators.agent_model import AgentModelError, checked_vectors

PURPOSE = "agent"
EMBED_PURPOSE = "embed"
MESSAGE_TOKENS = 8
"""Tokens a chat template may add around one message (OpenAI: 3 or 4, Llama 3: 5), with room;
counted once more for the reply's header."""


class AgentModelConfig(ModelSpec):
    """`[agent_model]`: the model the candidates' agents call (any `[[models]]` key), and what
    they may spend."""

    temperature: float = 0.5
    """Sampling temperature when the agent does not name one (ADAS: 0.5)."""
    max_concurrency: int = Field(16, ge=1)
    """Agent calls in flight at once, over all evaluations; a freed slot goes to the waiting
    evaluation that holds fewest, so one candidate's threads cannot crowd out another's."""
    calls_per_evaluation: int = Field(2000, ge=1)
    """Calls one evaluation may make; past it each call is refused with that reason."""
    tokens_per_evaluation: int | None = Field(None, ge=1)
    """Tokens (in + out) one evaluation may spend. A call is admitted only when its bound
    (its prompt's UTF-8 bytes plus a few per message, plus `max_tokens`) fits beside what is
    spent and what the calls in flight may spend."""
    cost_per_evaluation: float | None = Field(None, gt=0)
    """Dollars one evaluation may spend (a call's bound, at the model's price, must fit)."""
    calls: int | None = Field(None, ge=1)
    """Agent calls over the whole campaign."""
    tokens: int | None = Field(None, ge=1)
    """Agent tokens over the whole campaign."""
    cost: float | None = Field(None, gt=0)
    """Agent dollars over the whole campaign (`[budgets]` tokens and cost cap all models
    together, the agent model included)."""
    transcript_bytes_per_evaluation: int | None = Field(4_000_000, ge=0)
    """Bytes of whole exchanges (prompt and answer) one evaluation writes to transcript.jsonl;
    past it, its calls are recorded without their prompts (request key, answer, figures: all a
    replay needs), and a line in the transcript marks the cut. None: no cap."""
    embedding: ModelSpec = Field(default_factory=lambda: ModelSpec(name=LEXICAL))
    """The model behind the candidates' `embed(texts)`: an embedding model as litellm names it
    (`openai/text-embedding-3-small`; `openai/<name>` with `api_base` for a self-hosted
    server), or `lexical` (the default): hashed character-trigram vectors computed here,
    offline, free; a lexical embedding (shared spellings), not a neural one. Its calls count in
    the calls, tokens (the texts' UTF-8 bytes, bounded) and cost above."""
    embed_texts_per_evaluation: int = Field(20_000, ge=1)
    """Texts one evaluation may embed (at most 256 a call, 8,000 characters each); past it each
    `embed` is refused with that reason."""
    transcript_bytes: int | None = Field(1_000_000_000, ge=0)
    """The size of transcript.jsonl past which agent calls are recorded without their prompts
    (as above), over the whole campaign, resumes included. None: no cap."""


def resolve_agent(config: AgentModelConfig) -> AgentModelConfig:
    """As `models.resolve`: the embedded model's own limits (short answers, one call at a
    time) for every field the config did not set; the temperature stays the agent's."""
    if config.name != EMBEDDED:
        return config
    from discovery.models.embedded import DEFAULT_SPEC

    return AgentModelConfig.model_validate(
        {**DEFAULT_SPEC.model_dump(exclude={"temperature", "edit_mix"}),
         **config.model_dump(include=config.model_fields_set)})


def task_budget(config: AgentModelConfig, calls: int | None) -> AgentModelConfig:
    """The config with the task's `agent_calls_per_evaluation` (`calls`) where the user set no
    `calls_per_evaluation`: a memory task's stream plays thousands of episodes, each step one
    agent call, past the generic default; a setting of the user's is kept as it is."""
    if calls is None or "calls_per_evaluation" in config.model_fields_set:
        return config
    return config.model_copy(update={"calls_per_evaluation": calls})


def prompt_bound(messages: Messages) -> int:
    """At most how many tokens `messages` take: a byte-level BPE tokenizer (GPT, Llama 3, Qwen,
    Mistral's Tekken; SentencePiece with byte fallback) never makes more tokens than the text
    has UTF-8 bytes, and a chat template adds a few per message."""
    return sum(len(m["content"].encode()) + MESSAGE_TOKENS for m in messages) + MESSAGE_TOKENS


class _Spending:
    """Calls, tokens and cost against caps. A call is counted when admitted, and its bound is
    reserved until it settles with the real figures, so concurrent calls cannot all pass a
    check that only some of them fit: what is spent stays within each cap as long as no call
    spends more than its bound."""

    def __init__(self, what: str, calls: int | None, tokens: int | None, cost: float | None,
                 spent: tuple[int, int, float] = (0, 0, 0.0)):
        self.what, self.caps = what, (calls, tokens, cost)
        self.calls, self.tokens, self.cost = spent
        self.reserved: tuple[int, float] = (0, 0.0)
        """Tokens and dollars the calls in flight may still spend."""

    def refusal(self, tokens: int, cost: float) -> str | None:
        """Why a call of this bound cannot be made, even once the calls in flight settle."""
        calls_cap, tokens_cap, cost_cap = self.caps
        if calls_cap is not None and self.calls >= calls_cap:
            return f"the {self.what} budget of {calls_cap:,} agent-model calls is spent"
        if tokens_cap is not None and self.tokens + tokens > tokens_cap:
            return (f"the {self.what} budget of {tokens_cap:,} agent-model tokens cannot take "
                    f"this call ({self.tokens:,} spent, up to {tokens:,} asked)")
        if cost_cap is not None and self.cost + cost > cost_cap:
            return (f"the {self.what} budget of ${cost_cap:g} for the agent model cannot take "
                    f"this call (${self.cost:.4f} spent, up to ${cost:.4f} asked)")
        return None

    def fits(self, tokens: int, cost: float) -> bool:
        """Whether a call of this bound fits beside what the calls in flight may spend."""
        _, tokens_cap, cost_cap = self.caps
        reserved_tokens, reserved_cost = self.reserved
        return (tokens_cap is None or self.tokens + reserved_tokens + tokens <= tokens_cap) \
            and (cost_cap is None or self.cost + reserved_cost + cost <= cost_cap)

    def reserve(self, tokens: int, cost: float) -> None:
        self.calls += 1
        self.reserved = (self.reserved[0] + tokens, self.reserved[1] + cost)

    def settle(self, bound: tuple[int, float], attempts: tuple[ModelCall, ...]) -> None:
        """The call's reservation gives way to what its attempts really spent."""
        self.reserved = (self.reserved[0] - bound[0], max(0.0, self.reserved[1] - bound[1]))
        for attempt in attempts:
            self.tokens += attempt.tokens_in + attempt.tokens_out
            self.cost += attempt.cost


class FairSlots:
    """`n` slots for calls in flight, shared by the evaluations asking at once and served
    fairly: a freed slot is handed to the waiting evaluation that holds fewest (among equals,
    the one whose call has waited longest). One evaluation alone uses every slot; beside
    another, its threads queue behind that one's calls instead of ahead of them, so a
    candidate's score cannot depend on how many threads the candidate beside it runs.

    Each waiting call sleeps on its own event and a release wakes only the call it hands its
    slot to, so a flood of waiting threads costs nothing per call but the choice among the
    evaluations waiting."""

    def __init__(self, n: int):
        self.free = n
        self.changed = threading.Condition()
        """Guards the slots; notified on every change, for whoever watches `held`/`waiting`."""
        self._held: Counter[object] = Counter()
        self._queues: dict[object, deque[tuple[int, threading.Event]]] = {}
        """Per evaluation, its calls waiting for a slot: (arrival ticket, wake-up event)."""
        self._tickets = itertools.count()

    @contextlib.contextmanager
    def slot(self, owner: object) -> Iterator[None]:
        """Hold one slot for `owner`'s call while the block runs."""
        with self.changed:
            handed = None
            if self.free > 0:  # none free while any call waits: releases hand theirs on
                self.free -= 1
                self._held[owner] += 1
            else:
                handed = threading.Event()
                self._queues.setdefault(owner, deque()).append((next(self._tickets), handed))
            self.changed.notify_all()
        if handed is not None:
            handed.wait()
        try:
            yield
        finally:
            self._release(owner)

    def _release(self, owner: object) -> None:
        """Hand the slot to the next in line, or free it."""
        with self.changed:
            self._held[owner] -= 1
            if not self._held[owner]:
                del self._held[owner]  # a finished evaluation leaves nothing behind
            if self._queues:
                after = min(self._queues,
                            key=lambda o: (self._held[o], self._queues[o][0][0]))
                queue = self._queues[after]
                _, handed = queue.popleft()
                if not queue:
                    del self._queues[after]
                self._held[after] += 1
                handed.set()
            else:
                self.free += 1
            self.changed.notify_all()

    def held(self) -> dict[object, int]:
        """Slots held now, per evaluation."""
        with self.changed:
            return dict(self._held)

    def waiting(self) -> int:
        """Calls waiting for a slot now."""
        with self.changed:
            return sum(len(queue) for queue in self._queues.values())


class AgentModels:
    """One per campaign (or `discover eval`): the client, the fair slots, the campaign's running
    totals; `for_evaluation` hands out each evaluation's budgeted model."""

    def __init__(self, config: AgentModelConfig, client: ModelClient,
                 spent: tuple[int, int, float] = (0, 0, 0.0)):
        self.config, self.client = config, client
        self.slots = FairSlots(config.max_concurrency)
        self.settled = threading.Condition()
        """Guards the spending; notified whenever a call settles."""
        self.campaign = _Spending("campaign", config.calls, config.tokens, config.cost, spent)
        self.embedder = LexicalEmbedder() if config.embedding.name == LEXICAL \
            else LiteLLMClient(config.embedding)
        """Answers the candidates' `embed` calls (`embed(texts, purpose=...)`)."""

    def for_evaluation(self, calls: list[ModelCall]) -> "EvaluationModel":
        """The model of one evaluation; its calls are appended to `calls` (for the archive)."""
        return EvaluationModel(self, calls)

    def estimate(self, messages: Messages) -> tuple[int, float]:
        """The most a call with these messages may spend: its prompt's bound plus `max_tokens`,
        and that at the model's price (none known: free, as the clients charge it)."""
        tokens_in, tokens_out = prompt_bound(messages), self.config.max_tokens
        return tokens_in + tokens_out, price(self.config, tokens_in, tokens_out)

    def estimate_embedding(self, texts: list[str]) -> tuple[int, float]:
        """The most embedding `texts` may spend: their UTF-8 bytes (a byte-level tokenizer's
        bound) and one token each for what a model adds, at the embedding model's price."""
        spec = self.config.embedding
        tokens = sum(len(text.encode()) + 1 for text in texts)
        return tokens, 0.0 if spec.name == LEXICAL else price(spec, tokens, 0)


class EvaluationModel:
    """evaluators.agent_model.AgentModel for one evaluation."""

    def __init__(self, models: AgentModels, calls: list[ModelCall]):
        self.models, self.calls = models, calls
        config = models.config
        self.spending = _Spending("evaluation", config.calls_per_evaluation,
                                  config.tokens_per_evaluation, config.cost_per_evaluation)
        self.asked: Counter[str] = Counter()
        """How often each exact request was made: the k-th identical request is seeded k, so
        sampled answers differ from one another and replay in the same order."""
        self.refused: str | None = None
        """The first budget that refused a call (the evaluation records it)."""
        self.transcribed = 0
        """Bytes of whole exchanges this evaluation wrote to the transcript."""
        self.transcript_cut: str | None = None
        """Why later exchanges were recorded without their prompts, once they were."""
        self.embedded = 0
        """Texts this evaluation asked to embed (its calls admitted)."""
        self.dimension: int | None = None
        """The embedding model's dimension, fixed by its first answer."""

    def __call__(self, messages: list[dict[str, str]], *, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> str:
        """The answer to one of the candidate's calls (`messages` checked by
        evaluators.agent_model: at most 64 messages, 200,000 characters), or AgentModelError.

        Invariants, however many threads call at once: the evaluation's and the campaign's
        calls stay within their caps; tokens and cost stay within theirs as long as no call
        spends more than its bound (`AgentModels.estimate`), else by at most the excess of the
        calls in flight; the call waits for a slot behind no more than its fair share of
        another evaluation's calls; and its record in the transcript keeps within the byte
        caps, its prompt left out past them."""
        models = self.models
        temperature = models.config.temperature if temperature is None else temperature
        bound = models.estimate(messages)
        seed = self._admit(hashlib.sha256(json.dumps([messages, temperature]).encode())
                           .hexdigest(), bound)
        client = models.client
        recorder = client if isinstance(client, Recorder) else None
        attempts: list[ModelCall] = []
        try:
            with models.slots.slot(self), _answering(attempts):
                completion = (client if recorder is None else recorder.inner).complete(
                    messages, purpose=PURPOSE, seed=seed, temperature=temperature,
                    reference=reference, json_mode=json_mode)
            if recorder is not None:  # the archived call names its transcript line
                completion = stamp(completion)
            attempts[:] = completion.attempts
            if recorder is not None:
                try:
                    self._transcribe(recorder, messages, seed, temperature, json_mode,
                                     completion)
                except OSError as exc:  # a full disk: as the meta model's recorder, a failure
                    raise AgentModelError(f"the transcript cannot be written: "
                                          f"{one_line(exc)}") from None
        finally:
            self._settle(bound, tuple(attempts))
        return completion.text

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text from the embedding model (`texts` checked by
        evaluators.agent_model: at most 256, 8,000 characters each), or AgentModelError: the
        evaluation's texts cap, then the same admission, slots and settling as a chat call;
        the answer checked (finite numbers, one dimension for the whole evaluation)."""
        models = self.models
        with models.settled:
            cap = models.config.embed_texts_per_evaluation
            if self.embedded + len(texts) > cap:
                reason = (f"the evaluation budget of {cap:,} texts to embed cannot take "
                          f"{len(texts)} more ({self.embedded:,} embedded)")
                self.refused = self.refused or reason
                raise AgentModelError(reason)
            self.embedded += len(texts)
        bound = models.estimate_embedding(texts)
        self._admit(hashlib.sha256(json.dumps(texts).encode()).hexdigest(), bound)
        attempts: list[ModelCall] = []
        try:
            with models.slots.slot(self), _answering(attempts):
                vectors, done = models.embedder.embed(texts, purpose=EMBED_PURPOSE)
            attempts[:] = done
            with models.settled:
                self.dimension = checked_vectors(vectors, len(texts), self.dimension)
        finally:
            self._settle(bound, tuple(attempts))
        return vectors

    def _admit(self, key: str, bound: tuple[int, float]) -> int:
        """Count the call and reserve its bound, waiting while the calls in flight may still
        spend what it needs; refuse it (AgentModelError, the reason recorded) when it cannot
        fit even once they settle. Its seed: how often this exact request came before."""
        models = self.models
        with models.settled:
            while True:
                reason = self.spending.refusal(*bound) or models.campaign.refusal(*bound)
                if reason is not None:
                    self.refused = self.refused or reason
                    raise AgentModelError(reason)
                if self.spending.fits(*bound) and models.campaign.fits(*bound):
                    break
                models.settled.wait()
            self.spending.reserve(*bound)
            models.campaign.reserve(*bound)
            seed = self.asked[key]
            self.asked[key] += 1
            return seed

    def _settle(self, bound: tuple[int, float], attempts: tuple[ModelCall, ...]) -> None:
        with self.models.settled:
            self.spending.settle(bound, attempts)
            self.models.campaign.settle(bound, attempts)
            self.calls.extend(attempts)
            self.models.settled.notify_all()

    def _transcribe(self, recorder: Recorder, messages: Messages, seed: int,
                    temperature: float, json_mode: bool, completion: Completion) -> None:
        """The whole exchange while this evaluation's and the campaign's byte caps hold;
        past either, the exchange without its prompt (replay needs none), after a line that
        marks the cut (once per evaluation)."""
        config = self.models.config
        whole = recorder.line(messages, seed, temperature, json_mode, completion)
        with self.models.settled:
            cap = config.transcript_bytes_per_evaluation
            fits = cap is None or self.transcribed + len(whole) <= cap
            if fits:
                self.transcribed += len(whole)
        if fits and recorder.append(whole, limit=config.transcript_bytes):
            return
        reason = (f"the evaluation's {cap:,} bytes of agent transcript" if not fits else
                  f"the campaign's {config.transcript_bytes:,} bytes of transcript")
        with self.models.settled:
            first = self.transcript_cut is None
            self.transcript_cut = self.transcript_cut or \
                f"{reason} are written: later prompts are not recorded, their answers are"
            cut = self.transcript_cut
        short = recorder.line(messages, seed, temperature, json_mode, completion,
                              prompt=False)
        recorder.append((recorder.marker(cut) if first else b"") + short)


@contextlib.contextmanager
def _answering(attempts: list[ModelCall]) -> Iterator[None]:
    """A client's failure as the AgentModelError the candidate is told, its attempts kept in
    `attempts` (to settle the budgets and be archived)."""
    try:
        yield
    except CallFailed as exc:
        attempts.extend(exc.attempts)
        raise AgentModelError(f"the agent model failed: {exc}") from None
    except ModelError as exc:
        attempts.extend(exc.attempts)
        raise AgentModelError(f"the agent model cannot be used: {exc}") from None
    except Exception as exc:  # a client bug must not take the evaluator down
        raise AgentModelError(f"the agent model failed: {one_line(exc)}") from None
