"""Warm workers: a pool of fork servers, each in its own bubblewrap sandbox with the heavy
modules (numpy, torch) imported once, so that one evaluation costs a fork, not an interpreter
start and `import torch` (2.6-3.2 s here).

Each worker is a long-lived sandbox; each evaluation is a child forked inside it, with its own
job folder, rlimits, deadline and channels (fresh pipes handed over with the job, so nothing a
job writes into them reaches another). The worker's code is bound read-only; its only writable
places are tmpfs mounts (sized to the memory limit it was started for; a job asking for more
gets a new worker) which the fork server wipes after every job, together with the namespace's
SysV IPC objects, after killing every process of the job: each job starts from a state no
earlier job could touch. The worker's memory cgroup is set per job to what the server holds
plus the job's memory limit, so files the job keeps in memory count against it.

A worker that dies (a candidate may kill it: same uid) or misses its backstop deadline is
replaced; the evaluation is recorded as crashed or timed out. A worker that could not wipe
what a job left, or that saw anything unexpected on our side (an exception, a bad notice), is
stopped and replaced too, never handed another job.

Warm workers need the pid namespace of the `bwrap` level; at weaker levels the pool runs each
evaluation in a fresh process instead (and says so in the result's resources).

GPUs: a pool of `size` slots with `gpus_per_slot` GPUs each splits the machine's GPUs
(evaluators/devices.py) into `size` disjoint sets, and pins each set to one worker (or, without
warm workers, to one fresh sandbox per slot): its sandbox binds only that set's device nodes
and CUDA sees only them. `slot()` holds a slot for a whole case, so that the trusted code
that runs after the candidate (a scorer that trains on the GPU) uses the slot's GPUs while no
other case can.
"""

import contextlib
import dataclasses
import json
import os
import queue
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluators.devices import Gpu, discover, split
from evaluators.sandbox import (
    DEFAULT_LIMITS,
    HARNESS,
    Channel,
    Limits,
    Oracle,
    Run,
    Sandbox,
    _Cgroups,
    _scrubbed_env,
    _wrap,
    checked_level,
    harness_request,
    memory_verdict,
    output_problem,
    python_argv,
    tail,
    wall_time_problem,
)

FORKSERVER = Path(__file__).with_name("forkserver.py")
_BACKSTOP_S = 5.0
"""How long past a job's wall limit we wait for the fork server before replacing the worker."""
_START_S = 60.0
_END_JOB = b"k"
"""Sent to the fork server during a job: kill it now (a message without descriptors)."""


class WorkerError(Exception):
    """A worker could not start (its preload failed, or the sandbox is broken)."""


class WarmWorker:
    def __init__(self, preload: tuple[str, ...] = (), processes: int = Limits.processes,
                 memory_mb: int = Limits.memory_mb, gpus: tuple[Gpu, ...] = ()):
        self.preload, self.processes, self.memory_mb = preload, processes, memory_mb
        """`memory_mb`: the size of each writable tmpfs, the most a job may ask for here."""
        self.gpus = gpus
        """The GPUs this worker's sandbox binds (its slot's), none by default."""
        self.proc: subprocess.Popen | None = None
        self.started_s = 0.0

    def start(self) -> None:
        self.cgroups = _Cgroups(self.processes + 4, self.memory_mb)  # + bwrap's init, server
        self.jobs_socket, server_socket = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        notice_r, notice_w = os.pipe()
        child_ends = (server_socket.fileno(), notice_w)
        argv = python_argv("bwrap", FORKSERVER, *map(str, child_ends), *self.preload)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (the server's stderr while it lives)
        begin = time.monotonic()
        self.proc = subprocess.Popen(
            _wrap("bwrap", argv, self.memory_mb, code=(FORKSERVER, HARNESS), gpus=self.gpus),
            cwd="/", env=_scrubbed_env(Path("/"), self.gpus), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log, pass_fds=child_ends, close_fds=True, preexec_fn=self.cgroups.join,
            start_new_session=True)
        server_socket.close()
        os.close(notice_w)
        self.notice_r = notice_r
        notice = self._notice(begin + _START_S)
        if notice is None or notice["kind"] != "ready":
            self.log.seek(0)
            log = self.log.read().decode(errors="replace")
            self.stop()
            raise WorkerError(f"warm worker failed to start with {list(self.preload)}: "
                              f"{tail(log, 3) or 'no output'}")
        self.started_s = time.monotonic() - begin

    def _notice(self, deadline: float) -> dict[str, Any] | None:
        """The fork server's next notice; None if it hung past the deadline; a `died` notice
        if its channel closed (the server, and so the worker, is gone). Anything but one JSON
        object on one line is a WorkerError: the server is not doing what we wrote."""
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.notice_r], [], [], left)[0]:
                return None
            chunk = os.read(self.notice_r, 65536)
            if not chunk:
                return {"kind": "died"}
            line += chunk
        try:
            notice = json.loads(line)
        except ValueError:
            notice = None
        if not isinstance(notice, dict) or line.count(b"\n") != 1:
            raise WorkerError(f"the fork server sent a bad notice: {line[:200]!r}")
        return notice

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
            self.cgroups.kill_all()
            self.cgroups.remove()
            self.jobs_socket.close()
            self.log.close()
            with contextlib.suppress(OSError):
                os.close(self.notice_r)

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = DEFAULT_LIMITS,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        """One job on this (started, alive) worker; afterwards the worker is stopped if it
        must not take another."""
        job = {**harness_request(code, entry, inputs, oracle_arg, files),
               "limits": dataclasses.asdict(limits)}
        if self.cgroups.pids is not None:
            (self.cgroups.pids / "pids.max").write_text(str(limits.processes + 4))
        self.cgroups.limit_memory(self.cgroups.memory_used() + limits.memory_mb * 2**20)
        oom_kills = self.cgroups.oom_kills()
        start = time.monotonic()
        channel_r, channel_w = os.pipe()
        reply_r, reply_w = os.pipe()
        channel = Channel(reply_w, limits, oracle, start + limits.wall_s)
        try:
            sent = self._send(job, (channel_w, reply_r, *getattr(oracle, "fds", ())))
        finally:
            os.close(channel_w)
            os.close(reply_r)
        try:
            notice = self._supervise(channel_r, channel, start + limits.wall_s + _BACKSTOP_S) \
                if sent else {"kind": "died"}
        finally:
            channel.close()
            os.close(channel_r)
            os.close(reply_w)
        run = self._verdict(channel, notice, limits, start)
        run.resources.update(self.cgroups.resources("bwrap", self.memory_mb), worker="warm")
        return memory_verdict(run, self.cgroups.oom_kills() - oom_kills, limits)

    def _send(self, job: dict[str, Any], channels: tuple[int, ...]) -> bool:
        """Hand the job and its own channels to the fork server; False if it has gone."""
        payload = os.memfd_create("job")
        try:
            os.write(payload, json.dumps(job).encode())
            socket.send_fds(self.jobs_socket, [b"j"], [payload, *channels])
        except OSError:
            return False
        finally:
            os.close(payload)
        return True

    def _verdict(self, channel: Channel, notice: dict[str, Any] | None, limits: Limits,
                 start: float) -> Run:
        run = Run("crashed", duration_s=round(time.monotonic() - start, 4))
        if notice is None or notice["kind"] == "died":
            self.stop()  # replaced by the pool
            if notice is not None:
                run.reason = "the warm worker died during the evaluation (killed by the candidate?)"
                return run
            channel.problem = wall_time_problem(limits)
            return channel.verdict(run, -signal.SIGKILL)
        if not notice["clean"]:
            self.stop()  # what the job left could not be wiped: the next job needs a new worker
        run.stdout, run.stderr = notice["stdout"], notice["stderr"]
        run.error_tail = tail(run.stderr)
        run.resources.update(cpu_s=notice["cpu_s"], max_rss_mb=notice["max_rss_mb"],
                             cpu_all_processes=True)  # the fork server reaps them all
        if notice["timeout"]:
            channel.problem = channel.problem or wall_time_problem(limits)
        for stream in ("stdout", "stderr"):
            if notice[f"{stream}_bytes"] > 16 * limits.output_kb * 1024:
                channel.problem = channel.problem or output_problem(stream, limits)
        return channel.verdict(run, notice["code"])

    def _supervise(self, result_r: int, channel: Channel,
                   deadline: float) -> dict[str, Any] | None:
        """Serve the job's messages until the fork server reports its exit; once the channel
        has a problem, ask the server to end the job now (its verdict is settled). While the
        channel has no room, its pipe is not read: it fills and the job's writes wait."""
        reading, ended = True, False
        os.set_blocking(result_r, False)  # Channel.read polls it
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            watch = [self.notice_r, channel.wake]
            if reading and not channel.blocked and channel.problem is None:
                watch.append(result_r)
            ready = select.select(watch, [], [], min(left, 0.5))[0]
            if channel.wake in ready:
                channel.wake_up()
            if result_r in ready:
                reading = channel.read(result_r)
            if channel.problem is not None and not ended:
                ended = True
                with contextlib.suppress(OSError):
                    self.jobs_socket.send(_END_JOB)
            if self.notice_r in ready:
                notice = self._notice(deadline)
                if notice is None or notice["kind"] == "died":
                    return notice
                # The job's processes are all dead now: what is in the pipe (a pipe's worth at
                # most) is all of it; channel.close() ends it.
                with contextlib.suppress(BlockingIOError):
                    while channel.problem is None and (chunk := os.read(result_r, 65536)):
                        channel.feed(chunk)
                return notice
            if not ready and not self.alive:
                return {"kind": "died"}


@dataclass(frozen=True)
class Slot:
    """One evaluation slot, held for a case (WorkerPool.slot): `run` as an executor's, on the
    slot's worker or sandbox; `gpus`, which no other slot holds meanwhile."""

    run: Callable[..., Run]
    gpus: tuple[Gpu, ...]
    level: str


class WorkerPool:
    """Local executor: `size` warm workers used from any thread; with no bubblewrap (or
    `warm=False`), one fresh sandboxed process per run instead. `gpus_per_slot`: GPUs each
    slot owns, from `devices` (default: this machine's, evaluators.devices.discover); a
    DeviceError if there are too few."""

    def __init__(self, size: int = 2, preload: tuple[str, ...] = ("numpy",),
                 level: str | None = None, gpus_per_slot: int = 0,
                 devices: list[Gpu] | None = None, warm: bool = True):
        self.level = checked_level(level)
        self.size, self.preload = size, preload
        sets = split(discover() if devices is None else devices, size, gpus_per_slot) \
            if gpus_per_slot else [()] * size
        self._sets: queue.Queue[tuple[Gpu, ...]] = queue.Queue()
        """Device sets no worker holds (warm workers take one each when they start)."""
        for gpus in sets:
            self._sets.put(gpus)
        self._fresh: queue.Queue[Sandbox] | None = None
        """Without warm workers: one sandbox per slot, each with its slot's GPUs."""
        if self.level != "bwrap" or not warm:
            self._fresh = queue.Queue()
            while not self._sets.empty():
                self._fresh.put(Sandbox(self.level, self._sets.get()))
        self._idle: queue.Queue[WarmWorker | None] = queue.Queue()
        """Idle workers; None wakes a waiting thread when a retired worker frees a place."""
        self._all: list[WarmWorker] = []
        self._lock = threading.Lock()
        self._spawner = ThreadPoolExecutor(1, thread_name_prefix="worker-spawner")
        """The thread that starts every worker and lives as long as the pool: bubblewrap's
        --die-with-parent is the kernel's parent-death signal, sent when the *thread* that
        started a process exits, so a worker started by a short-lived thread (a report's
        evaluation pool) would be killed under a later job."""

    def _worker(self, memory_mb: int) -> WarmWorker:
        """An idle worker whose writable places are at least `memory_mb`, or a new one."""
        while True:
            with self._lock:
                if self._idle.empty() and len(self._all) < self.size:
                    worker = WarmWorker(self.preload, memory_mb=memory_mb,
                                        gpus=self._sets.get_nowait())
                    try:
                        self._spawner.submit(worker.start).result()
                    except BaseException:
                        self._sets.put(worker.gpus)
                        raise
                    self._all.append(worker)
                    return worker
            worker = self._idle.get()
            if worker is not None and worker.memory_mb >= memory_mb:
                return worker
            if worker is not None:
                self._retire(worker)

    def _retire(self, worker: WarmWorker) -> None:
        worker.stop()
        with self._lock:
            self._all.remove(worker)
            self._sets.put(worker.gpus)  # before the wake-up: the next worker takes them
        self._idle.put(None)

    @contextlib.contextmanager
    def slot(self, limits: Limits = DEFAULT_LIMITS) -> Iterator[Slot]:
        """A slot held until the block ends (a worker whose writable places fit `limits`):
        a task's case runs the candidate on it and then scores on the trusted side with its
        GPUs (evaluators.devices.using), while no other case holds them."""
        if self._fresh is not None:
            sandbox = self._fresh.get()
            try:
                yield Slot(self._fresh_run(sandbox), sandbox.gpus, self.level)
            finally:
                self._fresh.put(sandbox)
            return
        worker = self._worker(limits.memory_mb)
        failed = []

        def run(*args: Any, **kwargs: Any) -> Run:
            try:
                return worker.run(*args, **kwargs)
            except BaseException:  # whatever went wrong on our side, the worker takes no more
                failed.append(True)
                raise
        try:
            yield Slot(run, worker.gpus, self.level)
        finally:
            if worker.alive and not failed:
                self._idle.put(worker)
            else:
                self._retire(worker)

    def _fresh_run(self, sandbox: Sandbox) -> Callable[..., Run]:
        def run(*args: Any, **kwargs: Any) -> Run:
            result = sandbox.run(*args, **kwargs)
            result.resources["worker"] = "fresh" if self.level == "bwrap" else \
                "fresh (warm workers need bwrap)"
            return result
        return run

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = DEFAULT_LIMITS,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        with self.slot(limits) as slot:
            return slot.run(code, entry, inputs, limits, oracle, oracle_arg, files)

    def close(self) -> None:
        with self._lock:
            for worker in self._all:
                worker.stop()
            self._all.clear()
        self._spawner.shutdown()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
