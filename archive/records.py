"""The records the archive stores and hands back: plain frozen dataclasses, no database handles."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Campaign:
    name: str
    task: str
    config: dict[str, Any]
    seed: int
    evaluator_version: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class NewProgram:
    """A program as the campaign loop proposes it, before the archive gives it an id."""

    code: str
    parents: tuple[int, ...] = ()
    """Position 0 is the primary parent (the diff is taken against it); more for crossover."""
    inspirations: tuple[int, ...] = ()
    island: int = 0
    generation: int | None = None
    """Defaults to one more than the deepest parent (0 for a seed)."""
    model: str | None = None
    prompt_template: str | None = None
    edit_kind: str | None = None
    """How the code came to be: seed, diff, rewrite, crossover, repair, tune, restart..."""
    edit_text: str | None = None
    """The edit as the model wrote it (SEARCH/REPLACE blocks, a rewrite), before it was applied."""
    language: str = "python"


@dataclass(frozen=True)
class Program:
    id: int
    code: str
    code_hash: str
    language: str
    parents: tuple[int, ...]
    inspirations: tuple[int, ...]
    island: int
    generation: int
    model: str | None
    prompt_template: str | None
    edit_kind: str | None
    edit_text: str | None
    diff: str | None
    created_at: float
    status: str
    """`pending` until the final evaluation, then that evaluation's status."""
    score: float | None
    evaluator_version: str | None
    n_children: int

    @property
    def parent_id(self) -> int | None:
        return self.parents[0] if self.parents else None


@dataclass(frozen=True)
class EvaluationResult:
    """One stage of evaluating a program, as the evaluator reports it."""

    stage: str
    status: str
    score: float | None = None
    public_metrics: dict[str, Any] = field(default_factory=dict)
    """Shown to models in later prompts."""
    private_metrics: dict[str, Any] = field(default_factory=dict)
    """Never shown to models (held-out games, hidden tests); for reports only."""
    reason: str | None = None
    """One line: why the stage did not pass (the key that failures are grouped by)."""
    error_tail: str | None = None
    duration_s: float | None = None
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation(EvaluationResult):
    id: int = 0
    program_id: int = 0
    evaluator_version: str = ""
    final: bool = True
    created_at: float = 0.0


@dataclass(frozen=True)
class ModelCall:
    model: str
    purpose: str
    """What the call was for: propose, repair, scratchpad, reflexion..."""
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    latency_s: float | None = None
    raw_response: str | None = None
    error: str | None = None
    program_id: int | None = None


@dataclass(frozen=True)
class ModelUsage:
    model: str
    calls: int
    errors: int
    tokens_in: int
    tokens_out: int
    cost: float
    mean_latency_s: float | None


@dataclass(frozen=True)
class Summary:
    """What `discover runs` shows for one campaign."""

    campaign: Campaign
    counts: dict[str, int]
    """Programs by status, `pending` included; every status is present."""
    best: Program | None
    tokens_in: int
    tokens_out: int
    cost: float

    @property
    def total(self) -> int:
        return sum(self.counts.values())
