"""What every model client shares: the model spec a campaign config names, the completion and
error types, the client protocol and the running budget. No client is imported here, so the
clients (litellm, embedded, transcripts, test doubles) import this and never each other.
"""


import os
import threading
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from archive.records import ModelCall

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

EMBEDDED = "embedded"
Messages = list[dict[str, str]]


class ModelSpec(BaseModel):
    """One model as a campaign config names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = EMBEDDED
    """The model as litellm names it (`provider/model`, e.g. anthropic/claude-sonnet-4-5),
    `embedded` for the offline default, or `scripted:<file>` for answers read from a file."""
    weight: float = Field(1.0, gt=0)
    """Prior weight in the ensemble: untried models are tried first, by weight."""
    api_base: str | None = None
    """The endpoint of an OpenAI-compatible server (vLLM, Ollama, llama.cpp)."""
    api_key_env: str | None = None
    """The environment variable that holds the key (default: the provider's usual one)."""
    timeout_s: float = Field(120.0, gt=0)
    """Seconds one call may take before it is retried."""
    max_concurrency: int = Field(4, ge=1)
    """Calls in flight at once to this model's provider (shared by models on one endpoint)."""
    max_retries: int = Field(4, ge=0)
    """Retries of a call that failed with a retryable error (429, 5xx, timeouts)."""
    backoff_s: float = Field(1.0, ge=0)
    """First retry delay; doubled each retry, with full jitter, at least the server's
    Retry-After."""
    temperature: float = 0.7
    """Sampling temperature."""
    max_tokens: int = Field(2048, gt=0)
    """Longest answer, in tokens."""
    price_in_per_mtok: float | None = None
    """Dollars per million input tokens, for endpoints litellm has no price for."""
    price_out_per_mtok: float | None = None
    """Dollars per million output tokens, for endpoints litellm has no price for."""
    edit_mix: dict[Literal["rewrite", "diff", "crossover"], float] = Field(
        default_factory=lambda: {"rewrite": 0.5, "diff": 0.4, "crossover": 0.1})
    """How this model's proposals are asked for: whole-block rewrites, SEARCH/REPLACE diffs,
    crossovers of two parents (weights)."""


class ModelError(Exception):
    """A configuration problem the user must fix (unknown model, missing or revoked key): one
    line. `attempts` holds the failed calls that found it, for the campaign to record."""

    def __init__(self, message: str, attempts: tuple[ModelCall, ...] = ()):
        super().__init__(message)
        self.attempts = attempts


class CallFailed(Exception):
    """Every attempt of a call failed; `attempts` holds what to record."""

    def __init__(self, message: str, attempts: list[ModelCall]):
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class Completion:
    model: str
    text: str
    tokens_in: int
    tokens_out: int
    cost: float
    latency_s: float
    attempts: tuple[ModelCall, ...]
    """Every attempt, the successful last one included."""


class ModelClient(Protocol):
    spec: ModelSpec

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        """`temperature`: this call's, instead of the spec's (an agent sampling several
        answers); `reference`: what only the trusted side knows (a question's gold answer),
        which real models ignore and the CI simulator answers from; `json_mode`: the answer
        must be a JSON object (grammar-constrained on the embedded model, `response_format`
        where the provider takes it)."""
        ...


def price(spec: ModelSpec, tokens_in: int, tokens_out: int) -> float:
    """What a call of these token counts costs: the config's prices when it sets one, else
    litellm's local price table (tiered prices included), else nothing (a self-hosted or
    unmapped model, as the clients charge it)."""
    if spec.price_in_per_mtok is not None or spec.price_out_per_mtok is not None:
        return ((spec.price_in_per_mtok or 0) * tokens_in
                + (spec.price_out_per_mtok or 0) * tokens_out) / 1e6
    if spec.name in (EMBEDDED, "simulator") or spec.name.startswith("scripted:"):
        return 0.0  # they run here (the embedded model, the test doubles)
    import litellm

    try:  # it raises for models it has no price for
        return float(sum(litellm.cost_per_token(model=spec.name, prompt_tokens=tokens_in,
                                                completion_tokens=tokens_out)))
    except Exception:
        return 0.0


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


@dataclass
class Budget:
    """Running totals against hard caps; the campaign asks `exhausted()` before each proposal."""

    max_tokens: int | None = None
    max_cost: float | None = None
    tokens: int = 0
    cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, call: ModelCall) -> None:
        """Thread-safe: commits and proposal threads (a prompt mutation) both add."""
        with self._lock:
            self.tokens += call.tokens_in + call.tokens_out
            self.cost += call.cost

    def exhausted(self) -> str | None:
        """Why no new proposal may start, or None."""
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"token budget of {self.max_tokens:,} spent ({self.tokens:,})"
        if self.max_cost is not None and self.cost >= self.max_cost:
            return f"cost budget of ${self.max_cost:.2f} spent (${self.cost:.4f})"
        return None
