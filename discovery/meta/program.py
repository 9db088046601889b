"""Proposers as programs: the campaign's proposer, run as an untrusted program in the sandbox.

A proposer program (the meta room's candidate format; its seed is
evaluators/tasks/meta/meta_proposer/seed.py) defines `propose(request, tools)`: given plain
data (the prompt the built-in proposer would send, the task description, the parent's code
and metrics, inspirations, its children's failures) it returns an edit in the request's
format (or a whole child program), calling the campaign's meta model only through `tools.model` and
scoring drafts only through `tools.evaluate` (the task's first stage), both answered here,
counted and budgeted (`[proposer]`).

The built-in `Proposer` keeps every step it owns (the prompt, edit checks, repair turns,
reflexion, novelty): `ProgramProposer` only puts the program between it and the model. Each
`client.complete` of the built-in becomes one request to the program, and the program's model
calls reach the real client with the same purpose, seed and temperature; so the seed program
(one model call, its answer returned as it is) makes the same archive as `proposer =
"builtin"`.

Where the program runs is a `Runner`'s business: `SandboxRunner` runs it once per request in a
fresh sandbox (any campaign's `--proposer`), the meta task's `Session` hands requests to a
candidate that is already running (an inner campaign). Whatever the program does (raises,
loops, answers garbage, spends its budget) ends as that request's failure, which the built-in
records as a failed proposal: never as a stopped campaign.
"""

import ast
import dataclasses
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from archive import ArchiveError, ArchiveReader, ModelCall, archive_path
from discovery.config import ConfigError, ProposerSettings
from discovery.loop.plan import EditFormat, Outcome, Plan
from discovery.loop.proposer import Proposer
from discovery.models.base import CallFailed, Completion, Messages, ModelClient, ModelError
from discovery.search.edits import (
    START,
    EditError,
    apply_diff,
    block_text,
    extract_code,
    rewrite_block,
)
from evaluators.agent_model import (
    AgentModel,
    AgentModelError,
    checked_messages,
    checked_temperature,
)
from evaluators.catalog import TASKS_DIR
from evaluators.sandbox import Executor, Limits, Sandbox
from evaluators.task import Task, TaskError, first_line, parse_python

API_FILE = TASKS_DIR / "meta" / "_shared" / "proposer_api.py"
"""The sandbox side of the protocol (`serve`, `Tools`), written next to the program."""
SEED_FILE = TASKS_DIR / "meta" / "meta_proposer" / "seed.py"
"""The seed proposer program: the built-in proposer as a program."""
ENTRY, ORACLE_ARG = "main", "oracle"
SEED_STRIDE = 1000
"""A program's k-th model call in one request gets the request's seed + k * SEED_STRIDE: the
first call is the built-in's own, later ones sample apart."""
MAX_ANSWER = 200_000
"""Characters of a program's answer (the model's answers are far shorter)."""


class ProposerFailed(Exception):
    """A proposer program gave no usable answer to one request; the message says why."""


@dataclasses.dataclass(frozen=True)
class Tools:
    """What one request's program may call, answered on the trusted side."""

    model: Callable[[Messages, float | None], str]
    evaluate: Callable[[Any], dict[str, Any]]


class Runner(Protocol):
    def ask(self, request: dict[str, Any], tools: Tools) -> str:
        """The program's answer to `request`, or ProposerFailed."""
        ...


class Session:
    """The trusted end of one proposer program's run (its oracle): `["next", answer]` hands
    back the answer to the last request and waits for the next one (None: no more work);
    `["model", messages, temperature]` and `["evaluate", draft]` call the request's tools
    within `settings`' budgets. `ask` (another thread) posts a request and waits for its
    answer at most `settings.wall_s`; a program that lets that pass is taken as gone, and
    every later request fails at once."""

    def __init__(self, settings: ProposerSettings):
        self.settings = settings
        self._jobs: queue.Queue[tuple[dict[str, Any], Tools] | None] = queue.Queue()
        self._answers: queue.Queue[Any] = queue.Queue()
        self._tools: Tools | None = None
        self._calls = self._evaluations = 0
        self.ended: str | None = None
        """Why the program takes no more requests, once it does not."""
        self.requests = 0
        self.model_calls = 0
        self.evaluations = 0
        """Totals over the run, for the bench and the meta task's metrics."""

    def __call__(self, request: Any) -> Any:
        if not isinstance(request, list) or not request or request[0] not in (
                "next", "model", "evaluate"):
            raise ValueError("a request is ['next', answer], ['model', messages, temperature] "
                             "or ['evaluate', draft]")
        kind, args = request[0], request[1:]
        if kind == "next":
            if self._tools is not None:
                self._answers.put(args[0] if args else None)
                self._tools = None
            job = self._jobs.get()
            if job is None:
                return None
            self.requests += 1
            payload, self._tools = job
            self._calls = self._evaluations = 0
            return payload
        if self._tools is None:
            raise ValueError("no request is open: call model and evaluate inside propose")
        if kind == "model":
            if self._calls >= self.settings.model_calls:
                raise ValueError(f"the budget of {self.settings.model_calls} model calls for "
                                 "one proposal is spent")
            self._calls += 1
            self.model_calls += 1
            messages, temperature = (*args, None)[:2]
            try:
                return self._tools.model(checked_messages(messages),
                                         checked_temperature(temperature))
            except AgentModelError as exc:
                raise ValueError(str(exc)) from None
        if self._evaluations >= self.settings.evaluations:
            raise ValueError(f"the budget of {self.settings.evaluations} evaluations for one "
                             "proposal is spent")
        self._evaluations += 1
        self.evaluations += 1
        return self._tools.evaluate(args[0] if args else None)

    def post(self, request: dict[str, Any] | None, tools: Tools | None = None) -> None:
        """Queue a request (None: the end of the work) without waiting for its answer."""
        self._jobs.put(None if request is None else (request, tools))

    def ask(self, request: dict[str, Any], tools: Tools) -> str:
        if self.ended is not None:
            raise ProposerFailed(self.ended)
        self.post(request, tools)
        try:
            answer = self._answers.get(timeout=self.settings.wall_s)
        except queue.Empty:
            self.ended = f"the proposer program gave no answer within {self.settings.wall_s:g} s"
            raise ProposerFailed(self.ended) from None
        return checked_answer(answer, self.ended)

    def answered(self) -> Any:
        """The answer already handed back (a one-request run), or None."""
        try:
            return self._answers.get_nowait()
        except queue.Empty:
            return None

    def close(self, reason: str) -> None:
        """No more requests: the program's next ask returns None, a waiting `ask` fails."""
        self.ended = self.ended or reason
        self._jobs.put(None)
        self._answers.put(None)


def checked_answer(answer: Any, ended: str | None = None) -> str:
    """The text of a program's answer, or ProposerFailed naming what was wrong with it."""
    if answer is None:
        raise ProposerFailed(ended or "the proposer program ended without answering")
    if not isinstance(answer, dict):
        raise ProposerFailed(f"the proposer program answered {type(answer).__name__}")
    if isinstance(answer.get("error"), str):
        raise ProposerFailed(f"the proposer program raised {answer['error'][-500:]}")
    text = answer.get("text")
    if not isinstance(text, str):
        raise ProposerFailed("the proposer program's answer is not text")
    if len(text) > MAX_ANSWER:
        raise ProposerFailed(f"the proposer program answered {len(text):,} characters (at most "
                             f"{MAX_ANSWER:,})")
    return text


class SandboxRunner:
    """Runs the program once per request in the sandbox (a fresh process each time: nothing
    one request did survives to the next). `code` is asked each time: a campaign that uses its
    own best proposer (`program = "self"`) sees its newest best."""

    def __init__(self, code: Callable[[], str], settings: ProposerSettings,
                 sandbox: Executor | None = None):
        self.code, self.settings = code, settings
        self.sandbox = sandbox or Sandbox()

    def ask(self, request: dict[str, Any], tools: Tools) -> str:
        session = Session(self.settings)
        session.post(request, tools)
        session.post(None)  # after its answer, the program is told there is no more work
        run = self.sandbox.run(
            self.code(), ENTRY, {}, Limits(wall_s=self.settings.wall_s,
                                           cpu_s=self.settings.wall_s),
            oracle=session, oracle_arg=ORACLE_ARG,
            files={API_FILE.name: API_FILE.read_text(encoding="utf-8")})
        answer = session.answered()
        if answer is None and run.status != "ok":
            raise ProposerFailed(f"the proposer program {run.status}: {run.reason}")
        return checked_answer(answer)


class ProgramClient:
    """A meta model as the built-in proposer sees it, with a proposer program in between: one
    `complete` is one request to the program, whose own calls reach `inner`."""

    def __init__(self, inner: ModelClient, proposer: "ProgramProposer"):
        self.inner, self.proposer, self.spec = inner, proposer, inner.spec

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        attempts: list = []
        fatal: list[ModelError] = []
        lock = threading.Lock()

        def model(asked: Messages, asked_temperature: float | None) -> str:
            with lock:
                k = sum(a.purpose == purpose for a in attempts if a.error is None)
            try:
                completion = self.inner.complete(
                    asked, purpose=purpose, seed=None if seed is None else seed + k * SEED_STRIDE,
                    temperature=temperature if asked_temperature is None else asked_temperature)
            except CallFailed as exc:
                with lock:
                    attempts.extend(exc.attempts)
                raise ValueError(f"model call failed: {exc}") from None
            except ModelError as exc:  # a key the user must fix: the campaign's to stop on
                fatal.append(exc)
                with lock:
                    attempts.extend(exc.attempts)
                raise ValueError("the model refused the call") from None
            with lock:
                attempts.extend(completion.attempts)
            return completion.text

        plan = self.proposer.plan()  # the tools may be called on the oracle's thread

        def evaluate(draft: Any) -> dict[str, Any]:
            spent: list[ModelCall] = []  # the agent model's calls, recorded with the proposal
            try:
                return self.proposer.evaluate_draft(draft, plan, spent)
            finally:
                with lock:
                    attempts.extend(spent)

        try:
            text = self.proposer.runner.ask(self.proposer.request(messages, purpose, plan),
                                            Tools(model, evaluate))
        except ProposerFailed as exc:
            if fatal:
                raise ModelError(str(fatal[0]), attempts) from None
            raise CallFailed(str(exc), attempts) from None
        if fatal:
            raise ModelError(str(fatal[0]), attempts)
        text = as_edit(text, plan)
        ok = [a for a in attempts if a.error is None]
        return Completion(self.spec.name, text, sum(a.tokens_in for a in ok),
                          sum(a.tokens_out for a in ok), sum(a.cost for a in attempts),
                          sum(a.latency_s or 0.0 for a in attempts), tuple(attempts))


def as_edit(answer: str, plan: Plan) -> str:
    """A whole child program (its EVOLVE-BLOCK markers in the answer) as the edit the plan asks
    for: a diff plan gets one SEARCH/REPLACE of the parent's whole block; a rewrite takes a
    whole program as it is (the built-in keeps its block). Any other answer is the edit."""
    if START not in answer or plan.edit_format is not EditFormat.DIFF or plan.parent is None:
        return answer
    try:
        new, old = block_text(extract_code(answer)), block_text(plan.parent.code)
    except EditError:
        return answer
    return f"<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"


AgentFactory = Callable[[list[ModelCall]], AgentModel | None]
"""The campaign's agent model for one evaluation, its calls appended to the list (None: the
campaign has no agent model)."""


class ProgramProposer(Proposer):
    """The built-in proposer with a proposer program between it and every meta model. `agent`:
    the campaign's agent model for the `evaluate` tool's drafts, which a task whose scorer calls
    one (the agent and memory rooms, meta_proposer's inner campaigns) needs to score them as
    the campaign will."""

    def __init__(self, builtin: Proposer, runner: Runner, settings: ProposerSettings,
                 sandbox: Executor | None = None, agent: AgentFactory | None = None):
        self.__dict__.update(builtin.__dict__)  # its settings, novelty, prompts, insights
        self._readers = threading.local()
        self.clients = {name: ProgramClient(client, self)
                        for name, client in builtin.clients.items()}
        self.runner, self.settings = runner, settings
        self.sandbox = sandbox or Sandbox()
        self._plans = threading.local()
        self.smoke = _first_stage(builtin.task)
        self.agent = agent

    def propose(self, outcome: Outcome) -> None:
        self._plans.plan = outcome.plan
        super().propose(outcome)

    def debug(self, outcome: Outcome, turn: int) -> bool:
        self._plans.plan = outcome.plan
        return super().debug(outcome, turn)

    def plan(self) -> Plan:
        """The plan this thread is proposing for."""
        return self._plans.plan

    def request(self, messages: Messages, purpose: str, plan: Plan) -> dict[str, Any]:
        """What the program is given, as plain data."""
        parent = plan.parent
        metrics = {}
        if parent is not None:
            final = [e for e in self.reader().evaluations(parent.id) if e.final]
            metrics = final[-1].public_metrics if final else {}
        return {
            "purpose": purpose, "messages": messages, "edit_format": str(plan.edit_format),
            "task": self.task.description,
            "parent": None if parent is None else {
                "id": parent.id, "code": parent.code, "score": parent.score,
                "metrics": metrics},
            "inspirations": [{"id": p.id, "code": p.code, "score": p.score}
                             for p in plan.inspirations],
            "failures": self.reader().child_failures(parent.id, 3) if parent else [],
            "budgets": {"model_calls": self.settings.model_calls,
                        "evaluations": self.settings.evaluations},
        }

    def evaluate_draft(self, draft: Any, plan: Plan, calls: list[ModelCall]) -> dict[str, Any]:
        """The `evaluate` tool: a whole program, or an answer in the plan's edit format applied
        to its parent, scored on the task's first stage with the campaign's agent model (its
        calls appended to `calls`, under the same per-evaluation and campaign budgets as any
        evaluation's)."""
        if not isinstance(draft, str):
            raise ValueError("evaluate takes the draft as text")
        base = plan.parent.code if plan.parent else self.task.seed_code
        try:
            code = draft if START in draft and self.task.static_check(draft) is None else (
                apply_diff if plan.edit_format is EditFormat.DIFF else rewrite_block)(base, draft)
        except EditError as exc:
            return {"status": "invalid", "score": None, "reason": str(exc)}
        try:
            final = self.smoke.evaluate(
                code, self.sandbox, model=None if self.agent is None else self.agent(calls))[-1]
        except TaskError as exc:
            raise ValueError(f"the task could not score the draft: {exc}") from None
        return {"status": final.status, "score": final.score, "reason": final.reason}


def _first_stage(task: Task) -> Task:
    """The task with only its first (cheapest) stage and no held-out stage."""
    config = task.config.model_copy(update={"stages": task.config.stages[:1], "held_out": None})
    return dataclasses.replace(task, config=config)


def is_proposer_program(code: str) -> str | None:
    """Why `code` is not a proposer program (no `propose(request, tools)` or `main(oracle)`),
    or None."""
    try:
        tree = parse_python(code)
    except SyntaxError as exc:
        return f"its code does not parse (line {exc.lineno}: {exc.msg})"
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    missing = [f"{name}()" for name in ("propose", ENTRY) if name not in defined]
    return f"it defines no {' or '.join(missing)}" if missing else None


def load_program(spec: str, runs_dir: str | Path) -> str:
    """The code `[proposer] program` names: `seed` (the built-in as a program), a .py file
    (an exported proposer), or `RUN[:ID]` (a campaign's best program, or program ID, under
    `runs_dir` or at the path RUN). ConfigError (one line) when it names nothing usable."""
    if spec == "seed":
        return SEED_FILE.read_text(encoding="utf-8")
    path = Path(spec)
    if spec.endswith(".py"):
        try:
            code = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"[proposer] program: cannot read {spec} ({exc.strerror}): name "
                              "an exported proposer module, or a run as RUN[:ID]") from exc
    else:
        run, _, number = spec.partition(":")
        run_dir = Path(run) if Path(run).is_dir() else Path(runs_dir) / run
        if not archive_path(run_dir).exists() or (number and not number.isdigit()):
            raise ConfigError(f"[proposer] program {spec!r}: no campaign {run!r} in {runs_dir} "
                              "(write RUN or RUN:ID of a meta_proposer run, a .py file, "
                              "'seed' or 'builtin')")
        from discovery.export import exportable

        try:
            with ArchiveReader(archive_path(run_dir)) as reader:
                code = exportable(reader, int(number) if number else None).code
        except (ArchiveError, KeyError) as exc:
            raise ConfigError(f"[proposer] program {spec!r}: {first_line(exc)}") from exc
    problem = is_proposer_program(code)
    if problem is not None:
        raise ConfigError(f"[proposer] program {spec!r} is not a proposer program: {problem} "
                          "(use a program of a meta_proposer run, e.g. --proposer RUN)")
    return code


def make_proposer(builtin: Proposer, settings: ProposerSettings, runs_dir: str | Path,
                  agent: AgentFactory | None = None) -> Proposer:
    """The campaign's proposer as `[proposer] program` says: the built-in itself, or the
    built-in with a program between it and the model (`agent`: the campaign's agent model, for
    the `evaluate` tool). `self` (a meta_proposer campaign: DGM's loop) runs the campaign's own
    best program so far, the seed proposer until one scores."""
    if settings.program == "builtin":
        return builtin
    if settings.program != "self":
        code = load_program(settings.program, runs_dir)
        return ProgramProposer(builtin, SandboxRunner(lambda: code, settings), settings,
                               agent=agent)
    seed = SEED_FILE.read_text(encoding="utf-8")

    def current() -> str:
        best = proposer.reader().best()
        return best.code if best is not None and is_proposer_program(best.code) is None \
            else seed
    proposer = ProgramProposer(builtin, SandboxRunner(current, settings), settings,
                               agent=agent)
    return proposer


def check_program(settings: ProposerSettings, runs_dir: str | Path) -> None:
    """ConfigError (one line) unless `[proposer] program` names a usable proposer: checked
    before a campaign writes anything."""
    if settings.program not in ("builtin", "self"):
        load_program(settings.program, runs_dir)
