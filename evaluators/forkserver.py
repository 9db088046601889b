"""The in-sandbox side of a warm worker: import the heavy modules once, then fork one child per
evaluation. Runs as a standalone script inside its own bubblewrap sandbox (pid namespace, no
network, read-only root), from /sandbox next to harness.py: a read-only bind, so the only thing
on our sys.path that is not the Python installation is also beyond any job's reach.

Channels (set up by the launcher; their fd numbers are the two first arguments):
  jobs      a unix seqpacket socket: one message per job, carrying its descriptors (SCM_RIGHTS):
            a memfd with the job as JSON, and that job's own result and reply pipes (the
            evaluation protocol of harness.py), then any its oracle shares (at most
            MAX_SHARED: a games task's sealed shared memory). The child gets only those; we
            close our copies at once, so no job can write into a pipe a later job reads. A
            message during a job (no descriptors) says: end it now.
  notices   this server's notices to the launcher: ready, and each job's exit (never the
            child's: it closes jobs and notices before any candidate code runs)

The server never runs a torch op (a forked child would deadlock on its first matmul), makes
itself non-dumpable so the candidate (same uid) cannot ptrace it or open its fds through /proc,
and gives each job a folder of its own under /scratch (random name, created exclusively). It is
the subreaper of every job's processes, so the CPU time it reports for a job (its children's
rusage over the job, once all are reaped) covers every process the job started, orphans
included: what a task that rewards speed scores (the scorer's `cpu_s`). After
every job it kills every other process in the namespace, then wipes everything writable (/scratch,
/tmp, /dev/shm, whatever the job did to their permissions) and the namespace's SysV IPC objects,
and says in its notice whether that left the places as they were at start; a worker that is
not clean is replaced by the launcher. POSIX message queues (which would outlive a job in the
IPC namespace) cannot be created: RLIMIT_MSGQUEUE is 0. The kernel's keyrings are not files
either: each job joins a new session keyring, and the server clears the user keyrings after it.
"""

import contextlib
import ctypes
import importlib
import json
import os
import platform
import resource
import secrets
import select
import signal
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -I leaves it out
import harness

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
WRITABLE = ("/scratch", "/tmp", "/dev/shm")
"""As in sandbox.WRITABLE: the tmpfs mounts that are the only writable places."""
MAX_SHARED = 4
"""Most descriptors a job's oracle may share with it beyond its two pipes."""


def _vm_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(job: dict, server_fds: tuple[int, int], job_dir: str) -> None:
    for fd in server_fds:
        os.close(fd)
    os.setsid()
    os.chdir(job_dir)
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
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
    _keyctl(KEYCTL_JOIN_SESSION_KEYRING, None)  # a new, empty session keyring of its own
    with open("/proc/self/oom_score_adj", "w") as adj:  # over the memory limit, the job goes
        adj.write("1000")                                # first, not this server
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    harness.serve(job)


def _kill_everything_else() -> bool:
    """In our pid namespace, every process but bwrap's init (1) and us belongs to the job. We
    are the job's subreaper, so each of them is our child (the job's own, or an orphan handed
    to us) and is reaped here: its CPU time counts in the job's. False if some outlived a
    second of SIGKILLs (stuck in the kernel): the worker is then not clean, and is replaced
    before that process could touch, or be counted in, another job."""
    me = os.getpid()
    for _ in range(500):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            return True
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        while True:  # reap our children: every process of the job, orphans included
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        time.sleep(0.002)
    return False


class _Places:
    """The writable places as they were at start: their modes, and what lay in them (only the
    folders leading to read-only binds of ours, such as a venv under /tmp, if anything)."""

    def __init__(self) -> None:
        self.modes = {place: stat.S_IMODE(os.lstat(place).st_mode) for place in WRITABLE}
        self.start = self.contents()

    @staticmethod
    def contents() -> set[str]:
        """Every path in the writable places, not descending into other file systems."""
        found = set()
        for place in WRITABLE:
            device = os.lstat(place).st_dev
            for top, dirs, files in os.walk(place):
                found.update(os.path.join(top, name) for name in dirs + files)
                dirs[:] = [d for d in dirs if os.lstat(os.path.join(top, d)).st_dev == device]
        return found

    def wipe(self) -> bool:
        """Remove everything a job left; True if the places are as they were at start."""
        try:
            for place, mode in self.modes.items():
                _empty(place, os.lstat(place).st_dev)
                os.chmod(place, mode)
            _remove_ipc()
            keys_left = [_keyctl(KEYCTL_CLEAR, ring) for ring in USER_KEYRINGS]
            return self.contents() == self.start and not _ipc_ids() and not any(keys_left)
        except (OSError, RecursionError):
            return False


def _empty(path: str, device: int) -> None:
    """Delete all under `path`, whatever the job did to permissions (we are the owner: chmod
    works where read or write is denied); mounts of ours (another device) are left alone."""
    os.chmod(path, 0o700)
    for entry in os.scandir(path):
        if not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)
        elif entry.stat(follow_symlinks=False).st_dev == device:
            _empty(entry.path, device)
            with contextlib.suppress(OSError):  # a folder leading to a mount stays
                os.rmdir(entry.path)


_LIBC = ctypes.CDLL(None, use_errno=True)
_IPC_REMOVE = {
    "shm": lambda ident: _LIBC.shmctl(ident, IPC_RMID, None),
    "msg": lambda ident: _LIBC.msgctl(ident, IPC_RMID, None),
    "sem": lambda ident: _LIBC.semctl(ident, 0, IPC_RMID),
}
"""SysV IPC objects live in our IPC namespace past the job that made them: removed after each."""


KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR = 1, 7
USER_KEYRINGS = (-4, -5)
"""KEY_SPEC_USER_KEYRING and KEY_SPEC_USER_SESSION_KEYRING: they belong to the uid, not to a
process, so a key a job adds there would outlive it."""
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(platform.machine())


def _keyctl(operation: int, argument: int | None) -> int:
    """keyctl(2) (libc has no wrapper); 0 on success. On a machine whose syscall number we do
    not know, -1: clearing then fails, and the worker is replaced after every job."""
    if _SYS_KEYCTL is None:
        return -1
    return _LIBC.syscall(_SYS_KEYCTL, operation, argument)


def _ipc_ids() -> list[tuple[str, int]]:
    found = []
    for kind in _IPC_REMOVE:
        with open(f"/proc/sysvipc/{kind}") as table:
            found += [(kind, int(line.split()[1])) for line in list(table)[1:]]
    return found


def _remove_ipc() -> None:
    for kind, ident in _ipc_ids():
        _IPC_REMOVE[kind](ident)


def _next_job(jobs: socket.socket) -> dict | None:
    """The next job with its own channels; None when the launcher has gone. An end-the-job
    message that crossed the last job's exit is skipped."""
    fds: list[int] = []
    while not fds:
        message, fds, flags, _ = socket.recv_fds(jobs, 1, 3 + MAX_SHARED)
        if not message:
            return None
    if len(fds) < 3 or flags & socket.MSG_CTRUNC:
        raise RuntimeError(f"a job came with {len(fds)} descriptors, not 3 to {3 + MAX_SHARED}")
    payload, result_fd, reply_fd, *shared = fds
    with os.fdopen(payload, "rb") as file:
        file.seek(0)
        return {**json.loads(file.read()), "channels": [result_fd, reply_fd, *shared]}


def _run(job: dict, jobs: socket.socket, notices_fd: int, places: _Places) -> dict:
    """Fork the job's child, wait for it (at most its wall limit, or until the launcher says
    to end it), clean up; the exit notice."""
    job_dir = os.path.join("/scratch", secrets.token_hex(16))
    os.mkdir(job_dir, 0o700)  # exclusive: fails on anything already there
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pid = os.fork()
    if pid == 0:
        try:
            _child(job, (jobs.fileno(), notices_fd), job_dir)
        finally:
            os._exit(0)
    for fd in job["channels"]:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    ready = select.select([pidfd, jobs], [], [], job["limits"]["wall_s"])[0]
    os.close(pidfd)
    if jobs in ready:  # the launcher ends the job early (its verdict is settled), or has gone
        jobs.recv(1)
    if pidfd not in ready:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    alone = _kill_everything_else()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process of the job, reaped
    outputs = _outputs(job_dir, job["limits"]["output_kb"] * 1024)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"kind": "exit", "code": os.waitstatus_to_exitcode(status), "timeout": not ready,
            "cpu_s": round(cpu, 4), "max_rss_mb": round(after.ru_maxrss / 1024, 1),
            **outputs, "clean": places.wipe() and alone}


def _outputs(job_dir: str, keep: int) -> dict:
    """The tails of the job's stdout and stderr, and their full sizes."""
    outputs = {}
    for name in ("stdout", "stderr"):
        try:
            with open(os.path.join(job_dir, f"{name}.txt"), "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - keep))
                outputs[name] = f.read().decode(errors="replace")
                outputs[f"{name}_bytes"] = size
        except OSError:
            outputs[name], outputs[f"{name}_bytes"] = "", 0
    return outputs


def main() -> None:
    jobs_fd, notices_fd = (int(a) for a in sys.argv[1:3])
    harness.default_signals()  # the jobs it forks inherit them
    preload = sys.argv[3:]
    for name in preload:
        importlib.import_module(name)
    _LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # Orphans of a job become our children, not bwrap's init's: reaping them adds their CPU
    # time to our RUSAGE_CHILDREN, so a job cannot hide work in a process it leaves behind.
    if _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    places = _Places()
    jobs = socket.socket(fileno=jobs_fd)
    notices = os.fdopen(notices_fd, "w", buffering=1)
    notices.write(json.dumps({"kind": "ready", "preloaded": preload}) + "\n")
    while (job := _next_job(jobs)) is not None:
        notice = _run(job, jobs, notices_fd, places)
        notices.write(json.dumps(notice) + "\n")
        if not notice["clean"]:
            return


if __name__ == "__main__":
    main()
