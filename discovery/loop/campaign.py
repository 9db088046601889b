"""The discovery loop: select a parent, ask a model (or a non-LLM operator) for a child, check
the edit, evaluate it in the sandbox, record everything, repeat. `Campaign.run` reads as that
figure; the threads are pipeline.py's, the model's side proposer.py's, what an iteration is
plan.py's.

Iteration n is planned from the archive in the main thread with its own random stream
(`seed:n`), proposed (model call, edit checks, repair and reflexion turns) in one thread pool,
evaluated in the sandbox in another (so N proposals and M evaluations are in flight, with no
generation barrier), and committed in ONE archive transaction together with an `iteration`
event. So a kill -9 at any moment loses only iterations in flight, and `resume` redoes exactly
the numbers that have no event, with the same random streams: nothing is lost, nothing
duplicated. With `parallel.lag` (by default 3 at one proposal and one evaluation) the overlap is
deterministic: iteration n is planned from the archive as of commit n - 1 - lag, each commit
also records the proposals finished since the one before (`proposal` events), and `resume`
evaluates those instead of asking again, so a resumed or replayed campaign makes the same plans
and archive whatever the timing.

The campaign process holds its run directory's lock and heartbeat (liveness.py) from start to
close, with what is in flight, so other processes can tell it running from stalled or dead.
Ctrl-C is answered at once: the first says what the campaign waits for and stops it once the
iterations in flight are committed; a second stops it now, recorded as interrupted (what was in
flight has no `iteration` event, so `resume` redoes it).
"""

import contextlib
import errno
import json
import math
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
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
    code_hash,
)
from archive.atomic import atomic_write_text
from discovery.config import CampaignConfig, ConfigError, apply_overrides
from discovery.double_label import campaign_label
from discovery.export import export_module, exported_provenance
from discovery.loop.liveness import Liveness, State, describe, stop_state
from discovery.loop.pipeline import Stages, run_pipeline
from discovery.loop.plan import EditFormat, Op, Outcome, Plan
from discovery.loop.preflight import preflight
from discovery.loop.proposer import Proposer
from discovery.meta.program import check_program, make_proposer
from discovery.models import make_client, resolve
from discovery.models.agent import (
    EMBED_PURPOSE,
    AgentModelConfig,
    AgentModels,
    EvaluationModel,
    resolve_agent,
    task_budget,
)
from discovery.models.agent import PURPOSE as AGENT_PURPOSE
from discovery.models.base import Budget, CallFailed, ModelClient, ModelError, ModelSpec
from discovery.models.ensemble import Ensemble
from discovery.models.transcripts import Recorder, Replayer
from discovery.search.edits import (
    END,
    START,
    EditError,
    evolve_block,
)
from discovery.search.novelty import make_novelty
from discovery.search.operators import float_literals, tune_constants
from discovery.search.selection import AlmaSteps, EliteGrid, adas_archive, select_parent
from evaluators.executors import open_executor
from evaluators.sandbox import Executor, Sandbox
from evaluators.task import Task, TaskError, first_line, load_task
from prompts import render

AGENT = "[agent_model]"
"""The agent model's key among the clients (no model name has brackets)."""

STOPPED = "stopped (Ctrl-C): the iterations in flight were finished and committed"
INTERRUPTED = ("interrupted (Ctrl-C): stopped at once; what was in flight is redone by "
               "`discover resume`")


class Campaign:
    def __init__(self, config: CampaignConfig, run_dir: Path, writer: ArchiveWriter,
                 task: Task, log: Callable[[dict[str, Any]], None],
                 clients: dict[str, ModelClient], liveness: Liveness):
        self.config, self.run_dir, self.writer, self.task, self.log = (config, run_dir, writer,
                                                                       task, log)
        self.clients, self.liveness = clients, liveness
        self.stopping = self.abandoned = False
        """Ctrl-C pressed once (finish what is in flight, then stop), twice (stop now)."""
        self.agent_models = None if config.agent_model is None else AgentModels(
            config.agent_model, clients[AGENT], writer.purpose_totals(AGENT_PURPOSE, EMBED_PURPOSE))
        for message in sorted({c.warning for c in clients.values()
                               if isinstance(c, Recorder | Replayer) and c.warning}):
            self.warn(message)
        done = writer.events("iteration", limit=10**9)
        self.done = {d["n"] for _, _, d in done}
        self.proposed = self._recorded_proposals()
        """Proposals recorded by earlier commits whose iterations never committed (a kill, a
        second Ctrl-C): continued from their evaluation, not asked again."""
        self.children: dict[int, str] = {}
        """Code hashes of the children proposed and not yet committed, by iteration (written by
        the proposal threads, under `_children_lock`): what a new plan knows is in flight."""
        self._children_lock = threading.Lock()
        last_state = next((d["ensemble"] for _, _, d in done if "ensemble" in d), None)
        self.ensemble = Ensemble(config.models, last_state)
        summary = writer.summary()
        self.budget = Budget(config.budgets.tokens, config.budgets.cost,
                             summary.tokens_in + summary.tokens_out, summary.cost)
        self.best = summary.best
        self.since_best = 0
        self.stale: dict[int, int] = {}
        """Per island: its iterations since its best last improved (counted from this start)."""
        self.island_best = {i: p.score for i in range(config.selection.islands)
                            if (p := writer.best(i)) is not None}
        self.grid = EliteGrid.rebuild(writer, task.config.descriptors) \
            if config.selection.strategy == "map_elites" else None
        self.alma_steps = AlmaSteps() if config.selection.strategy == "alma" else None
        edits = config.edits
        self.proposer = Proposer(
            config, task, clients, make_novelty(edits.novelty_threshold, edits.novelty_embedding,
                                                edits.embedding_threshold),
            writer.path, next((d["insights"] for _, _, d in writer.events("scratchpad", 1)), ""))
        self.proposer = make_proposer(self.proposer, config.proposer, config.runs_dir,
                                      self._agent)
        if self.proposer.prompts is not None:
            self.proposer.prompts.spent = self.budget.add
        self._tops: dict[tuple[int, int | None], list[Program]] = {}
        self.broken: str | None = None
        """Why the campaign cannot go on (its seed program fails, its scorer raised, a model
        refused the key), when it cannot: it stops, and the CLI exits 1 with this line."""
        model_call_s = max((_call_limit(c.spec) for c in clients.values()), default=0.0)
        if config.proposer.program != "builtin":  # each request runs the program, its calls in it
            model_call_s = max(model_call_s, config.proposer.wall_s)
        self.proposal_limit_s = model_call_s * (2 + edits.repair_turns + edits.reflexion_rounds
                                                + edits.analysis)
        """The longest one proposal may take: its model calls (the proposal, repair and
        reflexion turns, an analysis, an embedding), each with its timeouts and retries."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the campaign: archived (for
        `discover status`) and shown."""
        self.writer.log_event("warning", {"message": message})
        self.log({"event": "warning", "message": message})

    @staticmethod
    def _clients(config: CampaignConfig, run_dir: Path) -> dict[str, ModelClient]:
        """Every model's client, made before anything is written: a model that cannot be set
        up (no weights, no transcript to replay) fails here and leaves no half-made run."""
        def client(spec: ModelSpec) -> ModelClient:
            if config.replay is not None:
                return Replayer(spec, config.replay)
            inner = make_client(spec)
            return Recorder(inner, run_dir / "transcript.jsonl") if config.transcript else inner
        clients = {spec.name: client(spec) for spec in config.models}
        if config.agent_model is not None:  # keyed apart: it may be one of the meta models
            clients[AGENT] = client(config.agent_model)
        return clients

    # -- start and resume -----------------------------------------------------------------

    @classmethod
    def start(cls, config: CampaignConfig, log: Callable[[dict[str, Any]], None], *,
              check: bool | None = None,
              clients: dict[str, ModelClient] | None = None) -> "Campaign":
        """A new campaign. `check`: preflight every model before anything is written (None:
        no check; False: keys only, no call; True: keys and one cheap call each). `clients`:
        the models' clients, made by the caller (the meta task's inner campaigns)."""
        task = _searchable(load_task(config.task))
        name = config.name or f"{task.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        if config.agent_model is None and task.config.agent_model is not None:
            config = config.model_copy(update={
                "agent_model": AgentModelConfig(name=task.config.agent_model)})
        if config.agent_model is not None:
            config = config.model_copy(update={"agent_model": task_budget(
                config.agent_model, task.config.agent_calls_per_evaluation)})
        config = _resolved(config.model_copy(update={"name": name}))
        run_dir = Path(config.runs_dir) / name
        if archive_path(run_dir).exists():
            raise ArchiveError(f"a campaign named {name!r} already exists in {run_dir.parent}: "
                               f"`discover resume {name}`, or choose another name")
        check_program(config.proposer, config.runs_dir)
        clients = clients or cls._clients(config, run_dir)
        if check is not None:
            preflight(clients, call=check)
        liveness = Liveness(run_dir)  # before the archive: no reader sees it dead meanwhile
        try:
            writer = ArchiveWriter.create(archive_path(run_dir), name=name, task=task.name,
                                          config=config.model_dump(mode="json"),
                                          seed=config.seed, evaluator_version=task.version)
        except BaseException:
            liveness.close()
            raise
        atomic_write_text(run_dir / "campaign.json", json.dumps(config.model_dump(mode="json"),
                                                                indent=1) + "\n")
        writer.log_event("campaign_started", {"task_root": str(task.root)})
        return cls(config, run_dir, writer, task, log, clients, liveness)

    @classmethod
    def resume(cls, run_dir: Path, log: Callable[[dict[str, Any]], None],
               overrides: list[str] = (), *, check: bool | None = None,
               more: bool = False) -> "Campaign":
        """Continue a campaign with the config it last ran with, changed by `--set KEY=VALUE`
        overrides (recorded, so that the next resume keeps them; task and name stay). `check`:
        as `start`'s; `more`: refuse (one line saying which budget to raise) when a budget
        would stop it before its first iteration, as it does a finished run."""
        liveness = Liveness(run_dir)  # a campaign running here already is refused
        writer = None
        try:
            writer = ArchiveWriter(archive_path(run_dir))
            stored = last_config(writer)
            config = _resolved(apply_overrides(stored, overrides, run_dir))
            if (config.task, config.name) != (stored.get("task"), stored.get("name")):
                raise ConfigError(f"{run_dir}: a resumed campaign keeps its task and name; "
                                  "start a new one with `discover run` to change them")
            task = _searchable(load_task(config.task))
            clients = cls._clients(config, run_dir)
            if check is not None:
                preflight(clients, call=check)
            campaign = cls(config, run_dir, writer, task, log, clients, liveness)
            campaign._export_best()  # even for a finished run: its file may be missing
            spent = campaign._stop_reason(time.monotonic()) if more else None
            if spent is not None:
                raise ConfigError(_more_hint(spent, config, run_dir))
        except BaseException:
            if writer is not None:
                writer.close()
            liveness.close()
            raise
        if task.version != writer.campaign().evaluator_version:
            writer.set_evaluator_version(task.version)  # old scores stop being compared
            log({"event": "evaluator_changed", "version": task.version})
        event: dict[str, Any] = {"done": len(campaign.done)}
        if config.model_dump(mode="json") != stored:
            event["config"] = config.model_dump(mode="json")
            atomic_write_text(run_dir / "campaign.json", json.dumps(event["config"], indent=1)
                              + "\n")
        writer.log_event("campaign_resumed", event)
        return campaign

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> str:
        """plan -> propose -> evaluate -> commit until a budget or stop rule says stop; returns
        why it stopped. Each stage's threads are pipeline.py's business."""
        start, todo = time.monotonic(), self._numbers()
        budget = self.config.budgets.iterations or 10**12
        self.log({"event": "started", "done": len(self.done), "budgets":
                  self.config.budgets.model_dump(), "best": self.best.score if self.best
                  else None, "resumed": bool(self.done), "run_dir": str(self.run_dir),
                  "test_doubles": campaign_label(self.writer)})
        parallel = self.config.parallel
        try:
            with self._ctrl_c(), open_executor(
                    self.config.executor, size=parallel.evaluations,
                    preload=tuple(self.task.config.preload),
                    gpus=parallel.gpus(self.task.config.gpus)) as executor:
                reason = run_pipeline(
                    Stages(plan=lambda: self._next_plan(next(todo)),  # parent, operator, model
                           propose=self._propose_stage,  # model call, edit checks, repair turns
                           evaluate=lambda outcome: self._evaluate_stage(outcome, executor),
                           commit=self._commit,  # one archive transaction per iteration
                           track=self._track),  # what is in flight, for the heartbeat
                    parallel.proposals, parallel.evaluations, lag=parallel.effective_lag(
                        serial=self.config.selection.strategy == "adas"),
                    stop=lambda: self._stop_reason(start),
                    room=lambda in_flight: self._room(in_flight, budget),
                    abandon=lambda: INTERRUPTED if self.abandoned else None)
        except KeyboardInterrupt:  # Ctrl-C outside the main thread's handler (a library user)
            reason = INTERRUPTED
        except Exception as exc:
            if _disk_full(exc):  # nothing more can be written: the message says what to do
                raise ArchiveError(
                    f"the disk is full ({exc}): every finished iteration is committed; free "
                    f"space, then `discover resume {self.run_dir}`") from exc
            with contextlib.suppress(Exception):  # a bug of ours: it propagates, but the
                self.writer.log_event("campaign_stopped",  # archive says the campaign stopped
                                      {"reason": f"crashed: {first_line(exc)}",
                                       "state": "failed"})
            raise
        self._finish(reason)
        return reason

    @contextlib.contextmanager
    def _ctrl_c(self):
        """Within the block, Ctrl-C is answered at once (a `stopping` event naming what is in
        flight) and ends the campaign after the iterations in flight; a second Ctrl-C ends it
        now. Only the main thread can take signals: elsewhere Ctrl-C is Python's."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def pressed(signum: int, frame: Any) -> None:
            waiting = describe(self.liveness.in_flight())
            if not self.stopping:
                self.stopping = True
                self.log({"event": "stopping", "in_flight": list(waiting), "message": (
                    f"stopping: waiting for {', '.join(waiting)}; press Ctrl-C again to stop "
                    "now" if waiting else "stopping: nothing in flight")})
            elif not self.abandoned:
                self.abandoned = True
                self.log({"event": "abandoning", "in_flight": list(waiting), "message": (
                    "stopping now: " + (f"{', '.join(waiting)} will be redone by `discover "
                                        f"resume {self.run_dir}`" if waiting else
                                        "nothing was in flight"))})

        previous = signal.signal(signal.SIGINT, pressed)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _track(self, stage: str, plan: Plan) -> contextlib.AbstractContextManager[Any]:
        """What a stage of iteration `plan.n` is doing, in the heartbeat while it runs."""
        n, edits = plan.n, self.config.edits
        if stage == "propose":
            if plan.op is not Op.LLM:  # a seed, a copy, a baseline: nothing to wait for
                return contextlib.nullcontext()
            return self.liveness.doing(f"model call for iteration {n} ({plan.model})",
                                       self.proposal_limit_s)
        if plan.op is Op.TUNE:
            return self.liveness.doing(f"tuning for iteration {n}",
                                       _evaluation_limit(self.task) * edits.tune_evaluations)
        return self.liveness.doing(
            f"evaluation for iteration {n}", _evaluation_limit(self.task) * (
                1 + edits.debug_turns) + self.proposal_limit_s * edits.debug_turns)

    def _numbers(self):
        """Iteration numbers still to do: gaps left by a crash first, then onwards."""
        highest = max(self.done, default=-1)
        yield from (n for n in range(highest + 1) if n not in self.done)
        n = highest + 1
        while True:
            yield n
            n += 1

    def _room(self, in_flight: int, budget: int) -> bool:
        """Whether one more iteration may start beside those in flight: the budget leaves room,
        and the archive has a scored program to start from. Until the seed is scored every plan
        would be the seed again, evaluated again (proposals + evaluations - 1 runs of it, with
        the model idle), so the seed runs alone."""
        return len(self.done) + in_flight < budget and (in_flight == 0 or self.best is not None)

    def _stop_reason(self, start: float) -> str | None:
        budgets = self.config.budgets
        if self.broken is not None:
            return self.broken
        if self.stopping:
            return STOPPED
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
            return Plan(n, island, Op.SEED, parent=self._evaluated_seed())
        baselines = list(self.task.baselines) if config.seed_baselines else []
        if n < islands + len(baselines):
            return Plan(n, island, Op.BASELINE, baseline=baselines[n - islands])
        every, stagnation = config.selection.migration_every, config.selection.stagnation
        if islands > 1 and every and n % every == 0:
            source = writer.best((island - 1) % islands)
            if source is not None:
                return Plan(n, island, Op.MIGRATION, parent=source)
        if islands > 1 and stagnation and self.stale.get(island, 0) >= stagnation:
            self.stale[island] = 0
            source = writer.best()
            if source is not None and source.island != island:
                return Plan(n, island, Op.RESEED, parent=source)  # a stuck island restarts
        if config.selection.strategy == "adas":  # no parent: the whole archive is the context
            return Plan(n, island, Op.LLM, None, adas_archive(writer), self.ensemble.choose(rng),
                        EditFormat.REWRITE, self._top_k(5, island))
        parent = select_parent(writer, config.selection, island, rng, self.grid,
                               self.alma_steps)
        if parent is None and island not in self.done:
            # The island's seed copy (iteration `island`) is not committed yet: a lagged plan
            # runs ahead of it. Build on the seed, as the island will, not a restart.
            parent = self._evaluated_seed()
        if parent is None:
            return Plan(n, island, Op.RESTART, parent=self._evaluated_seed())
        draw = rng.random()
        if draw < config.edits.tune_share:
            if float_literals(parent.code):  # else there is nothing to tune: ask the model
                return Plan(n, island, Op.TUNE, parent=parent)
        elif draw < config.edits.tune_share + config.edits.restart_share:
            return Plan(n, island, Op.RESTART, parent=self._evaluated_seed())
        neighbours = self._top_k(5, island)
        # the best (a copy of the parent's code would teach the model nothing)
        inspirations = [p for p in self._top_k(2) if p.code != parent.code][:1]
        # and a diverse one: a good program of another island (or further down this one)
        others = [i for i in range(islands) if i != island]
        pool = self._top_k(8, rng.choice(others)) if others else self._top_k(16, island)[4:]
        seen = {parent.code, *(p.code for p in inspirations)}
        diverse = [p for p in pool if p.code not in seen]
        inspirations += [rng.choice(diverse)] if diverse else []
        model = self.ensemble.choose(rng)
        mix = self.clients[model].spec.edit_mix
        # in the enum's order: a resumed config's mix comes back from JSON with sorted keys
        formats = [f for f in EditFormat if mix.get(f, 0) > 0
                   and (f != EditFormat.CROSSOVER or inspirations)]
        edit_format = rng.choices(formats, weights=[mix[f] for f in formats], k=1)[0] \
            if formats else EditFormat.REWRITE
        return Plan(n, island, Op.LLM, parent, inspirations, model, EditFormat(edit_format),
                    neighbours)

    def _next_plan(self, n: int) -> Plan:
        """Iteration n's plan: the recorded one when its proposal was recorded, else made."""
        recorded = self.proposed.get(n)
        if recorded is not None:
            return recorded.plan
        plan = self._plan(n)
        with self._children_lock:
            plan.in_flight = frozenset(self.children.values())
        return plan

    def _evaluated_seed(self) -> Program | None:
        """The task's seed as the archive scored it, once it has (ok): later seeds and restarts
        copy that evaluation instead of running the same code again."""
        programs = self.writer.programs(self.writer.find_by_hash(self.task.seed_code))
        return next((p for p in programs if p.status == "ok"), None)

    def _top_k(self, k: int, island: int | None = None) -> list[Program]:
        """The archive's (or an island's) k best, cached until a commit could change them."""
        top = self._tops.get((k, island))
        if top is None:
            top = self._tops[(k, island)] = self.writer.top_k(k, island)
        return top

    # -- working (worker thread: model, edit checks, sandbox; no archive writes) ----------

    def _propose_stage(self, plan: Plan) -> Outcome:
        outcome = self.proposed.pop(plan.n, None) or self._proposal(plan)
        if outcome.code is not None:
            with self._children_lock:
                self.children[plan.n] = code_hash(outcome.code)
        return outcome

    def _proposal(self, plan: Plan) -> Outcome:
        outcome = Outcome(plan)
        if plan.copies:
            outcome.code = plan.parent.code  # scored already: its evaluation is copied at commit
        elif plan.op in (Op.SEED, Op.RESTART):
            outcome.code = self.task.seed_code
        elif plan.op is Op.BASELINE:
            outcome.code = self.task.baselines[plan.baseline]
        elif plan.op is Op.LLM:
            try:
                self.proposer.propose(outcome)
            except ModelError as exc:
                outcome.calls.extend(exc.attempts)
                outcome.fatal = str(exc)
        return outcome

    def _evaluate_stage(self, outcome: Outcome, executor: Executor) -> Outcome:
        try:
            if outcome.plan.op is Op.TUNE:
                self._tune(outcome, executor)
            else:
                outcome.results = self.task.evaluate(outcome.code, executor,
                                                     model=self._agent(outcome.calls))
                outcome.evaluations = 1
                for turn in range(self.config.edits.debug_turns):
                    if not _needs_debug(outcome) or not self.proposer.debug(outcome, turn):
                        break
                    outcome.results = self.task.evaluate(outcome.code, executor,
                                                         model=self._agent(outcome.calls))
                    outcome.evaluations += 1
        except TaskError as exc:
            outcome.fatal = str(exc)
        return outcome

    def _agent(self, calls: list[ModelCall]) -> EvaluationModel | None:
        """The agent model of one evaluation; its calls are appended to `calls`."""
        return None if self.agent_models is None else self.agent_models.for_evaluation(calls)

    def _tune(self, outcome: Outcome, executor: Executor) -> None:
        """CMA-ES over the parent's float constants; the best setting becomes the child."""
        tried: dict[str, list[EvaluationResult]] = {}

        def score(code: str) -> float | None:
            results = tried[code] = self.task.evaluate(code, executor,
                                                       model=self._agent(outcome.calls))
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

    # -- committing (main thread: one transaction per iteration) ---------------------------

    def _commit(self, outcome: Outcome, ahead: list[Outcome]) -> None:
        plan, writer = outcome.plan, self.writer
        with self._children_lock:
            self.children.pop(plan.n, None)
        if outcome.fatal is not None:
            # The task's or the model's fault, not the program's: no program is blamed and no
            # iteration event written (resume redoes it once that is fixed); its model calls,
            # failed ones included, are still recorded and counted.
            with writer.batch():
                self._record_proposals(ahead)
                for call in outcome.calls:
                    writer.record_model_call(ModelCall(**{**call.__dict__, "iteration": plan.n}))
                    self.budget.add(call)
            self._halt(outcome.fatal)
            return
        program_id, final = None, None
        with writer.batch():
            self._record_proposals(ahead)
            if outcome.code is not None and (outcome.results or plan.copies):
                proposal = plan.op is Op.LLM
                crossover = proposal and plan.edit_format is EditFormat.CROSSOVER
                parents = (plan.parent.id,) if plan.parent else ()
                if crossover:
                    parents += (plan.inspirations[0].id,)
                program_id = writer.add_program(NewProgram(
                    outcome.code, parents=parents,
                    inspirations=() if crossover else tuple(p.id for p in plan.inspirations),
                    island=plan.island, model=plan.model,
                    prompt_template=plan.edit_format if proposal else None,
                    edit_kind=plan.edit_format if proposal else plan.op,
                    edit_text=outcome.answer))
                results = outcome.results or [self._copied_result(plan.parent)]
                for i, result in enumerate(results):
                    writer.record_evaluation(program_id, result, final=i == len(results) - 1)
                final = results[-1]
            for call in outcome.calls:
                writer.record_model_call(ModelCall(**{**call.__dict__, "iteration": plan.n,
                                                      "program_id": program_id}))
                self.budget.add(call)
            # a child improved on its parent, or, made from the whole archive (ADAS), on the
            # best before it: the ensemble's reward
            before = plan.parent.score if plan.parent is not None else \
                (self.best.score if self.best is not None else None)
            improved = (final is not None and final.status == "ok" and before is not None
                        and final.score > before)
            if plan.model is not None:
                self.ensemble.update(plan.model, 1.0 if improved else 0.0)
            event = {"n": plan.n, "op": plan.op, "island": plan.island, "model": plan.model,
                     "edit_format": plan.edit_format if plan.op is Op.LLM else None,
                     "parent": plan.parent.id if plan.parent else None,
                     "inspirations": [p.id for p in plan.inspirations],
                     "program": program_id, "turns": outcome.turns,
                     "valid_edit": outcome.code is not None if plan.op is Op.LLM else None,
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
            self._export_best()
        else:
            self.since_best += 1
            if plan.op in (Op.SEED, Op.RESTART) and self.best is None and final is not None:
                self.broken = (f"the task's seed program fails its evaluation ({final.status}: "
                               f"{final.reason}): fix the task or its environment, then "
                               f"`discover resume {self.run_dir}`")
        self.log({**event, "best": self.best.score if self.best else None,
                  "tokens": self.budget.tokens, "cost": self.budget.cost})
        every = self.config.edits.scratchpad_every
        if every and len(self.done) % every == 0 and plan.n >= self.config.selection.islands:
            self._scratchpad(plan.n)

    def _record_proposals(self, proposals: list[Outcome]) -> None:
        """Proposals of later iterations, as made (in the commit's transaction): a resume
        continues them rather than asking again from an archive that has moved on. One the
        user must fix first (a revoked key) is asked again."""
        debug = self.config.edits.debug_turns > 0
        for proposal in proposals:
            if proposal.fatal is None:
                self.writer.log_event("proposal", proposal.record(conversation=debug))

    def _recorded_proposals(self) -> dict[int, Outcome]:
        """The recorded proposals (the newest for a number) of iterations with no `iteration`
        event, whose model is still configured."""
        records = {d["n"]: d for _, _, d in reversed(self.writer.events("proposal", 10**9))
                   if d["n"] not in self.done}
        return {n: Outcome.restore(d, self.writer.program) for n, d in records.items()
                if d["model"] is None or d["model"] in self.clients}

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
                  if d.get("op") == Op.LLM]
        refused = [d["reason"] for d in recent if not d.get("valid_edit") and d.get("reason")]
        lines += [f"refused edit: {reason}" for reason in refused[:5]]
        model = self.ensemble.choose(random.Random(f"{self.config.seed}:{n}:scratchpad"))
        messages = [{"role": "user", "content": render(
            "scratchpad/user.md", task=self.task.config.summary, history="\n".join(lines))}]
        try:
            with self.liveness.doing(f"scratchpad model call after iteration {n}",
                                     _call_limit(self.clients[model].spec)):
                answer = self.clients[model].complete(messages, purpose="scratchpad", seed=n)
            calls, text = list(answer.attempts), answer.text
        except CallFailed as exc:
            calls, text = exc.attempts, None
        except ModelError as exc:
            calls, text = list(exc.attempts), None
            self._halt(str(exc))
        insights = "\n".join(line.strip() for line in (text or "").splitlines()
                             if line.strip().startswith("- "))[:1500]
        with writer.batch():
            for call in calls:
                writer.record_model_call(call)
                self.budget.add(call)
            if insights:
                writer.log_event("scratchpad", {"after": n, "insights": insights})
        if insights:
            self.proposer.insights = insights

    def _halt(self, problem: str) -> None:
        """Stop the campaign for a problem the user must fix (the first one found wins)."""
        if self.broken is None:
            self.broken = (f"{problem}; once that is fixed, `discover resume {self.run_dir}` "
                           "continues")

    @staticmethod
    def _copied_result(parent: Program) -> EvaluationResult:
        return EvaluationResult("migrated", parent.status, parent.score,
                                reason=f"copy of program {parent.id}")

    def _finish(self, reason: str) -> None:
        held_out = None
        best = self.best.id if self.best else None
        # Nothing more to measure for a broken task or model; a user who pressed Ctrl-C wants
        # the prompt back, not a held-out run (minutes for some tasks: `discover report`).
        if self.best is not None and self.task.config.held_out is not None \
                and self.broken is None and reason not in (STOPPED, INTERRUPTED):
            calls: list[ModelCall] = []
            try:
                with self.liveness.doing(f"held-out evaluation of #{best}",
                                         _evaluation_limit(self.task, held_out=True)):
                    final = self.task.evaluate(self.best.code, Sandbox(), held_out=True,
                                               model=self._agent(calls))[-1]
                held_out = {k: v for k, v in final.private_metrics.items()
                            if k.startswith("held_out")}
            except TaskError as exc:  # the held-out stage's scorer raised: the task's bug
                held_out = {"held_out_status": "task error", "held_out_reason": str(exc)}
            except KeyboardInterrupt:  # Ctrl-C during it: the stop is still recorded
                held_out = {"held_out_status": "skipped (Ctrl-C)"}
            with self.writer.batch():
                for call in calls:
                    self.writer.record_model_call(ModelCall(**{**call.__dict__,
                                                              "program_id": best}))
                    self.budget.add(call)
        state: State = "failed" if self.broken is not None else stop_state(reason)
        self.writer.log_event("campaign_stopped", {"reason": reason, "held_out": held_out,
                                                   "program": best, "state": state}, best)
        self.log({"event": "stopped", "reason": reason,
                  "best": self.best.score if self.best else None, "held_out": held_out,
                  "test_doubles": campaign_label(self.writer)})

    def exported(self) -> Path | None:
        """The best program's export, when the file holds the archive's best as it scores now
        (None when there is no best, or the file is missing or another program's)."""
        out = self.run_dir / "best" / "best_program.py"
        facts = exported_provenance(out) or {}
        current = self.best is not None and \
            (facts.get("program_id"), facts.get("score")) == (self.best.id, self.best.score)
        return out if current else None

    def _export_best(self) -> None:
        """(Re)write the best export unless it is current: after a new best, and on resume,
        since a kill between committing a new best and writing its file leaves the file
        missing or stale."""
        if self.best is not None and self.exported() is None:
            export_module(self.writer, self.best.id, self.run_dir / "best" / "best_program.py")

    def close(self) -> None:
        """Close the archive and give the run directory back (the lock, the heartbeat)."""
        try:
            self.writer.close()
        finally:
            self.liveness.close()


def _needs_debug(outcome: Outcome) -> bool:
    """A model's proposal that failed to run or scored 0 (ADAS: an agent that raises, or
    answers nothing right)."""
    final = outcome.results[-1]
    return outcome.plan.op is Op.LLM and bool(outcome.conversation) and (
        final.status in ("crashed", "invalid", "timeout") or (
            final.status == "ok" and final.score == 0))


def _call_limit(spec: ModelSpec) -> float:
    """The longest one model call may take: each attempt's timeout, and the backoff between
    attempts (doubling from backoff_s)."""
    return spec.timeout_s * (spec.max_retries + 1) + spec.backoff_s * (2 ** spec.max_retries)


def _evaluation_limit(task: Task, held_out: bool = False) -> float:
    """The longest one evaluation may take: every case's wall limit, stage after stage, plus a
    minute for the sandbox's start and the scorers."""
    stages = [task.config.held_out] if held_out and task.config.held_out else \
        task.config.stages
    return 60.0 + sum(len(stage.cases) * stage.limits.wall_s for stage in stages)


def _more_hint(spent: str, config: CampaignConfig, run_dir: Path) -> str:
    """What to pass to `resume` for a campaign whose budget `spent` already stops it."""
    budgets = config.budgets
    if spent == "budget: iterations":
        return (f"{run_dir} has done its {budgets.iterations} iterations: pass a larger "
                f"total, e.g. `discover resume {run_dir} --iterations "
                f"{budgets.iterations * 2}`")
    if spent.startswith("budget: token"):
        return (f"{run_dir} has spent its {spent.removeprefix('budget: ')}: raise it, e.g. "
                f"`discover resume {run_dir} --set budgets.tokens={budgets.tokens * 2}`")
    if spent.startswith("budget: cost"):
        return (f"{run_dir} has spent its {spent.removeprefix('budget: ')}: raise it, e.g. "
                f"`discover resume {run_dir} --set budgets.cost={budgets.cost * 2:g}`")
    return (f"{run_dir} has stopped ({spent}): raise the target, e.g. `discover resume "
            f"{run_dir} --set budgets.target=<a higher score>`")


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or \
            "full" in str(exc)
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


def last_config(reader: ArchiveReader) -> dict[str, Any]:
    """The config the campaign last ran with: the stored one, or what a resume changed it to."""
    changed = (d["config"] for _, _, d in reader.events("campaign_resumed", 10**9)
               if "config" in d)
    return next(changed, reader.campaign().config)


def _resolved(config: CampaignConfig) -> CampaignConfig:
    """The config with each model's spec as its client will run it (`models.resolve`): what is
    stored is exactly what ran, and a resume runs the same again."""
    agent = config.agent_model and resolve_agent(config.agent_model)
    return config.model_copy(update={"models": [resolve(spec) for spec in config.models],
                                      "agent_model": agent})


def _searchable(task: Task) -> Task:
    """A task whose seed the edits can work on (load_task checked its entry point); else a
    TaskError before anything is written."""
    try:
        evolve_block(task.seed_code)
    except EditError as exc:
        raise TaskError(f"{task.root / task.config.seed}: {exc}; mark the code the model may "
                        f"change with a line {START} before it and a line {END} after it") \
            from exc
    task.prepare()
    return task
