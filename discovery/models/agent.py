"""The agent model: what candidate agents (and memories) call over the model channel.

ADAS searched with a strong meta model and a cheap agent model, so the two are configured
apart: `[[models]]` propose programs, `[agent_model]` answers the programs' own calls. The
candidate asks inside the sandbox; the task's trusted oracle passes the request here, where it
is checked against the evaluation's and the campaign's budgets (calls, tokens, cost), sent
through the same clients as the meta model's (litellm, embedded, scripted, the simulator;
recorded to the transcript and replayed from it), capped at `max_concurrency` calls in flight,
and recorded as a model call of purpose `agent` attributed to the evaluated program.
"""

import hashlib
import json
import threading
from collections import Counter
from typing import Any

from pydantic import Field

from archive.records import ModelCall
from discovery.models.base import (
    EMBEDDED,
    CallFailed,
    ModelClient,
    ModelError,
    ModelSpec,
    one_line,
)
from evaluators.agent_model import AgentModelError

PURPOSE = "agent"


class AgentModelConfig(ModelSpec):
    """`[agent_model]`: the model the candidates' agents call (any `[[models]]` key), and what
    they may spend."""

    temperature: float = 0.5
    """Sampling temperature when the agent does not name one (ADAS: 0.5)."""
    max_concurrency: int = Field(16, ge=1)
    """Agent calls in flight at once (questions are answered in parallel)."""
    calls_per_evaluation: int = Field(2000, ge=1)
    """Calls one evaluation may make; past it each call is refused with that reason."""
    tokens_per_evaluation: int | None = Field(None, ge=1)
    """Tokens (in + out) one evaluation may spend."""
    cost_per_evaluation: float | None = Field(None, gt=0)
    """Dollars one evaluation may spend."""
    calls: int | None = Field(None, ge=1)
    """Agent calls over the whole campaign."""
    tokens: int | None = Field(None, ge=1)
    """Agent tokens over the whole campaign."""
    cost: float | None = Field(None, gt=0)
    """Agent dollars over the whole campaign (`[budgets]` tokens and cost cap all models
    together, the agent model included)."""


def resolve_agent(config: AgentModelConfig) -> AgentModelConfig:
    """As `models.resolve`: the embedded model's own limits (short answers, one call at a
    time) for every field the config did not set; the temperature stays the agent's."""
    if config.name != EMBEDDED:
        return config
    from discovery.models.embedded import DEFAULT_SPEC

    return AgentModelConfig.model_validate(
        {**DEFAULT_SPEC.model_dump(exclude={"temperature", "edit_mix"}),
         **config.model_dump(include=config.model_fields_set)})


class _Spending:
    """Calls, tokens and cost against caps; `reserve` counts a call before it is made, so
    concurrent calls cannot all pass a check that only one of them fits."""

    def __init__(self, what: str, calls: int | None, tokens: int | None, cost: float | None,
                 spent: tuple[int, int, float] = (0, 0, 0.0)):
        self.what, self.caps = what, (calls, tokens, cost)
        self.calls, self.tokens, self.cost = spent

    def over(self) -> str | None:
        calls, tokens, cost = self.caps
        if calls is not None and self.calls >= calls:
            return f"the {self.what} budget of {calls:,} agent-model calls is spent"
        if tokens is not None and self.tokens >= tokens:
            return f"the {self.what} budget of {tokens:,} agent-model tokens is spent"
        if cost is not None and self.cost >= cost:
            return f"the {self.what} budget of ${cost:.2f} for the agent model is spent"
        return None

    def add(self, call: ModelCall) -> None:
        self.tokens += call.tokens_in + call.tokens_out
        self.cost += call.cost


class AgentModels:
    """One per campaign (or `discover eval`): the client, the endpoint's concurrency cap and
    the campaign's running totals; `for_evaluation` hands out each evaluation's budgeted
    model."""

    def __init__(self, config: AgentModelConfig, client: ModelClient,
                 spent: tuple[int, int, float] = (0, 0, 0.0)):
        self.config, self.client = config, client
        self.slots = threading.BoundedSemaphore(config.max_concurrency)
        self.lock = threading.Lock()
        self.campaign = _Spending("campaign", config.calls, config.tokens, config.cost, spent)

    def for_evaluation(self, calls: list[ModelCall]) -> "EvaluationModel":
        """The model of one evaluation; its calls are appended to `calls` (for the archive)."""
        return EvaluationModel(self, calls)


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

    def __call__(self, messages: list[dict[str, str]], *, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> str:
        models = self.models
        temperature = models.config.temperature if temperature is None else temperature
        key = hashlib.sha256(json.dumps([messages, temperature]).encode()).hexdigest()
        with models.lock:
            reason = self.spending.over() or models.campaign.over()
            if reason is not None:
                self.refused = self.refused or reason
                raise AgentModelError(reason)
            self.spending.calls += 1
            models.campaign.calls += 1
            seed = self.asked[key]
            self.asked[key] += 1
        with models.slots:
            try:
                completion = models.client.complete(messages, purpose=PURPOSE, seed=seed,
                                                    temperature=temperature,
                                                    reference=reference, json_mode=json_mode)
            except CallFailed as exc:
                self._record(exc.attempts)
                raise AgentModelError(f"the agent model failed: {exc}") from None
            except ModelError as exc:
                self._record(exc.attempts)
                raise AgentModelError(f"the agent model cannot be used: {exc}") from None
            except Exception as exc:  # a client bug must not take the evaluator down
                raise AgentModelError(f"the agent model failed: {one_line(exc)}") from None
        self._record(completion.attempts)
        return completion.text

    def _record(self, attempts: tuple[ModelCall, ...] | list[ModelCall]) -> None:
        with self.models.lock:
            for attempt in attempts:
                self.spending.add(attempt)
                self.models.campaign.add(attempt)
                self.calls.append(attempt)
