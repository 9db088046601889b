"""The in-sandbox side of a warm worker: import the heavy modules once, then fork one child per
evaluation. Runs as a standalone script inside its own bubblewrap sandbox (pid namespace, no
network, read-only file system), next to harness.py.

Channels (pipes set up by the launcher; their fd numbers are the first four arguments):
  result, reply   the evaluation protocol of harness.py, inherited by each child
  jobs            from the launcher, one JSON line each (the child never has it)
  notices         this server's notices to the launcher: ready, and each job's exit (never the
                  child's: it closes jobs and notices before any candidate code runs)

The server never runs a torch op (a forked child would deadlock on its first matmul), makes
itself non-dumpable so the candidate (same uid) cannot ptrace it or open its fds through /proc,
and after every job kills every other process in the namespace and wipes the job's files.
"""

import contextlib
import ctypes
import importlib
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -I leaves it out
import harness

PR_SET_DUMPABLE = 4


def _vm_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(job: dict, server_fds: tuple[int, int]) -> None:
    for fd in server_fds:
        os.close(fd)
    os.setsid()
    os.chdir(job["dir"])
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    limits = job["limits"]
    used = resource.getrusage(resource.RUSAGE_SELF)
    # RLIMIT_CPU is whole seconds of this process's time (a few ms so far, since the fork).
    cpu = int(used.ru_utime + used.ru_stime) + max(1, round(limits["cpu_s"]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = _vm_bytes() + limits["memory_mb"] * 2**20  # the fork shares the warm imports
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = limits["file_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    harness.serve(job)


def _kill_everything_else() -> None:
    """In our pid namespace, every process but bwrap's init (1) and us belongs to the job."""
    me = os.getpid()
    for _ in range(500):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            return
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        while True:  # reap our own children; others are reaped by init
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        time.sleep(0.002)


def _wipe(job_dir: str, keep: set[str]) -> None:
    """Remove the job's files and what it left in /tmp (`keep`: mount points of our binds)."""
    shutil.rmtree(job_dir, ignore_errors=True)
    for name in set(os.listdir("/tmp")) - keep:
        path = os.path.join("/tmp", name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def main() -> None:
    result_fd, reply_fd, jobs_fd, notices_fd = (int(a) for a in sys.argv[1:5])
    preload = sys.argv[5:]
    for name in preload:
        importlib.import_module(name)
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    tmp_at_start = set(os.listdir("/tmp"))  # e.g. a venv under /tmp, bound read-only
    jobs = os.fdopen(jobs_fd, "r")
    notices = os.fdopen(notices_fd, "w", buffering=1)
    notices.write(json.dumps({"kind": "ready", "preloaded": preload}) + "\n")
    for line in jobs:
        job = {**json.loads(line), "channels": [result_fd, reply_fd]}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        pid = os.fork()
        if pid == 0:
            try:
                _child(job, (jobs_fd, notices_fd))
            finally:
                os._exit(0)
        pidfd = os.pidfd_open(pid)
        timed_out = not select.select([pidfd], [], [], job["limits"]["wall_s"])[0]
        os.close(pidfd)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        _kill_everything_else()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        outputs = {}
        for name in ("stdout", "stderr"):
            try:
                with open(os.path.join(job["dir"], f"{name}.txt"), "rb") as f:
                    f.seek(0, os.SEEK_END)
                    size = f.tell()
                    f.seek(max(0, size - job["limits"]["output_kb"] * 1024))
                    outputs[name] = f.read().decode(errors="replace")
                    outputs[f"{name}_bytes"] = size
            except OSError:
                outputs[name], outputs[f"{name}_bytes"] = "", 0
        _wipe(job["dir"], tmp_at_start)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        notices.write(json.dumps({"kind": "exit", "code": os.waitstatus_to_exitcode(status),
                                  "timeout": timed_out, "cpu_s": round(cpu, 4),
                                  "max_rss_mb": round(after.ru_maxrss / 1024, 1),
                                  **outputs}) + "\n")


if __name__ == "__main__":
    main()
