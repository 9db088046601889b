"""The Ray executor: each stage case runs and is scored on a Ray node, in the same sandbox.

A slot is a Ray actor that owns one warm worker (a fork-server subprocess in its own bubblewrap
sandbox) rather than forking the multi-threaded Ray worker process itself. The case travels as
the task folder's path, the stage and case names and the code; the node loads the task (so the
folder must exist there: the same file system, or a Ray `runtime_env` working_dir), runs the
candidate, serves the task's oracle and scores the outputs locally, and sends back the result,
with the id of the node that ran it (`resources["node"]`).
GPU tasks ask Ray for GPUs per slot (`num_gpus`, fractions allowed); a slot's warm worker is
pinned to the GPUs Ray gave it (their device nodes bound into its sandbox, the task's trusted
trainer on the first), as a local pool's slot is (evaluators/devices.py). Tasks whose programs call
an agent model (agents, memories with `agent = "llm"`) are refused with that reason: the model's
budgets, records and clients live in the driver, and calls from nodes do not reach it yet.

Nodes come and go. A slot lost with its node (or its Ray worker process) is replaced by a new
one wherever Ray finds room, at once or when a node joins, and the case it was running runs
again on another slot, at most `retries` times: a killed node costs the cases it had in flight
their time, nothing else, and each case still returns once. A candidate's own failure (a
crash, a timeout, a killed warm worker) is a result, never a lost slot, so it is not retried.

Install with the `ray` extra: `pip install -e '.[ray]'`.
"""

import contextlib
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaluators.devices import discover
from evaluators.peers.formats import peer_task
from evaluators.sandbox import DEFAULT_LIMITS, Limits, Oracle, Run
from evaluators.task import (
    Case,
    CaseResult,
    StageConfig,
    Task,
    TaskError,
    first_line,
    load_task,
    task_folders,
)
from evaluators.workers import WorkerPool

PLACE_S = 120.0
"""How long a case waits for a slot while no slot is alive (every node lost, or none with room)
before the executor gives up with a TaskError: long enough for a node to join."""


@contextlib.contextmanager
def local_cluster(num_cpus: int = 1) -> Iterator[Any]:
    """A Ray head node of `num_cpus` CPUs started on this machine (`ray.cluster_utils.Cluster`,
    as `ray start --head` would start it), stopped afterwards, with the driver's connection if
    one was made: for trying the executor on several nodes (tests, benches). Add worker nodes
    with its `add_node(num_cpus=...)`, connect with `ray.init(address=cluster.address)`.

    Its session files go to a new short temporary folder (Ray's socket paths must fit 107
    bytes), removed afterwards. So does Ray's record of the latest cluster, which Ray 2.60's
    Cluster writes to `ray/ray_current_cluster` under Ray's default root ($RAY_TMPDIR, else
    $TMPDIR, else /tmp) whatever temp_dir it is given, without creating that folder: on a fresh
    machine, with no `ray/` left there by an earlier Ray, that write fails (FileNotFoundError).
    While the cluster lives, RAY_TMPDIR points at the temporary folder, its `ray/` made here;
    so neither a left-over folder is needed nor is the record left where another `ray.init()`
    on this machine would find it."""
    from ray import cluster_utils, shutdown

    temp = tempfile.mkdtemp(prefix="ray-")
    (Path(temp) / "ray").mkdir()
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = temp
    try:
        cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={
            "num_cpus": num_cpus, "include_dashboard": False, "temp_dir": temp})
        try:
            yield cluster
        finally:
            shutdown()
            cluster.shutdown()
    finally:
        if before is None:
            del os.environ["RAY_TMPDIR"]
        else:
            os.environ["RAY_TMPDIR"] = before
        shutil.rmtree(temp, ignore_errors=True)


class _Slot:
    """One evaluation slot on a Ray node (wrapped by ray.remote at start-up)."""

    def __init__(self, preload: tuple[str, ...]):
        import ray

        ids = {str(i) for i in ray.get_gpu_ids()}
        self.pool = WorkerPool(size=1, preload=preload, gpus_per_slot=len(ids),
                               devices=[gpu for gpu in discover() if str(gpu.index) in ids]
                               if ids else [])
        self.node = ray.get_runtime_context().get_node_id()
        self.tasks: dict[str, Task] = {}

    def describe(self) -> tuple[str, str]:
        """The sandbox level here and this node's id: the driver refuses a slot that isolates
        otherwise than the first one, and says where results ran."""
        return self.pool.level, self.node

    def run_case(self, where: tuple[str, str | None, str], version: str, stage_name: str,
                 case_name: str, code: str) -> CaseResult:
        task = self.tasks.get(where[0])
        if task is None or task.version != version:
            task = self.tasks[where[0]] = load_task(find_task(*where))
        if task.version != version:
            raise TaskError(f"the task at {task.root} on node {self.node} is version "
                            f"{task.version}, the driver's is {version}: give every node the "
                            "same task files")
        stages = [*task.config.stages, *filter(None, [task.config.held_out])]
        stage = next(s for s in stages if s.name == stage_name)
        config = next(c for c in stage.cases if c.name == case_name)
        result = task.run_case(stage, Case(config.name, config.inputs, config.secret), code,
                               self.pool)
        result.resources.update(executor="ray", node=self.node)
        return result


def find_task(root: str, relative: str | None, name: str) -> Path:
    """The task folder on this node: the driver's path where the file system is shared, else
    the same place under this worker's directory (a `runtime_env` working_dir shipped from the
    driver's), else the shipped task of that name (the project installed on every node); the
    version check after loading catches a folder that differs from the driver's."""
    places = [Path(root), *([Path(relative).resolve()] if relative else [])]
    found = next((p for p in places if (p / "task.toml").is_file() or peer_task(p) is not None),
                 task_folders().get(name))
    if found is None:
        raise TaskError(f"the task folder {root} is not on the Ray node that took its case: "
                        "share it, or ship it with runtime_env working_dir")
    return found


def _where(task: Task) -> tuple[str, str | None, str]:
    """How a node finds the task: its path, that path relative to our working directory
    (None outside it) and its name; see find_task."""
    root = Path(task.root).resolve()
    relative = root.relative_to(Path.cwd()) if root.is_relative_to(Path.cwd()) else None
    return str(root), relative and str(relative), task.name


class RayExecutor:
    """`slots` Ray actors of one CPU (and `num_gpus_per_slot` GPUs) each, placed by Ray on any
    node with room; a case runs on whichever slot is free. `address`: the cluster to join
    (default `$RAY_ADDRESS`, else a local Ray instance of `slots` CPUs starts here, even where
    an earlier `ray start` on this machine left its address for Ray to find)."""

    def __init__(self, slots: int = 2, *, address: str | None = None,
                 num_gpus_per_slot: float = 0.0, preload: tuple[str, ...] = ("numpy",),
                 retries: int = 3, init_kwargs: dict[str, Any] | None = None):
        try:
            import ray
        except ImportError as exc:
            raise TaskError("the Ray executor needs ray: pip install -e '.[ray]'") from exc
        self._ray = ray
        # "local", not None: Ray's default would join the cluster an earlier `ray start` on
        # this machine recorded in its temp root (or fail to, if that one is gone)
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **(init_kwargs or {})}
            if address == "local":
                kwargs.setdefault("num_cpus", slots)
            ray.init(address=address, **kwargs)
        self._actor = ray.remote(num_cpus=1, num_gpus=num_gpus_per_slot)(_Slot)
        self._preload, self.retries = preload, retries
        self._lost = (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError,
                      ray.exceptions.WorkerCrashedError)
        """What a slot lost with its node or process raises (the infrastructure's failure,
        never the candidate's: that comes back as a result)."""
        self._lock = threading.Lock()
        self._idle: queue.Queue[Any] = queue.Queue()
        self._starting: dict[Any, Any] = {}
        """describe() call -> its slot, for slots not yet placed on a node or not yet up."""
        self._nodes: dict[Any, str] = {}
        """Every slot still ours -> its node id (empty while it starts)."""
        self._first: tuple[str, str] | None = None
        """The sandbox level of the first slot that came up, and its node: every other slot
        must isolate alike (a node without bubblewrap would run candidates less isolated)."""
        self._closed = False
        self.lost = 0
        """Cases that lost their slot and ran again elsewhere."""
        for _ in range(slots):
            self._start_slot()
        self._admit(PLACE_S)
        if self._first is None:
            self.close()
            raise TaskError(f"no Ray node took an evaluation slot in {PLACE_S:.0f} s: the "
                            "cluster has no free CPU (each slot takes 1) or its nodes fail to "
                            "start one")
        self.level = f"ray/{self._first[0]}"

    def _start_slot(self) -> None:
        if self._closed:  # a case still in flight when the executor closed lost its slot
            raise TaskError("the Ray executor is closed")
        actor = self._actor.remote(self._preload)
        with self._lock:
            self._nodes[actor] = ""
            self._starting[actor.describe.remote()] = actor

    def _forget(self, actor: Any) -> None:
        with self._lock:
            self._nodes.pop(actor, None)
        with contextlib.suppress(Exception):  # it may be gone with its node already
            self._ray.kill(actor)

    def _admit(self, timeout: float) -> None:
        """Slots that came up (waiting up to `timeout` for one) join the idle queue; one whose
        node is lost before it came up is started again."""
        with self._lock:
            refs = list(self._starting)
        if not refs or not self._ray.wait(refs, num_returns=1, timeout=timeout)[0]:
            return
        for ref in self._ray.wait(refs, num_returns=len(refs), timeout=0)[0]:
            with self._lock:
                actor = self._starting.pop(ref, None)
            if actor is None:  # another thread admitted it
                continue
            try:
                level, node = self._ray.get(ref)
            except self._lost as exc:
                self._forget(actor)
                if getattr(exc, "actor_init_failed", False):  # our code failed there: final
                    raise TaskError(f"a Ray evaluation slot failed to start: "
                                    f"{first_line(exc)}") from None
                self._start_slot()
                continue
            first_level, first_node = self._first or (level, node)
            if level != first_level:
                self._forget(actor)
                raise TaskError(f"Ray nodes sandbox at different levels ({first_node} at "
                                f"{first_level!r}, {node} at {level!r}): install bubblewrap "
                                "(and allow user namespaces) on every node")
            with self._lock:
                self._first, self._nodes[actor] = self._first or (level, node), node
            self._idle.put(actor)

    def _acquire(self) -> Any:
        """A free slot: an idle one, or the next to come up. A TaskError once no slot has
        been alive for PLACE_S."""
        deadline = time.monotonic() + PLACE_S
        while True:
            with contextlib.suppress(queue.Empty):
                return self._idle.get_nowait()
            self._admit(0.1)
            with contextlib.suppress(queue.Empty):
                return self._idle.get(timeout=0.1)
            with self._lock:
                alive = len(self._nodes) > len(self._starting)
            if alive:
                deadline = time.monotonic() + PLACE_S
            elif time.monotonic() > deadline:
                raise TaskError(f"every Ray evaluation slot is lost and none came back in "
                                f"{PLACE_S:.0f} s: the cluster has no node with a free CPU")

    def _replace(self, actor: Any) -> None:
        """A slot was lost: start another. If its node is dead, its idle slots go too (each
        would cost a case an attempt to find out)."""
        with self._lock:
            node = self._nodes.get(actor)
        self._forget(actor)
        self._start_slot()
        alive = {n["NodeID"] for n in self._ray.nodes() if n["Alive"]}
        if node in alive:
            return
        keep = []
        with contextlib.suppress(queue.Empty):
            while True:
                keep.append(self._idle.get_nowait())
        for slot in keep:
            with self._lock:
                dead = self._nodes.get(slot) == node
            if dead:
                self._forget(slot)
                self._start_slot()
            else:
                self._idle.put(slot)

    def run_case(self, task: Task, stage: StageConfig, case: Case, code: str) -> CaseResult:
        if case.model is not None:  # its budgets, records and clients live in this process
            raise TaskError(f"task {task.name} gives its programs an agent model, which the "
                            "Ray executor cannot serve on its nodes yet: use --executor warm "
                            "(or fresh) for it")
        args = (_where(task), task.version, stage.name, case.name, code)
        for attempt in range(self.retries + 1):
            slot = self._acquire()
            try:
                result = self._ray.get(slot.run_case.remote(*args))
            except self._lost as exc:
                lost = exc
                self._replace(slot)
                with self._lock:
                    self.lost += 1
                continue
            except self._ray.exceptions.RayTaskError as exc:
                self._idle.put(slot)  # the slot is fine: the error is the task's or ours
                if isinstance(exc.cause, TaskError):  # a user-fixable problem: one line
                    raise TaskError(str(exc.cause)) from None
                raise
            self._idle.put(slot)
            if attempt:
                result.resources["lost_attempts"] = attempt
            return result
        raise TaskError(f"case {case.name} of stage {stage.name} lost its Ray slot "
                        f"{self.retries + 1} times (last: {first_line(lost)}): the cluster is "
                        "losing nodes")

    def run(self, code: str, entry: str, inputs: dict[str, Any],
            limits: Limits = DEFAULT_LIMITS, oracle: Oracle | None = None,
            oracle_arg: str | None = None, files: dict[str, str] | None = None) -> Run:
        raise TaskError("the Ray executor runs whole task cases (Task.evaluate), not bare runs")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            actors = list(self._nodes)
        for actor in actors:
            self._forget(actor)
        with self._lock:
            self._starting.clear()
