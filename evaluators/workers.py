"""Warm workers: a pool of fork servers, each in its own bubblewrap sandbox with the heavy
modules (numpy, torch) imported once, so that one evaluation costs a fork, not an interpreter
start and `import torch` (2.6-3.2 s here).

Each worker is a long-lived sandbox; each evaluation is a child forked inside it, with its own
job directory, rlimits and deadline. Between evaluations the fork server kills every other
process in its pid namespace and wipes the job's files and /tmp, so nothing of one candidate
meets the next. A worker that dies (a candidate may kill it: same uid) or misses its backstop
deadline is replaced; the evaluation is recorded as crashed or timed out.

Warm workers need the pid namespace of the `bwrap` level; at weaker levels the pool runs each
evaluation in a fresh process instead (and says so in the result's resources).
"""

import contextlib
import dataclasses
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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
    available_level,
    output_problem,
    tail,
    wall_time_problem,
    write_files,
)

FORKSERVER = Path(__file__).with_name("forkserver.py")
_BACKSTOP_S = 5.0
"""How long past a job's wall limit we wait for the fork server before replacing the worker."""
_START_S = 60.0


class WorkerError(Exception):
    """A worker could not start (its preload failed, or the sandbox is broken)."""


class WarmWorker:
    def __init__(self, preload: tuple[str, ...] = (), processes: int = Limits.processes):
        self.preload, self.processes = preload, processes
        self.proc: subprocess.Popen | None = None
        self.jobs = 0
        self.started_s = 0.0

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="discovery-worker-"))
        self.root.chmod(0o777)
        shutil.copy(HARNESS, self.root / "harness.py")
        shutil.copy(FORKSERVER, self.root / "forkserver.py")
        self.cgroups = _Cgroups(self.processes + 4)  # + bwrap's init and the fork server
        result_r, result_w = os.pipe()
        reply_r, reply_w = os.pipe()
        jobs_r, jobs_w = os.pipe()
        notice_r, notice_w = os.pipe()
        child_ends = (result_w, reply_r, jobs_r, notice_w)

        argv = [sys.executable, "-I", "-B", "forkserver.py", *map(str, child_ends),
                *self.preload]
        begin = time.monotonic()
        with open(self.root / "server.log", "wb") as log:
            self.proc = subprocess.Popen(
                _wrap("bwrap", self.root, argv), cwd=self.root, env=_scrubbed_env(self.root),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                pass_fds=child_ends, close_fds=True, preexec_fn=self.cgroups.join,
                start_new_session=True)
        for fd in child_ends:
            os.close(fd)
        self.result_r, self.reply_w, self.jobs_w, self.notice_r = (result_r, reply_w, jobs_w,
                                                                   notice_r)
        notice = self._notice(begin + _START_S)
        if notice is None or notice["kind"] != "ready":
            log = (self.root / "server.log").read_text(errors="replace")
            self.stop()
            raise WorkerError(f"warm worker failed to start with {list(self.preload)}: "
                              f"{tail(log, 3) or 'no output'}")
        self.started_s = time.monotonic() - begin
        self.jobs = 0

    def _notice(self, deadline: float) -> dict[str, Any] | None:
        """The fork server's next notice; None if it hung past the deadline; a `died` notice
        if its channel closed (the server, and so the worker, is gone)."""
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.notice_r], [], [], left)[0]:
                return None
            chunk = os.read(self.notice_r, 65536)
            if not chunk:
                return {"kind": "died"}
            line += chunk
        return json.loads(line)

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
            for fd in (self.result_r, self.reply_w, self.jobs_w, self.notice_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            shutil.rmtree(self.root, ignore_errors=True)

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = DEFAULT_LIMITS,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        if not self.alive:
            self.stop()
            self.start()
        self.jobs += 1
        job_dir = self.root / f"job-{self.jobs}"
        job_dir.mkdir()
        job_dir.chmod(0o777)
        write_files(job_dir, {**(files or {}), "candidate.py": code})
        if self.cgroups.pids is not None:
            (self.cgroups.pids / "pids.max").write_text(str(limits.processes + 4))
        job = {"dir": job_dir.name, "module": "candidate.py", "entry": entry, "inputs": inputs,
               "oracle_arg": oracle_arg, "limits": dataclasses.asdict(limits)}
        start = time.monotonic()
        os.write(self.jobs_w, (json.dumps(job) + "\n").encode())
        channel = Channel(self.reply_w, limits, oracle, start + limits.wall_s)
        notice = self._supervise(channel, start + limits.wall_s + _BACKSTOP_S)
        run = Run("crashed", duration_s=round(time.monotonic() - start, 4),
                  resources={"isolation": "bwrap", "worker": "warm"})
        if channel.stuck and notice is not None and notice["kind"] != "died":
            self.stop()  # half a reply is still in the pipe the next job would read
        if notice is None or notice["kind"] == "died":  # replace the worker
            self.stop()
            if notice is not None:
                run.reason = "the warm worker died during the evaluation (killed by the candidate?)"
                return run
            channel.problem = wall_time_problem(limits)
            return channel.verdict(run, -signal.SIGKILL)
        run.stdout, run.stderr = notice["stdout"], notice["stderr"]
        run.error_tail = tail(run.stderr)
        run.resources.update(cpu_s=notice["cpu_s"], max_rss_mb=notice["max_rss_mb"])
        if notice["timeout"]:
            channel.problem = wall_time_problem(limits)
        for stream in ("stdout", "stderr"):
            if notice[f"{stream}_bytes"] > 16 * limits.output_kb * 1024:
                channel.problem = channel.problem or output_problem(stream, limits)
        return channel.verdict(run, notice["code"])

    def _supervise(self, channel: Channel, deadline: float) -> dict[str, Any] | None:
        """Serve the job's messages until the fork server reports its exit."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = select.select([self.result_r, self.notice_r], [], [], min(left, 0.5))[0]
            if self.result_r in ready:
                chunk = os.read(self.result_r, 65536)
                if chunk:
                    channel.feed(chunk)
            if self.notice_r in ready:
                notice = self._notice(deadline)
                if notice is None or notice["kind"] == "died":
                    return notice
                os.set_blocking(self.result_r, False)  # the job's processes are all dead now:
                with contextlib.suppress(BlockingIOError):  # what is in the pipe is all of it
                    while chunk := os.read(self.result_r, 65536):
                        channel.feed(chunk)
                os.set_blocking(self.result_r, True)
                return notice
            if not ready and not self.alive:
                return {"kind": "died"}


class WorkerPool:
    """Local executor: `size` warm workers used from any thread; with no bubblewrap, fresh
    sandboxed processes instead."""

    def __init__(self, size: int = 2, preload: tuple[str, ...] = ("numpy",),
                 level: str | None = None):
        self.level = level or available_level()
        self.size, self.preload = size, preload
        self._fresh = Sandbox(self.level) if self.level != "bwrap" else None
        self._idle: queue.Queue[WarmWorker] = queue.Queue()
        self._all: list[WarmWorker] = []
        self._lock = threading.Lock()

    def _worker(self) -> WarmWorker:
        with self._lock:
            if self._idle.empty() and len(self._all) < self.size:
                worker = WarmWorker(self.preload)
                worker.start()
                self._all.append(worker)
                return worker
        return self._idle.get()

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = DEFAULT_LIMITS,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        if self._fresh is not None:
            run = self._fresh.run(code, entry, inputs, limits, oracle, oracle_arg, files)
            run.resources["worker"] = "fresh (warm workers need bwrap)"
            return run
        worker = self._worker()
        try:
            return worker.run(code, entry, inputs, limits, oracle, oracle_arg, files)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        for worker in self._all:
            worker.stop()
        self._all.clear()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
