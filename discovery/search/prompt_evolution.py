"""Prompt co-evolution (ShinkaEvolve's meta-prompt evolution, the light form): the builtin
proposer's system prompts and edit instructions live in an archive of their own, one lineage per
kind of answer (diff, rewrite, continue). Each proposal is asked with the variant UCB1 picks on
the improvement its children made; every `every` iterations a model rewrites the most helpful
variant into a new one, shown the variants and their stats.

Why this shape: the choice of each iteration is written to the archive (`prompt_uses`) when it is
made, so a resumed or replayed iteration is asked with the same variant, and the schema's trigger
stamps it on the program when the iteration commits: the loop knows nothing of it. A mutation
that is empty, too long or drops the markers the answer parser needs is refused with its reason
(a `prompt_mutation` event) and the iteration goes on with the archive as it was.
"""

import math
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from archive import ArchiveReader, ArchiveWriter, PromptVariant
from archive.prompt_archive import MUTATION_EVENT, VariantStats, mutations, ranked, variant_stats
from discovery.config import PromptEvolution
from discovery.models.base import CallFailed, ModelCall, ModelClient
from prompts import render

PURPOSE = "prompt_evolution"
"""The meta model's calls, in the archive's model calls and the transcript."""

MARKERS: dict[str, tuple[str, ...]] = {
    "diff": ("<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"),
    "rewrite": ("```python",),
    "continue": ("```python",),
}
"""What each kind of answer's system prompt must keep verbatim: the answer parser's format."""
ANSWERS = {
    "diff": "SEARCH/REPLACE edit blocks inside the evolvable block",
    "rewrite": "the complete new code of the evolvable block in one ```python code block",
    "continue": "the new code of one function in one ```python code block",
}
class MutationRefused(ValueError):
    """A meta model's answer that cannot become a variant; the message says why."""


def ucb_pick(stats: list[VariantStats], c: float) -> VariantStats:
    """UCB1: a variant never tried first (the newest, so a fresh mutation is tried at once),
    else the highest mean + c * sqrt(ln N / uses), N the uses of them all; ties go to the
    oldest. No random draw: the choice is a function of the archive."""
    untried = [s for s in stats if s.uses == 0]
    if untried:
        return untried[-1]
    total = sum(s.uses for s in stats)
    return max(stats, key=lambda s: (s.mean + c * math.sqrt(math.log(total) / s.uses),
                                     -s.variant.id))


def _tag(answer: str, name: str) -> str | None:
    found = re.search(rf"<{name}>(.*?)</{name}>", answer, re.DOTALL)
    return None if found is None else found.group(1).strip()


def parse_mutation(answer: str, kind: str, existing: list[PromptVariant],
                   max_chars: int) -> tuple[str, str, str]:
    """(name, system prompt, instruction) from a meta model's answer, or MutationRefused
    saying why it cannot be used: no <SYSTEM> block, empty, too long, a marker the answer
    parser needs left out, or a copy of a variant the archive holds."""
    system = _tag(answer, "SYSTEM")
    if system is None:
        raise MutationRefused("the answer has no <SYSTEM>...</SYSTEM> block")
    if not system:
        raise MutationRefused("the new system prompt is empty")
    instruction = _tag(answer, "INSTRUCTION") or ""
    size = len(system) + len(instruction)
    if size > max_chars:
        raise MutationRefused(f"the new prompt is {size} characters, over the "
                              f"{max_chars} allowed (prompt_evolution.max_chars)")
    missing = [m for m in MARKERS[kind] if m not in system]
    if missing:
        raise MutationRefused(f"the new system prompt leaves out {', '.join(map(repr, missing))}"
                              f", which a {kind} answer must follow")
    for variant in existing:
        if (variant.system.strip(), variant.instruction.strip()) == (system, instruction):
            raise MutationRefused(f"the new prompt repeats variant #{variant.id}")
    name = " ".join((_tag(answer, "NAME") or "").split())[:80]
    return name, system, instruction


class PromptArchive:
    """The builtin proposer's prompt source with `[prompt_evolution]` on. Called from proposal
    threads: one at a time (a lock), each with its own archive connection."""

    def __init__(self, config: PromptEvolution, archive: Path, clients: dict[str, ModelClient],
                 task: str):
        self.config, self.archive, self.clients, self.task = config, archive, clients, task
        self._lock = threading.Lock()
        self.spent: Callable[[ModelCall], None] = lambda call: None
        """Told of each mutation call as it is recorded: the campaign counts it against its
        budget at once (a running campaign would otherwise learn of it only at a resume)."""

    @classmethod
    def open(cls, config: PromptEvolution, archive: Path, clients: dict[str, ModelClient],
             task: str) -> "PromptArchive | None":
        """The prompt source, or None when prompt evolution is off (the shipped prompts)."""
        return cls(config, archive, clients, task) if config.enabled else None

    def choose(self, n: int, kind: str, model: str) -> PromptVariant:
        """The variant iteration `n` asks with: the one recorded for it (a resumed or
        replayed iteration), else UCB1's pick, after a mutation by `model` when one is due."""
        with self._lock, ArchiveWriter(self.archive) as writer:
            recorded = writer.prompt_use(n)
            if recorded is not None:
                return next(v for v in writer.prompt_variants() if v.id == recorded)
            if not writer.prompt_variants(kind):
                writer.add_prompt_variant(kind, render(f"{kind}/system.md"), name="shipped")
            if self._due(writer, n, kind):
                self._mutate(writer, n, kind, model)
            pick = ucb_pick(variant_stats(writer, kind), self.config.ucb_c).variant
            writer.record_prompt_use(n, pick.id)
            return pick

    def _due(self, reader: ArchiveReader, n: int, kind: str) -> bool:
        """A mutation is due once `every` iterations have passed since this kind's last one
        (tried, refused or not) or, before any, since its first use."""
        ids = {v.id for v in reader.prompt_variants(kind)}
        tried = [d["n"] for d in mutations(reader) if d.get("kind") == kind]
        first = next((u.iteration for u in reader.prompt_uses() if u.variant_id in ids), None)
        last = max(tried, default=first)
        return last is not None and n - last >= self.config.every

    def _mutate(self, writer: ArchiveWriter, n: int, kind: str, model: str) -> None:
        """Ask `model` for a new variant of the kind's most helpful one; the variant, or the
        reason it was refused, is recorded with the call in one transaction."""
        stats = ranked(variant_stats(writer, kind))
        parent = stats[0].variant
        shown = "\n\n".join(
            f"Variant #{s.variant.id} ({s.variant.name or 'unnamed'}; uses {s.uses}, mean "
            f"improvement {s.mean:+.3f}):\n<SYSTEM>\n{s.variant.system}\n</SYSTEM>\n"
            f"<INSTRUCTION>\n{s.variant.instruction}\n</INSTRUCTION>" for s in stats[:3])
        messages = [{"role": "system", "content": render("prompt_evolution/system.md")},
                    {"role": "user", "content": render(
                        "prompt_evolution/user.md", task=self.task, answer=ANSWERS[kind],
                        markers=", ".join(MARKERS[kind]), max_chars=str(self.config.max_chars),
                        variants=shown, parent=str(parent.id))}]
        variant, refused = None, None
        try:
            completion = self.clients[model].complete(messages, purpose=PURPOSE,
                                                      seed=n * 7 + 400)
            calls, answer = completion.attempts, completion.text
        except CallFailed as exc:
            calls, answer, refused = exc.attempts, None, f"the model call failed: {exc}"
        with writer.batch():
            for call in calls:
                writer.record_model_call(replace(call, iteration=n))
                self.spent(call)
            if answer is not None:
                try:
                    name, system, instruction = parse_mutation(
                        answer, kind, writer.prompt_variants(kind), self.config.max_chars)
                    variant = writer.add_prompt_variant(
                        kind, system, instruction, parent_id=parent.id, name=name,
                        iteration=n, model=model)
                except MutationRefused as exc:
                    refused = str(exc)
            writer.log_event(MUTATION_EVENT, {"n": n, "kind": kind, "parent": parent.id,
                                     "variant": variant, "refused": refused})
