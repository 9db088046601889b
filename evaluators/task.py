"""A task: a self-contained folder with a seed program, a description, a trusted scorer and a
`task.toml` that says how candidates are run and scored, stage by stage.

    evaluators/tasks/<domain>/<name>/     (domains: math, games, agents, memory, rl; a task is
                                          addressed by its plain name; folders starting with
                                          `_` hold a domain's shared trusted code)
      task.toml        entry point, parameters, ideas for prompts, stages (cases, limits,
                       thresholds), held-out stage
      seed.py          the starting program, with EVOLVE-BLOCK-START / EVOLVE-BLOCK-END regions
      description.md   what prompts tell the model about the task
      scorer.py        trusted: score(stage, case, outputs, oracle) -> Metrics (a keyword
                       `cpu_s` gets the run's measured CPU time), optional oracle()
                       and inputs(stage, case) (computed inputs, e.g. a flattened game),
                       prepare(stages) (checks before a campaign starts)
      support modules  trusted helpers (task.toml `support`) the candidate may import

The candidate sees only a stage case's `inputs`; its `secret` (seeds, hidden parameters) stays
with the scorer and the oracle, in this process. The task's version hash covers every file in
the folder plus the harness and scoring helpers, and is stored with every score. The author's
guide, with every key and the scorer's contract: docs/task-authoring.md.
"""

import ast
import contextlib
import dataclasses
import difflib
import functools
import hashlib
import importlib.util
import inspect
import math
import os
import statistics
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from threadpoolctl import ThreadpoolController

from archive.pyparse import parse_python
from archive.records import EvaluationResult
from evaluators import sandbox as sandbox_module
from evaluators import scoring
from evaluators.agent_model import AgentModel
from evaluators.catalog import (  # noqa: F401 (TASKS_DIR: the tests' and scripts' name for it)
    TASKS_DIR,
    task_folders,
    task_names,
)
from evaluators.devices import using
from evaluators.peers.formats import peer_task
from evaluators.sandbox import Executor, Limits, Run
from evaluators.scoring import InvalidOutput, Metrics


class TaskError(Exception):
    """A task folder that cannot be used; the message names the file and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitsConfig(_Strict):
    """What one case's run may use in the sandbox; past a limit the run is stopped and recorded
    as timeout or crashed, with the limit named in the reason."""

    wall_s: float = Field(Limits.wall_s, gt=0)
    """Wall-clock seconds for the run, from start to outputs (a timeout past it)."""
    cpu_s: float = Field(Limits.cpu_s, gt=0)
    """CPU seconds over all of the run's processes and threads."""
    memory_mb: int = Field(Limits.memory_mb, gt=0)
    """Address space (RLIMIT_AS) in MB: generous, because numpy and torch reserve far more than
    they touch."""
    processes: int = Field(Limits.processes, gt=0)
    """Processes and threads at once (the run's pids cgroup): a fork bomb stops here."""
    file_mb: int = Field(Limits.file_mb, ge=0)
    """Largest file the candidate may write in its scratch folder, in MB."""
    output_kb: int = Field(Limits.output_kb, gt=0)
    """Kept of stdout and of stderr each (the tail), in kB; past 16x this the run is killed."""
    result_mb: int = Field(Limits.result_mb, gt=0)
    """Largest message on the result channel (the entry point's outputs, or one oracle call),
    in MB; also what the calls waiting for the oracle may hold together (past it the evaluator
    stops reading the channel and the program's next write waits)."""


class CaseConfig(_Strict):
    """One run of the candidate's entry point, scored on its own."""

    name: str
    """Names the case in reasons and, when a stage has several cases, prefixes its metrics
    (`<name>_<metric>`)."""
    inputs: dict[str, Any] = {}
    """Passed to the candidate's entry point as keyword arguments."""
    secret: dict[str, Any] = {}
    """Seen only by the scorer and the oracle (as `case.secret`), never by the candidate."""


class StageConfig(_Strict):
    """A round of cases; stages run in order and a failed one ends the evaluation, so the
    expensive stages run only for programs that passed the cheap ones."""

    name: str
    """Names the stage in results and reasons (`smoke`, `full`...)."""
    cases: list[CaseConfig] = Field(min_length=1)
    """The stage's cases; the stage's score is the mean of their scores, and any case that
    fails fails the stage."""
    threshold: float | None = None
    """A stage score below this stops the evaluation (status rejected) before later stages."""
    limits: LimitsConfig = LimitsConfig()
    """Sandbox limits for each case of the stage (an inline table of LimitsConfig's keys)."""


class DescriptorConfig(_Strict):
    """One axis of the MAP-Elites grid: `code_length` (characters of the program) or a public
    metric of the final stage, cut into `bins` equal cells between `low` and `high` (values
    outside land in the end cells)."""

    name: str
    """`code_length`, or the name of a public metric of the final stage."""
    low: float = 0.0
    """Lower end of the axis."""
    high: float
    """Upper end of the axis."""
    bins: int = Field(8, ge=1)
    """Equal cells between `low` and `high`."""


class TaskConfig(_Strict):
    """A task's `task.toml`: what the candidate writes, how it is run and how it is scored."""

    name: str
    """The task's name: runs, reports and the version hash carry it."""
    summary: str
    """One sentence: what a good program achieves (prompts and the scratchpad show it)."""
    entry: str
    """The function of the seed program that is called with each case's inputs; the task
    check refuses a seed that does not define it with every parameter."""
    parameters: list[str] = []
    """Keyword parameters the entry point must accept."""
    oracle_arg: str | None = None
    """Keyword under which the entry point receives the task's oracle, if the task has one."""
    seed: str = "seed.py"
    """The starting program (relative to the task folder), with its EVOLVE-BLOCK."""
    baselines: str = "baselines"
    """The folder of hand-written programs in the candidate format that reports compare with
    and `seed_baselines` starts from (relative to the task folder: `../_shared/baselines`
    shares a domain's between its tasks)."""
    description: str | list[str] = "description.md"
    """What prompts tell the model about the task (relative to the task folder); a list is
    joined with blank lines, so tasks that share a domain's description add their own part
    (the CFR task's two scoring protocols)."""
    scorer: str = "scorer.py"
    """The trusted scorer module (relative to the task folder)."""
    support: list[str] = []
    """Trusted modules written next to the candidate, which may import them by their file name
    (paths relative to the task folder: `../_shared/x.py` is the domain's shared code)."""
    trusted: list[str] = []
    """Trusted modules outside the folder that the scorer imports (paths relative to it, e.g.
    the domain's shared engine in `../_shared/`); they count in the version hash like the
    folder's own files."""
    agent_model: str | None = None
    """The agent model a campaign uses when its config has no `[agent_model]` (e.g.
    `embedded`): tasks whose programs call a model over the model channel name one."""
    agent_calls_per_evaluation: int | None = Field(None, ge=1)
    """The agent model's `calls_per_evaluation` for this task where the user's `[agent_model]`
    sets none (the user's setting wins): a task whose agent calls the model once a step over
    thousands of episodes (the memory tasks) needs more than the generic default."""
    requirements: list[str] = []
    """Distributions (PEP 508 strings, e.g. "numpy>=1.26") that this task's programs may
    import: `discover export --package` makes them the package's dependencies, with the user's
    `--requires`, and never takes a dependency from what a program's own imports name (a
    candidate could otherwise make an install fetch a package of its choosing)."""
    preload: list[str] = []
    """Modules the warm workers import once before their first job (e.g. `torch`: 3 s per
    fresh import), so that each evaluation pays milliseconds for them, not seconds."""
    gpus: int = Field(0, ge=0)
    """GPUs each evaluation slot owns for this task, unless the campaign's `[parallel]
    gpus_per_evaluation` says otherwise: the slot's sandbox sees only those (their device
    nodes, CUDA_VISIBLE_DEVICES) and the trusted code of its cases (the RL trainer) computes on
    the first; 0: the CPU only. The machine must have evaluations x gpus of them."""
    mistakes: list[str] = []
    """Implementation mistakes models tend to make with this task's API: reflexion rounds and
    debug turns ask the model to check for each (ADAS lists them for its agents)."""
    ideas: list[str] = []
    """Concrete directions for prompts ("use a hexagonal arrangement"): small models need them."""
    report_curve: str | None = None
    """A public metric family `[<series>_]<name>_<t>` (per case, optionally per series within a
    case, and checkpoint t) that `discover report` plots against t, a panel per case or series,
    e.g. exploitability per game, or each run's return against environment steps."""
    report_curve_scale: Literal["log", "linear"] = "log"
    """log: a curve driven down over orders of magnitude (exploitability; a panel's score is its
    mean -log10); linear: a curve to raise (a learning curve; its score is its mean, the area
    under it)."""
    report_curve_x: str = "iteration"
    """What t counts, the x axis' label (e.g. "environment steps")."""
    report_metrics: list[str] = []
    """Public metrics that `discover report` shows next to each score of the seed, the
    baselines and the best, on the search stages and the held-out one: error bars and
    references (`ci_low`, `ci_high`; `gain`, `gain_se`, `no_memory`); a metric of a multi-case
    stage is the mean over its cases."""
    descriptors: list[DescriptorConfig] = [DescriptorConfig(name="code_length", high=4000)]
    """The axes of the MAP-Elites grid (selection strategy map_elites)."""
    stages: list[StageConfig] = Field(min_length=1)
    """The stages, in the order they run (`[[stages]]` tables)."""
    held_out: StageConfig | None = None
    """Run only for reports; its results go into private metrics, never into prompts."""
    extends: str | None = None
    """Another task's `task.toml` (relative to this folder) whose keys this one starts from:
    its files are found in its folder and count in this task's version hash; the keys given
    here replace its keys (lists wholesale). `cfr_paper` is the CFR task under the paper's scoring
    protocol."""
    secret: dict[str, Any] = {}
    """Keys added to every case's `secret` (a case's own keys win): the protocol of `cfr_paper`."""


@dataclass(frozen=True)
class Case:
    name: str
    inputs: dict[str, Any]
    secret: dict[str, Any]
    model: AgentModel | None = None
    """The campaign's agent model for this evaluation (budgeted and recorded on the campaign
    side), for oracles that answer the candidate's model calls (agent_model.serve) or run an
    agent themselves; None where the campaign gave none."""


@dataclass
class Task:
    root: Path
    config: TaskConfig
    version: str
    scorer: ModuleType

    @property
    def name(self) -> str:
        return self.config.name

    @functools.cached_property
    def seed_code(self) -> str:
        return (self.root / self.config.seed).read_text(encoding="utf-8")

    @functools.cached_property
    def support_files(self) -> dict[str, str]:
        return {Path(name).name: (self.root / name).read_text(encoding="utf-8")
                for name in self.config.support}

    @functools.cached_property
    def baselines(self) -> dict[str, str]:
        """The programs in the task's `baselines/` folder (candidate format), by file stem:
        reports compare the best against them, and `seed_baselines` starts a campaign with
        them."""
        return {path.stem: path.read_text(encoding="utf-8")
                for path in baseline_files(self.root, self.config)}

    @functools.cached_property
    def scores_cpu_time(self) -> bool:
        """Whether `score()` declares a `cpu_s` parameter: it then gets each run's CPU time as
        the sandbox measured it (a task that rewards faster code); scorers without it are
        called as they always were."""
        try:
            return "cpu_s" in inspect.signature(self.scorer.score).parameters
        except (TypeError, ValueError):  # a builtin or C callable: no signature to read
            return False

    @functools.cached_property
    def description(self) -> str:
        return "\n\n".join((self.root / name).read_text(encoding="utf-8").strip()
                             for name in description_files(self.config)) + "\n"

    def prepare(self) -> None:
        """The scorer's own checks of its cases before a campaign starts (games that load,
        data that exists), as a TaskError naming the problem."""
        prepare = getattr(self.scorer, "prepare", None)
        if prepare is None:
            return
        try:
            prepare([*self.config.stages, *([self.config.held_out] if self.config.held_out
                                           else [])])
        except Exception as exc:  # a ValueError is the author's own message; others, bugs
            detail = str(exc) if isinstance(exc, ValueError) else \
                f"prepare() raised {first_line(exc)}"
            raise TaskError(f"{self.root / self.config.scorer}: {detail}") from exc

    def static_check(self, code: str) -> str | None:
        """Why the code cannot even be run (syntax, missing entry point, wrong signature), or
        None. Parsing only: nothing of the candidate executes here."""
        try:
            tree = parse_python(code)
        except SyntaxError as exc:
            return f"syntax error at line {exc.lineno}: {exc.msg}"
        entry = self.config.entry
        defs = [n for n in tree.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry]
        bound = defs or [n for n in ast.walk(tree) if isinstance(n, ast.Name)
                         and n.id == entry and isinstance(n.ctx, ast.Store)] or [
            a for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names if (a.asname or a.name) == entry]
        if not bound:
            return f"the program defines no function {entry!r}"
        if defs:
            args = defs[-1].args
            accepted = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            wanted = [*self.config.parameters, *filter(None, [self.config.oracle_arg])]
            missing = [p for p in wanted if p not in accepted]
            if missing and args.kwarg is None:
                return f"{entry}() must accept the parameters {', '.join(wanted)}"
        return None

    def evaluate(self, code: str, sandbox: Executor, *, held_out: bool = False,
                 model: AgentModel | None = None) -> list[EvaluationResult]:
        """Evaluate stage by stage; the last result is the final one. A stage that fails (or
        scores under its threshold) ends the evaluation. `model`: the agent model the task's
        oracles may call (Case.model)."""
        reason = self.static_check(code)
        if reason is not None:
            return [EvaluationResult("static", "invalid", reason=reason)]
        results = []
        for stage in self.config.stages:
            result = self._run_stage(stage, code, sandbox, model)
            if result.status == "ok" and stage.threshold is not None \
                    and not result.score >= stage.threshold:
                result = dataclasses.replace(
                    result, status="rejected",
                    reason=f"score {result.score:.6g} below the {stage.name} stage's "
                           f"threshold {stage.threshold:g}")
            results.append(result)
            if result.status != "ok":
                return results
        if held_out and self.config.held_out is not None:
            extra = self._run_stage(self.config.held_out, code, sandbox, model)
            private = dict(results[-1].private_metrics)
            private["held_out_status"] = extra.status
            private["held_out_score"] = extra.score
            private.update({f"held_out_{k}": v for k, v in extra.public_metrics.items()})
            private.update({f"held_out_{k}": v for k, v in extra.private_metrics.items()})
            if extra.reason:
                private["held_out_reason"] = extra.reason
            results[-1] = dataclasses.replace(results[-1], private_metrics=private)
        return results

    def run_case(self, stage: StageConfig, case: Case, code: str,
                 executor: Executor) -> "CaseResult":
        """Run one case in the sandbox and score its outputs here, where the secret lives.
        The scorer's own exceptions are TaskErrors: a bug of the task must stop a campaign,
        not be recorded as a failure of every program it meets. The case holds one slot of
        the executor from run to score (WorkerPool.slot), so trusted code that computes on a
        GPU (the RL trainer) uses the slot's (devices.using), which no other case holds."""
        limits = Limits(**stage.limits.model_dump())
        slot = getattr(executor, "slot", None)
        with (slot(limits) if slot else contextlib.nullcontext(executor)) as runner, \
                using(getattr(runner, "gpus", ())):
            return self._run_case(stage, case, code, runner, limits)

    def _run_case(self, stage: StageConfig, case: Case, code: str, executor: Executor,
                  limits: Limits) -> "CaseResult":
        one_thread = _one_thread()
        begin = time.perf_counter()
        with one_thread():
            oracle = self._call_scorer("oracle", stage, case) \
                if hasattr(self.scorer, "oracle") else None
            # a scorer may compute a case's inputs (a flattened game) instead of listing them
            inputs = self._call_scorer("inputs", stage, case) \
                if hasattr(self.scorer, "inputs") else case.inputs
        setup_s = time.perf_counter() - begin
        run = executor.run(code, self.config.entry, inputs, limits,
                           oracle=_on(one_thread, oracle) if oracle else None,
                           oracle_arg=self.config.oracle_arg if oracle else None,
                           files=self.support_files)
        result = CaseResult(run.status, run.reason, run.error_tail, run.duration_s,
                            run.resources)
        if run.status != "ok":
            return result
        usage = {"cpu_s": self._measured_cpu(run)} if self.scores_cpu_time else {}
        begin = time.perf_counter()
        try:
            with one_thread():
                metrics = self._call_scorer("score", stage, case, run.outputs, oracle, **usage)
        except InvalidOutput as exc:
            result.status, result.reason = "invalid", str(exc)
            return result
        finally:  # the trusted side's own time (an RL task trains here): beside the sandbox's
            result.resources = {**result.resources, "scorer_s": round(
                setup_s + time.perf_counter() - begin, 4)}
        where = f"{self.root / self.config.scorer}: score() returned"
        if not isinstance(metrics, Metrics):
            raise TaskError(f"{where} {type(metrics).__name__} for case {case.name} of stage "
                            f"{stage.name}, not Metrics: return Metrics(score, public, private) "
                            "from evaluators.scoring")
        try:
            finite = math.isfinite(metrics.score)
        except TypeError:
            finite = False
        if not finite:
            raise TaskError(f"{where} the score {metrics.score!r} for case {case.name} of stage "
                            f"{stage.name}: a score must be a finite number; raise "
                            "InvalidOutput(reason) for outputs that cannot be scored")
        result.metrics = metrics
        return result

    def _measured_cpu(self, run: Run) -> float:
        """The run's CPU time for a scorer that rewards speed: only a count of every process
        the run started (a cpu cgroup, or a warm worker's reaper), never the candidate's word
        nor wait4's view, which misses work left in an orphaned process."""
        if not run.resources.get("cpu_all_processes") or "cpu_s" not in run.resources:
            raise TaskError(f"{self.root / self.config.scorer}: score() takes cpu_s, but this "
                            "executor cannot count the CPU time of every process of a run "
                            f"({run.resources.get('isolation', 'its')} isolation without a cpu "
                            "cgroup): use warm workers (bubblewrap), or run where the "
                            "evaluator may create cgroups")
        return run.resources["cpu_s"]

    def _call_scorer(self, function: str, stage: StageConfig, case: Case, *args: Any,
                     **keywords: Any) -> Any:
        """`scorer.<function>(stage, case, *args, **keywords)`; InvalidOutput passes (the
        candidate's fault), any other exception is the task's, as a one-line TaskError."""
        try:
            return getattr(self.scorer, function)(stage.name, case, *args, **keywords)
        except InvalidOutput:
            raise
        except Exception as exc:
            advice = (": a scorer returns Metrics, or raises InvalidOutput(reason) for outputs "
                      "that break the task's contract") if function == "score" else ""
            raise TaskError(f"{self.root / self.config.scorer}: {function}() raised "
                            f"{first_line(exc)} for case {case.name} of stage {stage.name}"
                            f"{advice}") from exc

    def _run_stage(self, stage: StageConfig, code: str, executor: Executor,
                   model: AgentModel | None = None) -> EvaluationResult:
        # An executor with its own run_case (Ray) runs and scores each case where it runs.
        run_case = getattr(executor, "run_case", None)
        scores, public, private = [], {}, {}
        duration, cpu, scorer = 0.0, 0.0, 0.0
        resources: dict[str, Any] = {}
        for config in stage.cases:
            case = Case(config.name, config.inputs, config.secret, model)
            result = (run_case(self, stage, case, code) if run_case
                      else self.run_case(stage, case, code, executor))
            duration += result.duration_s
            cpu += result.resources.get("cpu_s", 0.0)
            scorer += result.resources.get("scorer_s", 0.0)
            resources = {**result.resources, "cpu_s": round(cpu, 4),
                         "scorer_s": round(scorer, 4)}
            if result.status != "ok":
                prefix = f"{case.name}: " if len(stage.cases) > 1 else ""
                return EvaluationResult(stage.name, result.status, reason=prefix + result.reason,
                                        error_tail=result.error_tail,
                                        duration_s=round(duration, 4), resources=resources)
            scores.append(result.metrics.score)
            name = f"{case.name}_" if len(stage.cases) > 1 else ""
            public.update({f"{name}{k}": v for k, v in result.metrics.public.items()})
            private.update({f"{name}{k}": v for k, v in result.metrics.private.items()})
        return EvaluationResult(stage.name, "ok", score=statistics.fmean(scores),
                                public_metrics=public, private_metrics=private,
                                duration_s=round(duration, 4), resources=resources)


def _one_thread():
    """A context that runs BLAS on one thread while trusted task code computes: a sum's order
    (and so its last bits) changes with the thread count, and a score must not depend on the
    machine. The sandbox pins the candidate's side the same way (OPENBLAS_NUM_THREADS=1...).
    The controller is made per case (0.5 ms: it finds the BLAS libraries loaded by then);
    entering it costs microseconds, so every oracle call can use it."""
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


def _on(context, oracle):
    """The oracle run under `context`; a concurrent oracle (see sandbox.Oracle) runs as it is:
    the BLAS thread limit is process-wide, and threads entering and leaving it would undo one
    another's (such an oracle serves model calls, not arithmetic whose bits depend on it). So
    does one that pins BLAS itself around what uses it (`pins_blas`: the CFR oracle, whose
    per-update passes use none): entering the limit costs 7 to 25 us a call, a sixth of a CFR
    update."""
    if getattr(oracle, "concurrency", 1) > 1 or getattr(oracle, "pins_blas", False):
        return oracle

    def call(request):
        with context():
            return oracle(request)
    call.fds = getattr(oracle, "fds", ())  # shared with the candidate's side (sandbox.Oracle)
    return call


@dataclass
class CaseResult:
    status: str
    reason: str | None
    error_tail: str | None
    duration_s: float
    resources: dict[str, Any]
    metrics: Metrics | None = None


def load_task(name_or_path: str | Path) -> Task:
    """A shipped task by name, or a task folder given by path."""
    root = Path(name_or_path)
    if not (root / "task.toml").is_file():
        root = task_folders().get(str(name_or_path), root)
    if peer_task(root) is not None:
        # an OpenEvolve or ShinkaEvolve folder, run unchanged; its module builds on this one,
        # so it is imported by name, and only for such a folder
        return importlib.import_module("evaluators.peers.task").load_peer_task(root)
    if not (root / "task.toml").is_file():
        raise TaskError(unknown_task_message(str(name_or_path)))
    path = root / "task.toml"
    data, inherited = _read_config(path)
    try:
        config = TaskConfig.model_validate(data)
        if config.secret:  # every case's secret with the task's keys under its own
            config = TaskConfig.model_validate(_with_secret(data, config.secret))
    except ValidationError as exc:
        raise TaskError(f"{path}: {validation_message(exc)}") from exc
    for file in (config.seed, *description_files(config), config.scorer, *config.support,
                 *config.trusted):
        if not (root / file).is_file():
            raise TaskError(f"{path} names {file}, which is missing from {root}")
    scorer_path = root / config.scorer
    spec = importlib.util.spec_from_file_location(f"discovery_task_{config.name}", scorer_path)
    scorer = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(scorer)
    except Exception as exc:  # the author's bug, whatever it is: one line, not a traceback
        raise TaskError(f"{scorer_path}: the scorer cannot be imported ({first_line(exc)}): "
                        f"fix it, then `discover eval {root}` checks the task") from exc
    if not callable(getattr(scorer, "score", None)):
        raise TaskError(f"{scorer_path} defines no score(stage, case, outputs, oracle)")
    # a seed, baselines, description or scorer shared from the domain's folder count like the
    # task's own files
    hashed = [*config.trusted, *config.support, config.seed, *description_files(config),
              config.scorer, *inherited,
              *(os.path.relpath(p, root) for p in baseline_files(root, config))]
    task = Task(root, config, version_hash(root, hashed), scorer)
    problem = task.static_check(task.seed_code)
    if problem is not None:  # else every candidate would fail this check, blamed on itself
        raise TaskError(f"{path}: entry {config.entry!r} does not pass the check of the seed "
                        f"program {root / config.seed} ({problem}): make the entry and "
                        "parameters of task.toml match the seed")
    return task


def unknown_task_message(name: str) -> str:
    """One line for a name that is neither a shipped task nor a task folder: the closest
    shipped name first when there is one (a typo is the usual cause; not for a path, which
    names a folder of the user's), then every name."""
    names = task_names()
    listing = f"{', '.join(names)}, or a folder that holds a task.toml"
    close = [] if "/" in name else difflib.get_close_matches(name, names, n=1)
    if close:
        return f"unknown task {name!r}: did you mean {close[0]!r}? (shipped tasks: {listing})"
    return f"unknown task {name!r}: use one of {listing}"


_PATH_KEYS = ("seed", "baselines", "description", "scorer", "support", "trusted")
"""The keys of task.toml that name files, relative to the folder of the file that sets them."""


def _read_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    """task.toml's keys with those of the task it `extends` under them (their file names made
    relative to this folder), and the files of that task's folder (they count in the hash)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path} is not valid TOML: {exc}") from exc
    if not isinstance(data.get("extends"), str):
        return data, []
    base_path = (path.parent / data["extends"]).resolve()
    if not base_path.is_file() or base_path == path.resolve():
        raise TaskError(f"{path}: extends {data['extends']!r}, which is not another task.toml")
    base, chained = _read_config(base_path)
    if chained:
        raise TaskError(f"{path}: extends {data['extends']!r}, which extends another task in "
                        "turn: extend the task at the root of the chain")
    prefix = os.path.relpath(base_path.parent, path.parent.resolve())
    for key in _PATH_KEYS:
        if key in base:
            names = base[key]
            rebased = [os.path.normpath(os.path.join(prefix, name))
                       for name in ([names] if isinstance(names, str) else names)]
            base[key] = rebased[0] if isinstance(names, str) else rebased
        elif key not in ("support", "trusted"):  # defaults name files of the base's folder
            base[key] = os.path.normpath(os.path.join(prefix, TaskConfig.model_fields[key].default))
    inherited = [os.path.relpath(file, path.parent.resolve())
                 for file in sorted(base_path.parent.rglob("*"))
                 if file.is_file() and "__pycache__" not in file.parts]
    return {**base, **data}, inherited


def _with_secret(data: dict[str, Any], secret: dict[str, Any]) -> dict[str, Any]:
    """task.toml's keys with `secret` under every case's own secret, held-out cases included."""
    def stage(table: dict[str, Any]) -> dict[str, Any]:
        return {**table, "cases": [{**case, "secret": {**secret, **case.get("secret", {})}}
                                   for case in table["cases"]]}

    merged = {**data, "stages": [stage(table) for table in data["stages"]]}
    if "held_out" in data:
        merged["held_out"] = stage(data["held_out"])
    return merged


def description_files(config: TaskConfig) -> list[str]:
    return [config.description] if isinstance(config.description, str) else config.description


def baseline_files(root: Path, config: TaskConfig) -> list[Path]:
    return sorted((root / config.baselines).glob("*.py"))


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message`: what a one-line error keeps of an exception."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def validation_message(exc: ValidationError) -> str:
    """The first problem pydantic found, as `field.path: what is wrong` (one line)."""
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"


def version_hash(root: Path, trusted: list[str] = ()) -> str:
    """sha256 over the task folder's files and the trusted code that runs and scores them."""
    digest = hashlib.sha256()
    files = sorted(p.resolve() for p in root.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    root = root.resolve()
    shared = sorted({(root / name).resolve() for name in trusted} - set(files))
    common = [Path(sandbox_module.HARNESS), Path(sandbox_module.HARNESS).with_name("forkserver.py"),
              Path(scoring.__file__)]
    for path in [*files, *shared, *common]:
        name = path.relative_to(root) if path.is_relative_to(root) else path.name
        digest.update(f"{name}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return f"{root.name}-{digest.hexdigest()[:16]}"
