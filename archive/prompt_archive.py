"""Queries over the prompt archive (prompt co-evolution, `discovery.search.prompt_evolution`):
what each variant's proposals earned. Plain reads with no pydantic or model imports, so that
`discover status`, `lineage --prompts` and the view can show them cheaply."""

from dataclasses import dataclass

from archive.records import PromptUse, PromptVariant
from archive.store import ArchiveReader

MUTATION_EVENT = "prompt_mutation"
"""An archive event per mutation tried: {n, kind, parent, variant (None when refused), refused
(the reason, or None)}."""
FAILED = -1.0
"""The reward of a child that failed its evaluation or of an edit that was refused."""


@dataclass(frozen=True)
class VariantStats:
    """A variant and what its finished proposals earned (uses whose iteration committed)."""

    variant: PromptVariant
    uses: int
    mean: float
    """Mean normalised improvement over those uses (0 before the first)."""


def improvement(use: PromptUse, spread: float) -> float | None:
    """One use's reward: the child's score minus its parent's over the spread of the archive's
    scores, clipped to [-1, 1]; FAILED for a child that failed or an edit refused; None while
    its iteration has not committed."""
    if use.status is None:
        return None
    if use.status != "ok" or use.score is None or use.parent_score is None:
        return FAILED
    change = use.score - use.parent_score
    if spread <= 0:
        return float(change > 0) - float(change < 0)
    return max(-1.0, min(1.0, change / spread))


def variant_stats(reader: ArchiveReader, kind: str | None = None) -> list[VariantStats]:
    """Every variant (of one kind, or all) with its uses and mean improvement, oldest first."""
    low, high = reader.score_range() or (0.0, 0.0)
    rewards: dict[int, list[float]] = {}
    for use in reader.prompt_uses():
        reward = improvement(use, high - low)
        if reward is not None:
            rewards.setdefault(use.variant_id, []).append(reward)
    return [VariantStats(v, len(r := rewards.get(v.id, [])), sum(r) / len(r) if r else 0.0)
            for v in reader.prompt_variants(kind)]


def ranked(stats: list[VariantStats]) -> list[VariantStats]:
    """The variants the most helpful first: tried ones by mean improvement, then untried."""
    return sorted(stats, key=lambda s: (s.uses == 0, -s.mean, s.variant.id))


def mutations(reader: ArchiveReader) -> list[dict]:
    """Every mutation tried, oldest first (`MUTATION_EVENT`'s data)."""
    return [data for _, _, data in reader.events(MUTATION_EVENT, 10**9)][::-1]
