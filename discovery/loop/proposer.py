"""The model's side of an iteration (worker threads; nothing is written to the archive here):
build the prompt from the archive, ask the model, apply and check its edit (markers, syntax,
duplicates, novelty, the entry point), hand a failed edit's reason back for a repair turn, and
let the model review its accepted proposal (ADAS's reflexion). With `selection.strategy =
"adas"` a plan has no parent: the prompt holds the whole archive, and the answer is a complete
new block set into the task's seed."""

import json
import math
import random
import threading
from pathlib import Path

from archive import ArchiveReader, code_hash
from archive.lineage_facts import LineageFacts, Step, lineage_facts
from discovery.config import CampaignConfig
from discovery.loop import analysis
from discovery.loop.plan import EditFormat, Op, Outcome, Plan
from discovery.models.base import EMBEDDED, CallFailed, Messages, ModelClient, ModelError
from discovery.search.edits import (
    Continuation,
    EditError,
    apply_diff,
    block_text,
    design_notes,
    plan_continuation,
    rewrite_block,
    splice,
)
from discovery.search.novelty import EmbeddingNovelty, NoveltyError, TextNovelty
from discovery.search.prompt_evolution import PromptArchive
from evaluators.task import Task
from prompts import render

INSTRUCTIONS = render("rewrite/instructions.txt").split("\n")
REPAIR_TEMPERATURE = 1.0
"""The embedded model's temperature on a repair turn: the refusal is most often an unchanged
copy of the parent's code, which sampling as before would write again."""


class Proposer:
    def __init__(self, config: CampaignConfig, task: Task, clients: dict[str, ModelClient],
                 novelty: TextNovelty | EmbeddingNovelty, archive: Path, insights: str):
        self.config, self.task, self.clients, self.novelty = config, task, clients, novelty
        self.archive = archive
        self.insights = insights
        """The scratchpad's latest distillation of the search, shown in every prompt."""
        self._readers = threading.local()
        self.prompts = PromptArchive.open(config.prompt_evolution, archive, clients,
                                          task.config.summary)
        """The evolving prompts (`[prompt_evolution]`), or None: the shipped ones."""

    def propose(self, outcome: Outcome) -> None:
        """Ask the plan's model for a child; a failed edit's reason goes back to it for a repair
        turn (`edits.repair_turns`), then reflexion rounds review the accepted one. With
        `edits.analysis`, the model first analyses the parent's episodes (ALMA). The embedded
        model is asked to continue one function (`edits.plan_continuation`) instead of
        rewriting the block."""
        plan, config = outcome.plan, self.config
        client = self.clients[plan.model]
        if config.edits.analysis and plan.parent is not None:
            plan.analysis = self._analyse(plan, outcome, client)
        continuation = self._continuation(plan, client, 0)
        messages = self.messages(plan, continuation)
        for turn in range(1 + config.edits.repair_turns):
            outcome.turns = turn + 1
            if turn and continuation is not None:  # another cut: the same start, same answer
                continuation = self._continuation(
                    plan, client, turn, continuation.function) or continuation
            start = [{"role": "assistant", "content": continuation.start}] if continuation else []
            try:
                completion = client.complete(
                    [*messages, *start], purpose="repair" if turn else "propose",
                    seed=plan.n * 7 + turn,
                    temperature=REPAIR_TEMPERATURE if turn and continuation else None)
            except CallFailed as exc:
                outcome.calls.extend(exc.attempts)
                outcome.reason = f"model call failed: {exc}"
                return
            outcome.calls.extend(completion.attempts)
            answer = outcome.answer = (continuation.start if continuation else "") \
                + completion.text
            try:
                if continuation is not None:
                    code = splice(plan.parent.code, continuation, completion.text)
                elif plan.edit_format is EditFormat.DIFF:
                    code = apply_diff(plan.parent.code, answer)
                else:  # ADAS (no parent): the new block goes into the seed's frame
                    code = rewrite_block(plan.parent.code if plan.parent else
                                         self.task.seed_code, answer)
                self._check_novelty(code, plan, outcome)
                problem = self.task.static_check(code)
                if problem is not None:
                    raise EditError(problem)
            except EditError as exc:
                outcome.reason = str(exc)
                repair = f"{_answer_kind(plan, continuation)}/repair.md"
                messages = [*messages, {"role": "assistant", "content": answer},
                            {"role": "user", "content": render(
                                repair, reason=str(exc),
                                function=continuation.function if continuation else "")}]
                continue
            outcome.code, outcome.reason = code, None
            outcome.conversation = self._reflect(
                outcome, [*messages, {"role": "assistant", "content": answer}], client)
            return

    def _continuation(self, plan: Plan, client: ModelClient, turn: int,
                      function: str | None = None) -> Continuation | None:
        """For a rewrite by the embedded model, the function (`function`, else one at random)
        and the statement it continues from: the rest of the function, at most half the
        model's answer cap long (about 4 characters a token), so a longer version still
        fits. Each turn draws its own cut. ADAS's plans (no parent) always ask for a whole new
        block."""
        if plan.edit_format is not EditFormat.REWRITE or client.spec.name != EMBEDDED \
                or plan.parent is None:
            return None
        rng = random.Random(f"{self.config.seed}:{plan.n}:{turn}:continuation")
        return plan_continuation(plan.parent.code, rng, client.spec.max_tokens * 2, function)

    def _analyse(self, plan: Plan, outcome: Outcome, client: ModelClient) -> str | None:
        """ALMA's analysis step (discovery/loop/analysis.py): before writing code, the model
        reads a sample of the parent's episodes by reward bin, its errors, its score and the
        suggestion that produced it with the score change it caused, and answers with ALMA's
        JSON; the proposal prompt gets its labels and suggested changes. None when there is
        nothing to read."""
        final = next((e for e in reversed(self.reader().evaluations(plan.parent.id))
                      if e.final), None)
        messages = analysis.messages(self.reader(), self.task.description.strip(), plan.parent,
                                     final.public_metrics if final else {})
        if messages is None:
            return None
        try:
            completion = client.complete(messages, purpose=analysis.PURPOSE,
                                         seed=plan.n * 7 + 300, json_mode=True)
        except CallFailed as exc:
            outcome.calls.extend(exc.attempts)
            return None
        outcome.calls.extend(completion.attempts)
        return analysis.for_proposal(completion.text)

    def debug(self, outcome: Outcome, turn: int) -> bool:
        """ADAS's debug turn: the failed or zero-scoring proposal goes back to its model with
        the reason; True when the answer is new code to run (outcome.code replaced)."""
        final, plan = outcome.results[-1], outcome.plan
        problem = final.reason if final.status != "ok" else "it scored 0"
        metrics = {k: v for k, v in final.public_metrics.items() if isinstance(v, str)}
        details = "".join(f"{key}: {value}\n" for key, value in metrics.items())
        if final.error_tail:
            details += f"The end of its error output:\n{final.error_tail}\n"
        messages = [*outcome.conversation, {"role": "user", "content": render(
            "debug/user.md", problem=problem, details=details, mistakes=self._mistakes())}]
        outcome.turns += 1
        try:
            completion = self.clients[plan.model].complete(messages, purpose="debug",
                                                           seed=plan.n * 7 + 200 + turn)
        except CallFailed as exc:
            outcome.calls.extend(exc.attempts)
            return False
        except ModelError as exc:  # the user must fix the model: the campaign stops
            outcome.calls.extend(exc.attempts)
            outcome.fatal = str(exc)
            return False
        outcome.calls.extend(completion.attempts)
        try:
            code = rewrite_block(outcome.code, completion.text)
        except EditError:
            return False
        if code == outcome.code or self.task.static_check(code) is not None:
            return False
        outcome.code = code
        outcome.conversation = [*messages, {"role": "assistant", "content": completion.text}]
        outcome.answer = f"{outcome.answer}\n\n[after debug turn {turn + 1}]\n{completion.text}"
        return True

    def _mistakes(self) -> str:
        """The task's list of implementation mistakes, for reflexion and debug prompts."""
        mistakes = self.task.config.mistakes
        return "Check especially for these mistakes:\n" + "".join(
            f"- {m}\n" for m in mistakes) if mistakes else ""

    def _reflect(self, outcome: Outcome, messages: Messages, client: ModelClient) -> Messages:
        """ADAS's reflexion: the model reviews its own proposal before it is run and may revise
        it; a revision that does not pass the edit checks leaves the last good version.
        Returns the whole conversation (a debug turn continues it)."""
        plan = outcome.plan
        diff = plan.edit_format is EditFormat.DIFF
        for turn in range(self.config.edits.reflexion_rounds):
            outcome.turns += 1
            messages = [*messages, {"role": "user", "content": self._reflexion_prompt(
                plan, turn, outcome.code)}]
            try:
                completion = client.complete(messages, purpose="reflexion",
                                             seed=plan.n * 7 + 100 + turn)
            except CallFailed as exc:
                outcome.calls.extend(exc.attempts)
                return messages
            outcome.calls.extend(completion.attempts)
            messages = [*messages, {"role": "assistant", "content": completion.text}]
            try:
                code = (apply_diff if diff else rewrite_block)(outcome.code, completion.text)
                self._check_novelty(code, plan, outcome)
                if self.task.static_check(code) is not None:
                    continue
            except EditError:
                continue
            outcome.code = code
            outcome.answer = f"{outcome.answer}\n\n[after reflexion round {turn + 1}]\n" \
                             f"{completion.text}"
        return messages

    def _reflexion_prompt(self, plan: Plan, turn: int, code: str) -> str:
        """The reflexion turn's question. ADAS's plans (no parent) ask ADAS's two: first is the
        design interesting against the archive (shown the newest design the search proposed),
        are there mistakes, can it be better; then, and in any later round, a check against the
        task's list of implementation mistakes."""
        if plan.parent is None:
            if turn:
                return render("adas/reflexion_2.md", mistakes=self._mistakes())
            proposed = [e for e in self._archive_entries(plan) if e["generation"] != "initial"]
            previous = (f"The previous design the search tried:\n{json.dumps(proposed[-1])}\n\n"
                        if proposed else "")
            return render("adas/reflexion_1.md", previous=previous, mistakes=self._mistakes())
        if plan.edit_format is EditFormat.DIFF:
            return render("reflexion/diff.md", block=block_text(code), mistakes=self._mistakes())
        return render("reflexion/rewrite.md", mistakes=self._mistakes())

    def _adas_messages(self, plan: Plan) -> Messages:
        """ADAS's prompt: the task and every archived program as ADAS's JSON entries; the
        answer is a complete new block, never an edit of one of them."""
        archive = ",\n".join(json.dumps(entry) for entry in self._archive_entries(plan))
        return [{"role": "system", "content": render("adas/system.md")},
                {"role": "user", "content": render(
                    "adas/user.md", task=self.task.description.strip(), archive=f"[{archive}]",
                    mistakes=self._mistakes())}]

    def _archive_entries(self, plan: Plan) -> list[dict[str, str | int]]:
        """The plan's archive (plan.inspirations, oldest first) as ADAS lists it: each
        program's thought and name (its docstring's design notes), code (its block), fitness
        (here its score and public metrics) and generation ("initial" for the seed and the
        baselines, else the proposal's number)."""
        metrics = {program_id: values for program_id, *_, values in self.reader().scored()}
        entries, proposals = [], 0
        for program in plan.inspirations:
            initial = program.edit_kind in (Op.SEED, Op.BASELINE)
            proposals += not initial
            notes = design_notes(program.code)
            entries.append({
                "thought": notes.thought if notes else "",
                "name": notes.name if notes else f"program #{program.id}",
                "code": block_text(program.code),
                "fitness": ", ".join([f"score={program.score:.6g}",
                                      *filter(None, [metrics_text(metrics.get(program.id, {}))])]),
                "generation": "initial" if initial else proposals})
        return entries

    def messages(self, plan: Plan, continuation: Continuation | None = None) -> Messages:
        """The prompt: the task, the parent's block and metrics, inspirations (or, as ADAS does,
        the archive's best), the parent's lineage (or only its children's recent failures),
        the scratchpad's insights and one of the task's ideas; with a continuation, it asks
        for the new code of its function (the answer's start follows, see `propose`). ADAS's
        plans (no parent) get ADAS's prompt instead."""
        if plan.parent is None:
            return self._adas_messages(plan)
        parent = plan.parent
        evaluations = self.reader().evaluations(parent.id)
        metrics = next((e.public_metrics for e in reversed(evaluations) if e.final), {})
        context = []
        if text := metrics_text(metrics):
            context.append(f"Its metrics: {text}")
        crossover = plan.edit_format is EditFormat.CROSSOVER
        shown = [] if crossover else plan.inspirations
        if self.config.selection.strategy == "whole_archive":  # ADAS: the archive in context
            shown = [p for p in self.reader().top_k(self.config.selection.archive_context + 1)
                     if p.id != parent.id][:self.config.selection.archive_context]
        for other in shown:
            context.append(f"A program with score {other.score:.6g} used this block:\n"
                           f"```python\n{block_text(other.code)}\n```")
        lineage = self.config.prompts
        if lineage.lineage_depth:  # its children's failures are part of the lineage
            facts = lineage_facts(self.reader(), parent.id, lineage.lineage_depth,
                                  notes=design_notes)
            context.append(lineage_text(facts, lineage.lineage_tokens))
        elif failures := self.reader().child_failures(parent.id, 3):
            context.append("Recent changes to this code failed: " + "; ".join(failures))
        if self.insights:
            context.append(f"Insights from the search so far:\n{self.insights}")
        if plan.analysis:
            context.append(f"An analysis of the parent's episodes:\n{plan.analysis}")
        rng = random.Random(f"{self.config.seed}:{plan.n}:instruction")
        values = {"task": self.task.description.strip(), "score": f"{parent.score:.6g}",
                  "block": block_text(parent.code),
                  "context": "\n".join(context) + ("\n" if context else ""),
                  "instruction": rng.choice(self.task.config.ideas or INSTRUCTIONS)}
        if crossover:
            other = plan.inspirations[0]
            values.update(other_score=f"{other.score:.6g}", other_block=block_text(other.code))
        kind = _answer_kind(plan, continuation)
        user = "continue/user.md" if continuation else f"{plan.edit_format}/user.md"
        if continuation:
            values["function"] = continuation.function
        variant = self.prompts and self.prompts.choose(plan.n, kind, plan.model)
        if variant and variant.instruction:
            values["instruction"] = variant.instruction
        return [{"role": "system", "content": variant.system if variant else
                 render(f"{kind}/system.md")},
                {"role": "user", "content": render(user, **values)}]

    def reader(self) -> ArchiveReader:
        """A read connection per worker thread (SQLite connections are not shared)."""
        reader = getattr(self._readers, "reader", None)
        if reader is None:
            reader = self._readers.reader = ArchiveReader(self.archive)
        return reader

    def _check_novelty(self, code: str, plan: Plan, outcome: Outcome) -> None:
        same = self.reader().find_by_hash(code)
        if same:
            raise EditError(f"the new code is an exact duplicate of an archived program "
                            f"(#{same[0]}): change the logic, not the layout")
        if code_hash(code) in plan.in_flight:
            raise EditError("the new code is an exact duplicate of a program still being "
                            "evaluated: change the logic, not the layout")
        try:
            outcome.calls.extend(self.novelty.check(code, plan.neighbours))
        except NoveltyError as exc:
            outcome.calls.extend(exc.calls)
            raise


def _answer_kind(plan: Plan, continuation: Continuation | None = None) -> str:
    """The prompts' folder for what the model answers with: SEARCH/REPLACE blocks, a whole
    block (a rewrite or a crossover), or one function continued from the start given."""
    if continuation is not None:
        return "continue"
    return "diff" if plan.edit_format is EditFormat.DIFF else "rewrite"


def metrics_text(metrics: dict) -> str:
    """Public metrics as a prompt shows them, `name=value` joined by commas; the episode dumps
    (ALMA's analysis reads those) are left out."""
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in metrics.items() if not k.endswith("episodes"))


def estimate_tokens(text: str) -> int:
    """Tokens as characters / 4, rounded up: no tokenizer is at hand for every model, and
    English prose and code run at about four characters a token."""
    return math.ceil(len(text) / 4)


def lineage_text(facts: LineageFacts, tokens: int) -> str:
    """The lineage as the prompt shows it, within `tokens` (estimate_tokens): the oldest
    ancestry steps are left out first (down to the parent's own), then the oldest of its
    children, and the text says how many steps were left out."""
    steps = [_step_line(step) for step in facts.steps]
    setbacks = [_step_line(step) for step in facts.setbacks]
    cuts = [(n, len(setbacks)) for n in range(len(steps), 0, -1)] + \
        [(min(len(steps), 1), n) for n in range(len(setbacks) - 1, -1, -1)] + [(0, 0)]
    for kept_steps, kept_setbacks in cuts:
        text = _lineage_lines(facts, steps[:kept_steps], setbacks[:kept_setbacks])
        if estimate_tokens(text) <= tokens:
            return text
    raise AssertionError("unreachable: lineage_tokens' lower bound leaves room for the heading")


def _lineage_lines(facts: LineageFacts, steps: list[str], setbacks: list[str]) -> str:
    lines = ["How this code came to be, newest step first (each step: the edit that made it, "
             "what the edit changed, its score and the change from its parent):", *steps]
    omitted = facts.older + len(facts.steps) - len(steps)
    if omitted:
        lines.append(f"- ({omitted} older step{'s' if omitted > 1 else ''}, back to the first "
                     f"program #{facts.seed}, left out)")
    counts = facts.children
    if counts.failed + counts.no_better:
        lines.append(f"Changes to this code so far: {counts.better} scored higher, "
                     f"{counts.no_better} no higher, {counts.failed} failed"
                     + ("; the newest that did not help:" if setbacks else "."))
        lines += setbacks
    return "\n".join(lines)


def _step_line(step: Step) -> str:
    """One step, its reason cut short: a line's length bounds what one step costs."""
    stone = ("; a stepping stone: below its parent, yet a descendant beat the parent"
             if step.stepping_stone else "")
    return f"- #{step.id} {step.edit_kind}: {step.change[:160]} -> {step.outcome()[:200]}{stone}"
