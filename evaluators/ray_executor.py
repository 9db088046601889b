"""The Ray executor: each stage case runs and is scored on a Ray node, in the same sandbox.

A slot is a Ray actor that owns one warm worker (a fork-server subprocess in its own bubblewrap
sandbox) rather than forking the multi-threaded Ray worker process itself. The case travels as
the task folder's path, the stage and case names and the code; the node loads the task (so the
folder must exist there: the same file system, or a Ray `runtime_env` working_dir), runs the
candidate, serves the task's oracle and scores the outputs locally, and sends back the result.
GPU tasks ask Ray for GPUs per slot (`num_gpus`, fractions allowed). Tasks whose programs call
an agent model (agents, memories with `agent = "llm"`) are refused with that reason: the model's
budgets, records and clients live in the driver, and calls from nodes do not reach it yet.

Install with the `ray` extra: `pip install -e '.[ray]'`.
"""

import itertools
import threading
from pathlib import Path
from typing import Any

from evaluators.sandbox import DEFAULT_LIMITS, Limits, Oracle, Run
from evaluators.task import Case, CaseResult, StageConfig, Task, TaskError, load_task
from evaluators.workers import WorkerPool


class _Slot:
    """One evaluation slot on a Ray node (wrapped by ray.remote at start-up)."""

    def __init__(self, preload: tuple[str, ...]):
        self.pool = WorkerPool(size=1, preload=preload)
        self.tasks: dict[str, Task] = {}

    def level(self) -> str:
        return self.pool.level

    def run_case(self, root: str, version: str, stage_name: str, case_name: str,
                 code: str) -> CaseResult:
        task = self.tasks.get(root)
        if task is None or task.version != version:
            task = self.tasks[root] = load_task(root)
        if task.version != version:
            raise TaskError(f"the task at {root} on this node is version {task.version}, the "
                            f"driver's is {version}: give every node the same task files")
        stages = [*task.config.stages, *filter(None, [task.config.held_out])]
        stage = next(s for s in stages if s.name == stage_name)
        config = next(c for c in stage.cases if c.name == case_name)
        result = task.run_case(stage, Case(config.name, config.inputs, config.secret), code,
                               self.pool)
        result.resources["executor"] = "ray"
        return result


class RayExecutor:
    def __init__(self, slots: int = 2, *, address: str | None = None,
                 num_gpus_per_slot: float = 0.0, preload: tuple[str, ...] = ("numpy",),
                 init_kwargs: dict[str, Any] | None = None):
        try:
            import ray
        except ImportError as exc:
            raise TaskError("the Ray executor needs ray: pip install -e '.[ray]'") from exc
        self._ray = ray
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
            if address is None:
                kwargs.setdefault("num_cpus", slots)
            ray.init(address=address, **kwargs)
        actor = ray.remote(num_cpus=1, num_gpus=num_gpus_per_slot)(_Slot)
        self._slots = [actor.remote(preload) for _ in range(slots)]
        self.level = f"ray/{ray.get(self._slots[0].level.remote())}"
        self._next = itertools.cycle(self._slots)
        self._lock = threading.Lock()

    def run_case(self, task: Task, stage: StageConfig, case: Case, code: str) -> CaseResult:
        if case.model is not None:  # its budgets, records and clients live in this process
            raise TaskError(f"task {task.name} gives its programs an agent model, which the "
                            "Ray executor cannot serve on its nodes yet: use --executor warm "
                            "(or fresh) for it")
        with self._lock:
            slot = next(self._next)
        ref = slot.run_case.remote(str(Path(task.root).resolve()), task.version, stage.name,
                                   case.name, code)
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, TaskError):  # a user-fixable problem: say it in one line
                raise TaskError(str(exc.cause)) from None
            raise

    def run(self, code: str, entry: str, inputs: dict[str, Any],
            limits: Limits = DEFAULT_LIMITS, oracle: Oracle | None = None,
            oracle_arg: str | None = None, files: dict[str, str] | None = None) -> Run:
        raise TaskError("the Ray executor runs whole task cases (Task.evaluate), not bare runs")

    def close(self) -> None:
        for slot in self._slots:
            self._ray.kill(slot)
        self._slots.clear()
