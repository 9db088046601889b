"""What one iteration is: its plan (the operator, the parent, the model and how it is asked),
and its outcome (the child's code, its evaluation, the model calls it cost). The operators and
edit formats are enums whose values are the strings the archive records. A proposal (the plan
and what its model answered, before any evaluation) is written to the archive as plain data
(`Outcome.record`) and read back (`Outcome.restore`), so a resumed campaign evaluates it instead
of asking again."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

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
    in_flight: frozenset[str] = frozenset()
    """Code hashes of the children proposed before this plan was made and not yet committed,
    as far as the plan can know them (the proposals the last commit recorded): a proposal equal
    to one is a duplicate, as one equal to an archived program is."""

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

    def record(self, conversation: bool) -> dict[str, Any]:
        """The proposal as plain data (programs by id): what `restore` needs to continue it.
        `conversation`: keep the exchange with the model (only debug turns read it)."""
        plan = self.plan
        return {"n": plan.n, "island": plan.island, "op": plan.op,
                "parent": plan.parent.id if plan.parent else None,
                "inspirations": [p.id for p in plan.inspirations], "model": plan.model,
                "edit_format": plan.edit_format, "neighbours": [p.id for p in plan.neighbours],
                "baseline": plan.baseline, "analysis": plan.analysis, "code": self.code,
                "calls": [asdict(call) for call in self.calls], "answer": self.answer,
                "conversation": self.conversation if conversation else [],
                "reason": self.reason, "turns": self.turns}

    @classmethod
    def restore(cls, record: dict[str, Any], program: Callable[[int], Program]) -> "Outcome":
        """A proposal `record` made, its programs read back by id."""
        plan = Plan(record["n"], record["island"], Op(record["op"]),
                    program(record["parent"]) if record["parent"] is not None else None,
                    [program(i) for i in record["inspirations"]], record["model"],
                    EditFormat(record["edit_format"]), [program(i) for i in record["neighbours"]],
                    record["baseline"], record["analysis"])
        return cls(plan, record["code"], calls=[ModelCall(**c) for c in record["calls"]],
                   answer=record["answer"], conversation=record["conversation"],
                   reason=record["reason"], turns=record["turns"])
