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


COPY_KINDS = frozenset({"seed", "restart", "migration", "reseed"})
"""Edit kinds that copy a program when it has a parent (a seed without one is the task's)."""


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
    prompt_variant: int | None = None
    """The prompt variant its proposal was asked with (prompt co-evolution), else None."""

    @property
    def parent_id(self) -> int | None:
        return self.parents[0] if self.parents else None

    @property
    def copy_of(self) -> int | None:
        """The program whose code and evaluation this one copies, or None: a seed or restart
        once the seed is scored, a migration or a reseed (each has a parent, and no edit)."""
        return self.parent_id if self.edit_kind in COPY_KINDS else None

    @property
    def edit_label(self) -> str:
        """How the program came to be, as every command names it: its edit kind, or for a
        copy "copy of #N (seed)", so that no command calls one program by another name."""
        if self.copy_of is not None:
            return f"copy of #{self.copy_of} ({self.edit_kind})"
        return self.edit_kind or "-"


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
    iteration: int | None = None
    """The campaign iteration whose work made the call, program or not (None: the scratchpad,
    the held-out run at a stop, or a call recorded before the archive's schema 2)."""
    call_id: str | None = None
    """The exchange's id in the run's transcript, given by the recorder (or the replayer) that
    wrote it: `discovery.models.transcripts.TranscriptIndex` finds the prompt and answer by it.
    None where no transcript holds the exchange (a failed attempt, transcripts off)."""


@dataclass(frozen=True)
class RecordedCall(ModelCall):
    """A model call as the archive holds it."""

    id: int = 0
    created_at: float = 0.0


@dataclass(frozen=True)
class Iteration:
    """One campaign iteration, whether or not it made a program (`ArchiveReader.iterations`):
    what was planned, what came of it, and what its model calls cost."""

    n: int
    op: str | None
    """The operator (seed, tune, llm, ...); None for an iteration that never committed: its
    model calls were recorded when a model or task problem stopped the campaign, and a resume
    redoes it under the same number."""
    island: int | None
    model: str | None
    edit_format: str | None
    """For a model proposal: rewrite, diff or crossover."""
    parent_id: int | None
    """The program it started from (None for the task's seed, and where the archive predates
    iterations recording it)."""
    inspirations: tuple[int, ...]
    """Programs shown in its prompt besides the parent (for a crossover: the second parent)."""
    program_id: int | None
    """The program it made, None when it made none (a refused edit, a failed model call)."""
    status: str
    """The program's status when it was committed, `no program`, or `unfinished`."""
    score: float | None
    reason: str | None
    """Why it failed: the program's failure reason, or why no program came of it (the edit's
    refusal: "the python code block is never closed")."""
    valid_edit: bool | None
    """For a model proposal: whether its edit applied (None for other operators)."""
    turns: int
    """Model turns of the proposal (1, plus one per repair)."""
    evaluations: int
    """Sandbox evaluations it spent."""
    calls: int
    tokens: int
    cost: float
    created_at: float | None
    """When it was committed (None when it never was)."""

    @property
    def committed(self) -> bool:
        return self.op is not None


@dataclass(frozen=True)
class HeldOut:
    """The held-out stage's result for the best program, measured when a campaign stops
    (`ArchiveReader.held_out`): what the search never saw, beside what it optimised."""

    program_id: int | None
    search_score: float | None
    """The program's score on the search stages (its archived score)."""
    score: float | None
    """Its held-out score; None when the stage did not pass or raised."""
    status: str
    """The held-out stage's status (ok, invalid, crashed, timeout) or `task error`."""
    reason: str | None
    metrics: dict[str, Any]
    """Every `held_out_*` metric, as the stop recorded them."""
    created_at: float

    @classmethod
    def from_metrics(cls, program_id: int | None, search_score: float | None,
                     metrics: dict[str, Any], created_at: float) -> "HeldOut":
        """From the `held_out_*` metrics a campaign's stop records (its event, its log)."""
        score = metrics.get("held_out_score")
        score = score if isinstance(score, int | float) and not isinstance(score, bool) else None
        return cls(program_id, search_score, score,
                   str(metrics.get("held_out_status", "ok" if score is not None else "-")),
                   metrics.get("held_out_reason"), metrics, created_at)

    @property
    def gap(self) -> float | None:
        """Held-out minus search score (negative: the search overfitted its cases)."""
        if self.score is None or self.search_score is None:
            return None
        return self.score - self.search_score


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


@dataclass(frozen=True)
class PromptVariant:
    """A system prompt and edit instruction of the builtin proposer, for one kind of answer
    (diff, rewrite, continue), in the prompt archive of `[prompt_evolution]`."""

    id: int
    kind: str
    parent_id: int | None
    """The variant the meta model rewrote into this one; None for a shipped prompt."""
    system: str
    instruction: str
    """The edit instruction shown in the user prompt; empty: the task's ideas or the shipped
    list, drawn per iteration as without prompt evolution."""
    name: str
    iteration: int | None
    """The iteration whose mutation made it; None for a shipped prompt."""
    model: str | None
    created_at: float


@dataclass(frozen=True)
class PromptUse:
    """One iteration asked with a variant, and what came of it once its iteration committed
    (status None while it is in flight or was lost)."""

    iteration: int
    variant_id: int
    status: str | None
    """The iteration's outcome: an evaluation status, or "no program" (a refused edit)."""
    score: float | None
    parent_score: float | None
