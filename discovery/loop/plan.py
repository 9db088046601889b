"""What one iteration is: its plan (the operator, the parent, the model and how it is asked),
and its outcome (the child's code, its evaluation, the model calls it cost). The operators and
edit formats are enums whose values are the strings the archive records."""

from dataclasses import dataclass, field
from enum import StrEnum

from archive import EvaluationResult, ModelCall, Program


class Op(StrEnum):
    """How an iteration makes its child."""

    SEED = "seed"
    """The task's seed program (evaluated once; later seeds copy that evaluation)."""
    RESTART = "restart"
    """The seed again, as a fresh start of an island."""
    TUNE = "tune"
    """CMA-ES over the parent's float constants: no model call."""
    LLM = "llm"
    """A model proposes the child."""
    MIGRATION = "migration"
    """An island's best copied into the next island."""
    RESEED = "reseed"
    """The global best copied into a stuck island."""
    BASELINE = "baseline"
    """One of the task's baselines, evaluated once at the start (`seed_baselines`)."""


class EditFormat(StrEnum):
    """How a model is asked for a child."""

    REWRITE = "rewrite"
    """The whole EVOLVE-BLOCK, rewritten."""
    DIFF = "diff"
    """SEARCH/REPLACE blocks inside the EVOLVE-BLOCK."""
    CROSSOVER = "crossover"
    """A whole block that combines two parents."""


@dataclass
class Plan:
    n: int
    island: int
    op: Op
    parent: Program | None = None
    inspirations: list[Program] = field(default_factory=list)
    model: str | None = None
    edit_format: EditFormat = EditFormat.REWRITE
    """For a model proposal: how the model is asked (crossover: inspirations[0] is the second
    parent)."""
    neighbours: list[Program] = field(default_factory=list)
    """The island's best programs, for the novelty check."""
    baseline: str | None = None
    """For Op.BASELINE: which of the task's baselines."""
    analysis: str | None = None
    """For a model proposal with `edits.analysis`: the model's analysis of the parent's
    episodes, shown in the proposal prompt."""

    @property
    def copies(self) -> bool:
        """The child is the parent, evaluation and all, with no sandbox run: a migration, a
        reseed, or a seed or restart once the archive holds the seed's evaluation."""
        return self.op in (Op.MIGRATION, Op.RESEED) or (
            self.op in (Op.SEED, Op.RESTART) and self.parent is not None)


@dataclass
class Outcome:
    plan: Plan
    code: str | None = None
    results: list[EvaluationResult] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    answer: str | None = None
    conversation: list[dict[str, str]] = field(default_factory=list)
    """The proposal's exchange with its model, for debug turns to continue."""
    reason: str | None = None
    """Why no program came of this iteration (a failed edit or model call)."""
    turns: int = 0
    evaluations: int = 0
    """Sandbox evaluations spent (a tuning iteration spends several, records its best)."""
    fatal: str | None = None
    """What stops the campaign, met on this iteration: a bug of the task (its scorer raised) or
    a model the user must fix (a revoked key)."""

    @property
    def needs_evaluation(self) -> bool:
        return self.plan.op is Op.TUNE or (self.code is not None and not self.plan.copies)
