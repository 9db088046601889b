"""The discovery loop: select a parent, ask a model (or a non-LLM operator) for a child, check
the edit, evaluate it in the sandbox, record everything, repeat.

Iteration n is planned from the archive in the main thread with its own random stream
(`seed:n`), proposed (model call, edit checks, repair and reflexion turns) in one thread pool,
evaluated in the sandbox in another (so N proposals and M evaluations are in flight, with no
generation barrier), and committed in ONE archive transaction together with an `iteration`
event. So a kill -9 at any moment loses
only iterations in flight, and `resume` redoes exactly the numbers that have no event, with the
same random streams: nothing is lost, nothing duplicated.
"""

import concurrent.futures as cf
import errno
import json
import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive import (
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    EvaluationResult,
    ModelCall,
    NewProgram,
    Program,
    archive_path,
)
from archive.atomic import atomic_write_text
from discovery.config import CampaignConfig, ConfigError
from discovery.export import export_module
from discovery.models import make_client
from discovery.models.base import Budget, CallFailed, Messages, ModelClient
from discovery.models.ensemble import Ensemble
from discovery.models.transcripts import Recorder, Replayer
from discovery.search.edits import (
    END,
    START,
    EditError,
    apply_diff,
    block_text,
    evolve_block,
    rewrite_block,
)
from discovery.search.novelty import NoveltyError, make_novelty
from discovery.search.operators import tune_constants
from discovery.search.selection import EliteGrid, select_parent
from evaluators.executors import open_executor
from evaluators.sandbox import Executor, Sandbox
from evaluators.task import Task, TaskError, load_task
from prompts import render

INSTRUCTIONS = render("rewrite/instructions.txt").split("\n")


@dataclass
class Plan:
    n: int
    island: int
    op: str
    """seed, restart, tune, llm, migration, reseed."""
    parent: Program | None = None
    inspirations: list[Program] = field(default_factory=list)
    model: str | None = None
    edit_format: str = "rewrite"
    """rewrite, diff or crossover (then inspirations[0] is the second parent)."""
    neighbours: list[Program] = field(default_factory=list)
    """The island's best programs, for the novelty check."""


@dataclass
class Outcome:
    plan: Plan
    code: str | None = None
    results: list[EvaluationResult] = field(default_factory=list)
    calls: list[ModelCall] = field(default_factory=list)
    answer: str | None = None
    reason: str | None = None
    """Why no program came of this iteration (a failed edit or model call)."""
    turns: int = 0
    evaluations: int = 0
    """Sandbox evaluations spent (a tuning iteration spends several, records its best)."""

    @property
    def needs_evaluation(self) -> bool:
        return self.plan.op == "tune" or (
            self.code is not None and self.plan.op not in ("migration", "reseed"))


class Campaign:
    def __init__(self, config: CampaignConfig, run_dir: Path, writer: ArchiveWriter,
                 task: Task, log: Callable[[dict[str, Any]], None]):
        self.config, self.run_dir, self.writer, self.task, self.log = (config, run_dir, writer,
                                                                       task, log)
        self.clients: dict[str, ModelClient] = {s.name: self._client(s) for s in config.models}
        done = writer.events("iteration", limit=10**9)
        self.done = {d["n"] for _, _, d in done}
        last_state = next((d["ensemble"] for _, _, d in done if "ensemble" in d), None)
        self.ensemble = Ensemble(config.models, last_state)
        summary = writer.summary()
        self.budget = Budget(config.budgets.tokens, config.budgets.cost,
                             summary.tokens_in + summary.tokens_out, summary.cost)
        self.best = summary.best
        self.since_best = 0
        self.insights = next((d["insights"] for _, _, d in writer.events("scratchpad", 1)), "")
        self.stale: dict[int, int] = {}
        """Per island: its iterations since its best last improved (counted from this start)."""
        self.island_best = {i: p.score for i in range(config.selection.islands)
                            if (p := writer.best(i)) is not None}
        self._readers = threading.local()
        self.grid = EliteGrid.rebuild(writer, task.config.descriptors) \
            if config.selection.strategy == "map_elites" else None
        edits = config.edits
        self.novelty = make_novelty(edits.novelty_threshold, edits.novelty_embedding,
                                    edits.embedding_threshold)
        self._tops: dict[tuple[int, int | None], list[Program]] = {}
        self.broken: str | None = None
        """Why the task cannot be searched (its seed program fails), when it cannot."""

    def _client(self, spec) -> ModelClient:
        if self.config.replay is not None:
            return Replayer(spec, self.config.replay)
        client = make_client(spec)
        return Recorder(client, self.run_dir / "transcript.jsonl") if self.config.transcript \
            else client

    # -- start and resume -----------------------------------------------------------------

    @classmethod
    def start(cls, config: CampaignConfig, log: Callable[[dict[str, Any]], None]) -> "Campaign":
        task = _searchable(load_task(config.task))
        name = config.name or f"{task.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        config = config.model_copy(update={"name": name})
        run_dir = Path(config.runs_dir) / name
        writer = ArchiveWriter.create(archive_path(run_dir), name=name, task=task.name,
                                      config=config.model_dump(mode="json"), seed=config.seed,
                                      evaluator_version=task.version)
        atomic_write_text(run_dir / "campaign.json", json.dumps(config.model_dump(mode="json"),
                                                                indent=1) + "\n")
        writer.log_event("campaign_started", {"task_root": str(task.root)})
        return cls(config, run_dir, writer, task, log)

    @classmethod
    def resume(cls, run_dir: Path, log: Callable[[dict[str, Any]], None],
               overrides: dict[str, Any] | None = None) -> "Campaign":
        writer = ArchiveWriter(archive_path(run_dir))
        stored = writer.campaign().config
        try:
            config = CampaignConfig.model_validate({**stored, **(overrides or {})})
        except Exception as exc:
            raise ConfigError(f"{run_dir}: the stored config no longer validates ({exc})") \
                from exc
        task = _searchable(load_task(config.task))
        if task.version != writer.campaign().evaluator_version:
            writer.set_evaluator_version(task.version)  # old scores stop being compared
            log({"event": "evaluator_changed", "version": task.version})
        campaign = cls(config, run_dir, writer, task, log)
        writer.log_event("campaign_resumed", {"done": len(campaign.done)})
        return campaign

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> str:
        """Run until a budget or stop rule says stop; returns why it stopped."""
        parallel, budget = self.config.parallel, self.config.budgets.iterations or 10**12
        # With one proposer and one evaluator, iterations run strictly one after another.
        in_flight = parallel.proposals + parallel.evaluations - 1
        start = time.monotonic()
        todo = self._numbers()
        reason = "budget: iterations"
        self.log({"event": "started", "done": len(self.done), "budgets":
                  self.config.budgets.model_dump(), "best": self.best.score if self.best
                  else None})
        try:
            with open_executor(self.config.executor, size=parallel.evaluations) as executor, \
                    cf.ThreadPoolExecutor(parallel.proposals, "propose") as proposers, \
                    cf.ThreadPoolExecutor(parallel.evaluations, "evaluate") as evaluators:
                proposing: set[cf.Future] = set()
                evaluating: set[cf.Future] = set()
                while True:
                    stop = self._stop_reason(start)
                    if stop is None:
                        while (len(proposing) < parallel.proposals
                               and len(proposing) + len(evaluating) < in_flight
                               and len(self.done) + len(proposing) + len(evaluating) < budget):
                            plan = self._plan(next(todo))
                            proposing.add(proposers.submit(self._propose_stage, plan))
                    else:
                        reason = stop
                    if not proposing and not evaluating:
                        break
                    finished, _ = cf.wait(proposing | evaluating,
                                          return_when=cf.FIRST_COMPLETED)
                    for future in finished:
                        outcome = future.result()
                        if future in proposing:
                            proposing.discard(future)
                            if outcome.needs_evaluation:
                                evaluating.add(evaluators.submit(self._evaluate_stage, outcome,
                                                                 executor))
                                continue
                        else:
                            evaluating.discard(future)
                        self._commit(outcome)
        except KeyboardInterrupt:
            reason = "interrupted (Ctrl-C): finished iterations are committed"
        except (sqlite3.OperationalError, OSError) as exc:
            if not _disk_full(exc):
                raise
            raise ArchiveError(
                f"the disk is full ({exc}): every finished iteration is committed; free space, "
                f"then `discover resume {self.run_dir}`") from exc
        self._finish(reason)
        return reason

    def _numbers(self):
        """Iteration numbers still to do: gaps left by a crash first, then onwards."""
        highest = max(self.done, default=-1)
        yield from (n for n in range(highest + 1) if n not in self.done)
        n = highest + 1
        while True:
            yield n
            n += 1

    def _stop_reason(self, start: float) -> str | None:
        budgets = self.config.budgets
        if self.broken is not None:
            return self.broken
        if budgets.iterations is not None and len(self.done) >= budgets.iterations:
            return "budget: iterations"
        if budgets.wall_s is not None and time.monotonic() - start >= budgets.wall_s:
            return "budget: wall time"
        spent = self.budget.exhausted()
        if spent:
            return f"budget: {spent}"
        if budgets.target is not None and self.best is not None and \
                self.best.score >= budgets.target:
            return f"target score {budgets.target:g} reached"
        if budgets.patience is not None and self.since_best >= budgets.patience:
            return f"no improvement in {budgets.patience} iterations"
        return None

    # -- planning (main thread: reads the archive) ----------------------------------------

    def _plan(self, n: int) -> Plan:
        config, writer = self.config, self.writer
        rng = random.Random(f"{config.seed}:{n}")
        islands = config.selection.islands
        island = n % islands
        if n < islands:
            return Plan(n, island, "seed")
        every, stagnation = config.selection.migration_every, config.selection.stagnation
        if islands > 1 and every and n % every == 0:
            source = writer.best((island - 1) % islands)
            if source is not None:
                return Plan(n, island, "migration", parent=source)
        if islands > 1 and stagnation and self.stale.get(island, 0) >= stagnation:
            self.stale[island] = 0
            source = writer.best()
            if source is not None and source.island != island:
                return Plan(n, island, "reseed", parent=source)  # a stuck island restarts
        parent = select_parent(writer, config.selection, island, rng, self.grid)
        if parent is None:
            return Plan(n, island, "restart")
        draw = rng.random()
        if draw < config.edits.tune_share:
            return Plan(n, island, "tune", parent=parent)
        if draw < config.edits.tune_share + config.edits.restart_share:
            return Plan(n, island, "restart")
        neighbours = self._top_k(5, island)
        inspirations = [p for p in self._top_k(2) if p.id != parent.id][:1]  # the best
        # and a diverse one: a good program of another island (or further down this one)
        others = [i for i in range(islands) if i != island]
        pool = self._top_k(8, rng.choice(others)) if others else self._top_k(16, island)[4:]
        seen = {parent.code, *(p.code for p in inspirations)}
        diverse = [p for p in pool if p.code not in seen]
        inspirations += [rng.choice(diverse)] if diverse else []
        model = self.ensemble.choose(rng)
        mix = self.clients[model].spec.edit_mix
        formats = [f for f in mix if mix[f] > 0 and (f != "crossover" or inspirations)]
        edit_format = rng.choices(formats, weights=[mix[f] for f in formats], k=1)[0] \
            if formats else "rewrite"
        return Plan(n, island, "llm", parent, inspirations, model, edit_format, neighbours)

    def _top_k(self, k: int, island: int | None = None) -> list[Program]:
        """The archive's (or an island's) k best, cached until a commit could change them."""
        top = self._tops.get((k, island))
        if top is None:
            top = self._tops[(k, island)] = self.writer.top_k(k, island)
        return top

    # -- working (worker thread: model, edit checks, sandbox; no archive writes) ----------

    def _propose_stage(self, plan: Plan) -> Outcome:
        outcome = Outcome(plan)
        if plan.op in ("seed", "restart"):
            outcome.code = self.task.seed_code
        elif plan.op in ("migration", "reseed"):
            outcome.code = plan.parent.code  # scored already: its evaluation is copied at commit
        elif plan.op == "llm":
            self._propose(outcome)
        return outcome

    def _evaluate_stage(self, outcome: Outcome, executor: Executor) -> Outcome:
        if outcome.plan.op == "tune":
            self._tune(outcome, executor)
        else:
            outcome.results = self.task.evaluate(outcome.code, executor)
            outcome.evaluations = 1
        return outcome

    def _tune(self, outcome: Outcome, executor: Executor) -> None:
        """CMA-ES over the parent's float constants; the best setting becomes the child."""
        tried: dict[str, list[EvaluationResult]] = {}

        def score(code: str) -> float | None:
            results = tried[code] = self.task.evaluate(code, executor)
            return results[-1].score if results[-1].status == "ok" else None

        try:
            tuned = tune_constants(outcome.plan.parent.code, score,
                                   self.config.seed * 1_000_003 + outcome.plan.n,
                                   self.config.edits.tune_evaluations)
        except EditError as exc:
            outcome.reason = str(exc)
            return
        code = tuned.code if tuned.score > -math.inf else next(iter(tried))
        outcome.code, outcome.results, outcome.evaluations = code, tried[code], tuned.evaluations

    def _propose(self, outcome: Outcome) -> None:
        plan, config = outcome.plan, self.config
        client = self.clients[plan.model]
        messages = self._messages(plan)
        for turn in range(1 + config.edits.repair_turns):
            outcome.turns = turn + 1
            try:
                completion = client.complete(messages, purpose="repair" if turn else "propose",
                                             seed=plan.n * 7 + turn)
            except CallFailed as exc:
                outcome.calls.extend(exc.attempts)
                outcome.reason = f"model call failed: {exc}"
                return
            outcome.calls.extend(completion.attempts)
            outcome.answer = completion.text
            try:
                apply = apply_diff if plan.edit_format == "diff" else rewrite_block
                code = apply(plan.parent.code, completion.text)
                self._check_novelty(code, plan, outcome)
                problem = self.task.static_check(code)
                if problem is not None:
                    raise EditError(problem)
            except EditError as exc:
                outcome.reason = str(exc)
                repair = "diff/repair.md" if plan.edit_format == "diff" else "rewrite/repair.md"
                messages = [*messages, {"role": "assistant", "content": completion.text},
                            {"role": "user", "content": render(repair, reason=str(exc))}]
                continue
            outcome.code, outcome.reason = code, None
            self._reflect(outcome, [*messages, {"role": "assistant", "content": completion.text}],
                          client)
            return

    def _reflect(self, outcome: Outcome, messages: Messages, client: ModelClient) -> None:
        """ADAS's reflexion: the model reviews its own proposal before it is run and may revise
        it; a revision that does not pass the edit checks leaves the last good version."""
        plan = outcome.plan
        diff = plan.edit_format == "diff"
        for turn in range(self.config.edits.reflexion_rounds):
            outcome.turns += 1
            prompt = render("reflexion/diff.md", block=block_text(outcome.code)) if diff \
                else render("reflexion/rewrite.md")
            messages = [*messages, {"role": "user", "content": prompt}]
            try:
                completion = client.complete(messages, purpose="reflexion",
                                             seed=plan.n * 7 + 100 + turn)
            except CallFailed as exc:
                outcome.calls.extend(exc.attempts)
                return
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

    def _messages(self, plan: Plan) -> Messages:
        parent = plan.parent
        evaluations = self._reader().evaluations(parent.id)
        metrics = next((e.public_metrics for e in reversed(evaluations) if e.final), {})
        context = []
        if metrics:
            context.append("Its metrics: " + ", ".join(f"{k}={v:.6g}" if isinstance(v, float)
                                                       else f"{k}={v}"
                                                       for k, v in metrics.items()))
        crossover = plan.edit_format == "crossover"
        shown = [] if crossover else plan.inspirations
        if self.config.selection.strategy == "whole_archive":  # ADAS: the archive in context
            shown = [p for p in self._reader().top_k(self.config.selection.archive_context + 1)
                     if p.id != parent.id][:self.config.selection.archive_context]
        for other in shown:
            context.append(f"A program with score {other.score:.6g} used this block:\n"
                           f"```python\n{block_text(other.code)}\n```")
        failures = self._reader().child_failures(parent.id, 3)
        if failures:
            context.append("Recent changes to this code failed: " + "; ".join(failures))
        if self.insights:
            context.append(f"Insights from the search so far:\n{self.insights}")
        rng = random.Random(f"{self.config.seed}:{plan.n}:instruction")
        values = {"task": self.task.description.strip(), "score": f"{parent.score:.6g}",
                  "block": block_text(parent.code),
                  "context": "\n".join(context) + ("\n" if context else ""),
                  "instruction": rng.choice(self.task.config.ideas or INSTRUCTIONS)}
        if crossover:
            other = plan.inspirations[0]
            values.update(other_score=f"{other.score:.6g}", other_block=block_text(other.code))
        folder = plan.edit_format
        system = "diff/system.md" if folder == "diff" else "rewrite/system.md"
        return [{"role": "system", "content": render(system)},
                {"role": "user", "content": render(f"{folder}/user.md", **values)}]

    def _reader(self) -> ArchiveReader:
        """A read connection per worker thread (SQLite connections are not shared)."""
        reader = getattr(self._readers, "reader", None)
        if reader is None:
            reader = self._readers.reader = ArchiveReader(self.writer.path)
        return reader

    def _check_novelty(self, code: str, plan: Plan, outcome: Outcome) -> None:
        same = self._reader().find_by_hash(code)
        if same:
            raise EditError(f"the new code is an exact duplicate of archived program {same[0]}: "
                            "change the logic, not the layout")
        try:
            outcome.calls.extend(self.novelty.check(code, plan.neighbours))
        except NoveltyError as exc:
            outcome.calls.extend(exc.calls)
            raise

    # -- committing (main thread: one transaction per iteration) ---------------------------

    def _commit(self, outcome: Outcome) -> None:
        plan, writer = outcome.plan, self.writer
        program_id, final = None, None
        with writer.batch():
            copied = plan.op in ("migration", "reseed")
            if outcome.code is not None and (outcome.results or copied):
                crossover = plan.op == "llm" and plan.edit_format == "crossover"
                parents = (plan.parent.id,) if plan.parent else ()
                if crossover:
                    parents += (plan.inspirations[0].id,)
                program_id = writer.add_program(NewProgram(
                    outcome.code, parents=parents,
                    inspirations=() if crossover else tuple(p.id for p in plan.inspirations),
                    island=plan.island, model=plan.model,
                    prompt_template=plan.edit_format if plan.op == "llm" else None,
                    edit_kind=plan.edit_format if plan.op == "llm" else plan.op,
                    edit_text=outcome.answer))
                results = outcome.results or [self._copied_result(plan.parent)]
                for i, result in enumerate(results):
                    writer.record_evaluation(program_id, result, final=i == len(results) - 1)
                final = results[-1]
            for call in outcome.calls:
                writer.record_model_call(ModelCall(**{**call.__dict__,
                                                      "program_id": program_id}))
                self.budget.add(call)
            improved = (final is not None and final.status == "ok" and plan.parent is not None
                        and plan.parent.score is not None and final.score > plan.parent.score)
            if plan.model is not None:
                self.ensemble.update(plan.model, 1.0 if improved else 0.0)
            event = {"n": plan.n, "op": plan.op, "island": plan.island, "model": plan.model,
                     "edit_format": plan.edit_format if plan.op == "llm" else None,
                     "program": program_id, "turns": outcome.turns,
                     "valid_edit": outcome.code is not None if plan.op == "llm" else None,
                     "status": final.status if final else "no program",
                     "score": final.score if final else None,
                     "reason": outcome.reason or (final.reason if final else None),
                     "evaluations": outcome.evaluations,
                     "ensemble": self.ensemble.state()}
            writer.log_event("iteration", event, program_id)
        self.done.add(plan.n)
        ok = final is not None and final.status == "ok"
        island_best = self.island_best.get(plan.island)
        if ok and (island_best is None or final.score > island_best):
            self.island_best[plan.island], self.stale[plan.island] = final.score, 0
        else:
            self.stale[plan.island] = self.stale.get(plan.island, 0) + 1
        if ok:
            for (k, island), top in list(self._tops.items()):
                if island in (None, plan.island) and (len(top) < k or final.score >= top[-1].score):
                    del self._tops[(k, island)]
        if ok and self.grid is not None:
            self.grid.place(program_id, plan.island, final.score, len(outcome.code),
                            final.public_metrics)
        if ok and (self.best is None or final.score > self.best.score):
            self.best, self.since_best = writer.program(program_id), 0
            export_module(writer, program_id, self.run_dir / "best" / "best_program.py")
        else:
            self.since_best += 1
            if plan.op in ("seed", "restart") and self.best is None and final is not None:
                self.broken = (f"the task's seed program fails its evaluation ({final.status}: "
                               f"{final.reason}): fix the task or its environment, then "
                               f"`discover resume {self.run_dir}`")
        self.log({**event, "best": self.best.score if self.best else None,
                  "tokens": self.budget.tokens, "cost": self.budget.cost})
        every = self.config.edits.scratchpad_every
        if every and len(self.done) % every == 0 and plan.n >= self.config.selection.islands:
            self._scratchpad(plan.n)

    def _scratchpad(self, n: int) -> None:
        """Distil the archive into a few insights for later prompts (one model call)."""
        writer = self.writer
        lines = [f"best score {self.best.score:.6g}" if self.best else "no valid program yet"]
        lines += [f"top program {p.id}: score {p.score:.6g}, made by {p.edit_kind}"
                  for p in writer.top_k(3)]
        lines += [f"{count} programs {status}: {reason}"
                  for status, reason, count in writer.failures_by_reason(5, recent=500)]
        window = max(self.config.edits.scratchpad_every, 20)
        recent = [d for _, _, d in writer.events("iteration", limit=window)
                  if d.get("op") == "llm"]
        refused = [d["reason"] for d in recent if not d.get("valid_edit") and d.get("reason")]
        lines += [f"refused edit: {reason}" for reason in refused[:5]]
        model = self.ensemble.choose(random.Random(f"{self.config.seed}:{n}:scratchpad"))
        messages = [{"role": "user", "content": render(
            "scratchpad/user.md", task=self.task.config.summary, history="\n".join(lines))}]
        try:
            answer = self.clients[model].complete(messages, purpose="scratchpad", seed=n)
            calls, text = list(answer.attempts), answer.text
        except CallFailed as exc:
            calls, text = exc.attempts, None
        insights = "\n".join(line.strip() for line in (text or "").splitlines()
                             if line.strip().startswith("- "))[:1500]
        with writer.batch():
            for call in calls:
                writer.record_model_call(call)
                self.budget.add(call)
            if insights:
                writer.log_event("scratchpad", {"after": n, "insights": insights})
        if insights:
            self.insights = insights

    @staticmethod
    def _copied_result(parent: Program) -> EvaluationResult:
        return EvaluationResult("migrated", parent.status, parent.score,
                                reason=f"copy of program {parent.id}")

    def _finish(self, reason: str) -> None:
        held_out = None
        if self.best is not None and self.task.config.held_out is not None:
            final = self.task.evaluate(self.best.code, Sandbox(), held_out=True)[-1]
            held_out = {k: v for k, v in final.private_metrics.items()
                        if k.startswith("held_out")}
        best = self.best.id if self.best else None
        self.writer.log_event("campaign_stopped", {"reason": reason, "held_out": held_out,
                                                   "program": best}, best)
        self.log({"event": "stopped", "reason": reason,
                  "best": self.best.score if self.best else None, "held_out": held_out})

    def close(self) -> None:
        self.writer.close()


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or \
            "full" in str(exc)
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


def _searchable(task: Task) -> Task:
    """A task whose seed the edits can work on; else a TaskError before anything is written."""
    seed = task.root / task.config.seed
    try:
        evolve_block(task.seed_code)
    except EditError as exc:
        raise TaskError(f"{seed}: {exc}; mark the code the model may change with a line "
                        f"{START} before it and a line {END} after it") from exc
    problem = task.static_check(task.seed_code)
    if problem is not None:
        raise TaskError(f"{seed}: {problem}")
    task.prepare()
    return task
