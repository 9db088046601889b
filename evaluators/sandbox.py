"""Run one untrusted candidate program in isolation and bring back its outputs as plain data.

Isolation levels, strongest first (the one in force is reported with every result):

- `bwrap`: bubblewrap with every namespace unshared (user, pid, net, ipc, uts, cgroup), uid
  65534 inside, an allowlist of read-only binds (system dirs, the Python installation, our own
  code in /sandbox), a read-only root and /dev, a fresh `/proc` that shows no process of ours,
  `--die-with-parent`, no capabilities. The only writable places are /scratch (the working
  directory), /tmp and /dev/shm: each a tmpfs sized to the memory limit. Inside, uid 65534 is
  root outside: file permissions protect nothing, only read-only mounts do. A sandbox given
  GPUs (an evaluation slot's: evaluators/devices.py) also has their /dev/nvidia<N> nodes and
  the driver's control nodes, and no other device of the host.
- `unshare`: util-linux `unshare` with new net, pid, ipc, uts and mount namespaces. The candidate
  runs as the launching user: the file system is NOT protected beyond its permissions.
- `rlimits`: resource limits, a scrubbed environment and a scratch cwd only.

A level asked for by name that cannot run here is an `IsolationError` (one line with the fix).

At every level: a scrubbed environment, a private scratch directory as cwd, rlimits on CPU
time, address space, file size and open files, cgroups per evaluation where the machine lets us
make them (pids: caps fork bombs, even for root, and finds daemons that left the session;
memory: RAM and the pages of in-memory files, /tmp and /dev/shm included, count against the
memory limit together; `run.resources` says which were in force), a wall-clock deadline after
which the whole process tree is killed, and capped output.

The candidate talks to the harness over two pipes we set up (their fd numbers travel in the
request): the result pipe (harness to us: JSON lines, `call` requests for the task's oracle and
one `result` or `error`) and the reply pipe (our answers to calls). After a call's answer each
side polls for the other's next message for a short window before it blocks, where that pays
(harness.Poller): a sleeping process wakes slowly. A candidate can write to the
result pipe itself, but anything it could say there it could equally return: scores are
computed by the trusted scorer from the outputs, never taken from the candidate. Whatever
arrives is parsed in linear time under bounds (total size, nesting depth, number of lists and
objects, one result): anything else is the candidate's fault, `invalid` with a reason. What we
have read and not yet answered is bounded too (calls, and their bytes: one message's worth):
past that we stop reading and the pipe makes the candidate's writes wait.
"""

import contextlib
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evaluators.devices import Gpu, nodes, visible
from evaluators.harness import Poller, json_decoder, json_encoder

HARNESS = Path(__file__).with_name("harness.py")
LEVELS = ("bwrap", "unshare", "rlimits")
CODE_DIR = "/sandbox"
"""Where our own scripts are bound read-only at the bwrap level (never on a writable path)."""
WRITABLE = ("/scratch", "/tmp", "/dev/shm")
"""The only writable places at the bwrap level: each a tmpfs of the memory limit's size."""
MAX_DEPTH = 100
"""Deepest nesting of lists and objects accepted in a message from the candidate."""
MAX_CONTAINERS = 2**20
"""Most lists and objects in one message: an empty list costs us 56 bytes for its 3 bytes."""
PARSE_COST = 32
"""Bytes of our memory per byte of a message once parsed, at worst (measured: objects of one
key 28x, lists of pairs 24x, of short strings 13x, of floats 9x, of small ints 5x; a long
string 1-4x, 4 where one character needs UCS-4). No shape grows faster than linearly: the
nesting is bounded, and ints are capped at 4300 digits by Python itself."""
CALL_POLL_S = 0.0003
"""How long our side polls the result pipe for the candidate's next call after answering one,
before it goes back to waiting in select (while polling pays: harness.Poller). A trusted
loop's candidate calls again within tens of microseconds (a CFR update: ~30-50 us), and waking
a thread that sleeps in select costs ~40 us on these VMs: on idle cores polling made an empty
oracle round trip ~12 us instead of ~50-85 (bench/oracle_bench.py). A candidate that does not
call again costs at most one window per answer; 0 turns polling off."""
REPLY_POLL_S = 0.0003
"""How long the candidate's harness polls for an oracle's answer before it blocks (sent in
the request as `poll_s`; the polling is the candidate's own CPU time)."""
_NOBODY = 65534
_READ_CHUNK = 65536
_FIXES = {
    "bwrap": "install bubblewrap and allow unprivileged user namespaces "
             "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), or "
             "choose a weaker level with --isolation unshare or --isolation rlimits",
    "unshare": "util-linux unshare needs root here (CAP_SYS_ADMIN); choose a weaker level "
               "with --isolation rlimits",
}


class IsolationError(Exception):
    """An isolation level asked for by name cannot run on this machine; the message is one
    line naming the level and the fix."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 30.0
    cpu_s: float = 30.0
    memory_mb: int = 4096
    """Address space (RLIMIT_AS): generous, because numpy and torch reserve far more than they
    touch; and, where a memory cgroup can be made, RAM plus in-memory files (/tmp, /dev/shm,
    /scratch) together."""
    processes: int = 32
    """Processes and threads in the evaluation's pids cgroup."""
    file_mb: int = 64
    output_kb: int = 64
    """Kept of stdout and of stderr each (the tail); past 16x this the candidate is killed."""
    result_mb: int = 64
    """Largest message on the result channel (the result, or one oracle call), and what the
    calls read but not yet answered may hold together: one message's worth. Our memory for the
    channel is at most about (2 x PARSE_COST + 2) x this: the calls held and the result once
    parsed, one message being read and one being parsed (at 64 MB, MAX_CONTAINERS caps the
    costliest shapes: one message parsed measured at most ~940 MB, so ~2 GB in all). A long
    dialogue of small calls is bounded by the wall limit instead."""


DEFAULT_LIMITS = Limits()


@dataclass
class Run:
    """What came back from one sandboxed run."""

    status: str
    """ok, timeout, crashed or invalid (the archive's statuses)."""
    outputs: Any = None
    reason: str | None = None
    error_tail: str | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    resources: dict[str, Any] = field(default_factory=dict)
    """What the run used and the containment in force: `cpu_s` (user + system seconds), and
    `cpu_all_processes`, True where `cpu_s` counts every process the run started, orphans
    included (a cpu cgroup, or a warm worker's reaper), so a candidate cannot hide work from
    it; False where it is only what wait4 saw (a scorer may not rely on it then)."""


Oracle = Callable[[Any], Any]
"""The task's trusted service to the candidate (e.g. evaluating a hidden objective): it gets the
candidate's request as plain data and returns plain data, or raises to refuse. Calls are served
one at a time, in order, unless the oracle has a `concurrency` attribute above 1: then up to
that many run at once on threads (model calls of an agent answering questions in parallel),
and the oracle must be thread-safe. An oracle's `fds` attribute, if any, lists descriptors it
shares with the candidate's side (a games task's sealed shared memory): every executor hands
them to the candidate's process after its two pipes; the harness gives them to its code."""

MAX_QUEUED = 4
"""Calls of a concurrent oracle waiting beyond its `concurrency`, per slot. Past that (or past
`result_mb` of calls held) we read no more: the candidate's next write waits in the pipe until
a call is answered, so it cannot pile up work or memory on our side, and is not refused."""


class Executor(Protocol):
    """Runs candidates in isolation: a `Sandbox` (fresh process each time), a warm
    `WorkerPool`, or the Ray executor. Thread-safe; `level` is the isolation in force."""

    level: str

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = ...,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        """`files`: trusted modules written next to the candidate, so it can import them."""
        ...


def harness_request(code: str, entry: str, inputs: dict[str, Any], oracle_arg: str | None,
                    files: dict[str, str] | None) -> dict[str, Any]:
    """What the harness gets (evaluators/harness.py), less its channels: the candidate and the
    task's support modules, which it writes side by side into the candidate's working directory
    (inside the sandbox: we never write there), the entry and its inputs, and how long a call
    polls for its answer."""
    for name in files or {}:
        if Path(name).name != name:
            raise ValueError(f"support file {name!r} must be a plain file name")
    return {"files": {**(files or {}), "candidate.py": code}, "module": "candidate.py",
            "entry": entry, "inputs": inputs, "oracle_arg": oracle_arg, "poll_s": REPLY_POLL_S}


def available_level() -> str:
    """The strongest isolation level that works on this machine (checked once per process)."""
    global _level_cache
    if _level_cache is None:
        _level_cache = next(
            (lvl for lvl in LEVELS[:-1] if _problem(lvl) is None), LEVELS[-1]
        )
    return _level_cache


_level_cache: str | None = None


def checked_level(level: str | None) -> str:
    """The level to use: the strongest here by default; one asked for by name must run here."""
    if level is None:
        return available_level()
    if level not in LEVELS:
        raise ValueError(f"unknown isolation level {level!r}: use one of {', '.join(LEVELS)}")
    problem = _problem(level) if level in _FIXES else None
    if problem is not None:
        raise IsolationError(f"isolation level {level!r} cannot run here ({problem}): "
                             f"{_FIXES[level]}")
    return level


def _problem(level: str) -> str | None:
    """Why `level` cannot run here, in one line; None if it can."""
    try:
        done = subprocess.run(_wrap(level, ["/bin/true"], 1), capture_output=True,
                              timeout=20, env=_scrubbed_env(Path("/")))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return tail(done.stderr.decode(errors="replace"), 1) or f"exit code {done.returncode}"


def _scrubbed_env(home: Path, gpus: tuple[Gpu, ...] = ()) -> dict[str, str]:
    """No keys, no tokens; BLAS on one thread. A machine's pinned OpenBLAS kernel choice
    (OPENBLAS_CORETYPE) is kept, so the candidate's arithmetic is the evaluator's and the
    benches': other kernels round differently and moved a PSRO case score by 0.04. CUDA sees
    the slot's `gpus` only (none: an empty list; below the bwrap level, where the host's
    device nodes are reachable, this is all that keeps a slot off other slots' GPUs)."""
    pinned = {k: v for k in ("OPENBLAS_CORETYPE",) if (v := os.environ.get(k))}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "CUDA_VISIBLE_DEVICES": visible(gpus), **pinned}


def _python_roots() -> list[Path]:
    """What the interpreter needs to start and import installed packages, and nothing else."""
    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent}
    return sorted(r for r in roots if r.exists())


def python_argv(level: str, script: Path, *args: str) -> list[str]:
    """Run one of our scripts: at the bwrap level, its read-only copy in CODE_DIR."""
    where = f"{CODE_DIR}/{script.name}" if level == "bwrap" else str(script)
    return [sys.executable, "-I", "-B", where, *args]


def _wrap(level: str, argv: list[str], writable_mb: int, code: tuple[Path, ...] = (),
          gpus: tuple[Gpu, ...] = ()) -> list[str]:
    """`argv` under `level`; at bwrap, `code` is bound read-only into CODE_DIR, each writable
    place is a tmpfs of `writable_mb`, and the device nodes of `gpus` (with the driver's
    control nodes) are bound into the minimal /dev, nothing else of the host's. The tools are
    found on the user's PATH (the candidate's is scrubbed)."""
    if level == "bwrap":
        cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--uid", str(_NOBODY),
               "--gid", str(_NOBODY), "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--clearenv"]
        for name, value in _scrubbed_env(Path("/scratch"), gpus).items():
            cmd += ["--setenv", name, value]
        cmd += ["--proc", "/proc", "--dev", "/dev"]
        for node in nodes(gpus):
            cmd += ["--dev-bind", node, node]
        # Mount order matters: a tmpfs mounted later would hide binds beneath it (a venv in /tmp).
        for place in WRITABLE:
            cmd += ["--size", str(writable_mb * 2**20), "--tmpfs", place]
        cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for link in ("bin", "sbin", "lib", "lib64", "lib32"):
            target = Path("/") / link
            if target.is_symlink():
                cmd += ["--symlink", os.readlink(target), str(target)]
            elif target.is_dir():
                cmd += ["--ro-bind", str(target), str(target)]
        for root in _python_roots():
            cmd += ["--ro-bind", str(root), str(root)]
        for script in code:
            cmd += ["--ro-bind", str(script), f"{CODE_DIR}/{script.name}"]
        cmd += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/scratch"]
        return [*cmd, *argv]
    if level == "unshare":
        return [shutil.which("unshare") or "unshare", "--net", "--pid", "--ipc", "--uts",
                "--mount", "--fork", "--kill-child", "--mount-proc", *argv]
    return argv


_MEMORY_FILES = {1: ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.oom_control"),
                 2: ("memory.max", "memory.current", "memory.events")}
"""Per cgroup version: where the memory limit, the usage and the count of OOM kills are."""


class _Cgroups:
    """This evaluation's own cgroups: `pids` caps the number of tasks (a fork bomb stops there,
    even as root) and lists every process of the evaluation so that all can be killed, daemons
    included; `cpuacct` measures the CPU time of the whole tree, which wait4 cannot see through
    bwrap's pid namespace; `memory` charges RAM and the pages of in-memory files (tmpfs, SysV
    shared memory) to the evaluation, so a candidate cannot park memory outside its limit.
    Any may be missing on a machine; the result says so."""

    def __init__(self, processes: int, memory_mb: int):
        name = f"discovery-{uuid.uuid4().hex[:12]}"
        v2 = _v2_base()
        if v2 is not None:
            self.version = 2
            self.pids = self.cpu = self.memory = _make_group(v2 / name,
                                                             {"pids.max": str(processes)})
        else:
            self.version = 1
            self.pids = _make_group(_v1_base("pids") / name, {"pids.max": str(processes)})
            self.cpu = _make_group(_v1_base("cpuacct") / name, {})
            self.memory = _make_group(_v1_base("memory") / name, {})
        self.groups = {self.pids, self.cpu, self.memory} - {None}
        try:
            self.limit_memory(memory_mb * 2**20)
        except OSError:
            self.memory = None

    def limit_memory(self, limit: int) -> None:
        """At most `limit` bytes charged to the evaluation from now on."""
        if self.memory is not None:
            (self.memory / _MEMORY_FILES[self.version][0]).write_text(str(limit))

    def memory_used(self) -> int:
        if self.memory is None:
            return 0
        return int((self.memory / _MEMORY_FILES[self.version][1]).read_text())

    def oom_kills(self) -> int:
        """Processes of the evaluation the kernel killed for exceeding the memory limit."""
        with contextlib.suppress(OSError, TypeError, ValueError):
            events = (self.memory / _MEMORY_FILES[self.version][2]).read_text()
            return int(dict(line.split() for line in events.splitlines()).get("oom_kill", 0))
        return 0

    def join(self) -> None:
        """Called in the child between fork and exec."""
        for group in self.groups:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    def members(self) -> list[int]:
        with contextlib.suppress(OSError, TypeError):
            return [int(p) for p in (self.pids / "cgroup.procs").read_text().split()]
        return []

    def cpu_s(self) -> float | None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            if (self.cpu / "cpuacct.usage").exists():
                return int((self.cpu / "cpuacct.usage").read_text()) / 1e9
            stat = dict(line.split() for line in (self.cpu / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
        return None

    def kill_all(self) -> None:
        """SIGKILL until empty: a fork bomb may still be forking."""
        for _ in range(500):
            members = self.members()
            if not members:
                break
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)

    def remove(self) -> None:
        for group in self.groups:
            for _ in range(200):
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.005)

    def resources(self, level: str, writable_mb: int) -> dict[str, Any]:
        """What `run.resources` says about the containment in force."""
        found: dict[str, Any] = {"isolation": level, "pids_cgroup": self.pids is not None,
                                 "memory_cgroup": self.memory is not None}
        if level == "bwrap":
            found["writable_mb"] = dict.fromkeys(WRITABLE, writable_mb)
        if self.memory is None:
            found["memory_note"] = ("no memory cgroup could be made: in-memory files are "
                                    "capped by their tmpfs sizes, not by the memory limit")
        return found


def memory_verdict(run: Run, oom_kills: int, limits: Limits) -> Run:
    """A process of the evaluation killed for memory makes the run crashed, whatever came back
    before (RAM and in-memory files count together against the limit)."""
    if oom_kills:
        run.status, run.outputs = "crashed", None
        run.reason = (f"memory limit of {limits.memory_mb} MB exceeded (RAM and files in "
                      f"{', '.join(WRITABLE)} together)")
    return run


def _make_group(path: Path, settings: dict[str, str]) -> Path | None:
    if not path.parent.is_dir():
        return None
    try:
        path.mkdir()
        for name, value in settings.items():
            (path / name).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path


def _v1_base(controller: str) -> Path:
    return Path("/sys/fs/cgroup") / controller


def _v2_base() -> Path | None:
    """A pure cgroup v2 machine where we may create groups with the pids and memory
    controllers."""
    root = Path("/sys/fs/cgroup")
    with contextlib.suppress(OSError):
        if {"pids", "memory"} <= set((root / "cgroup.subtree_control").read_text().split()) \
                and os.access(root, os.W_OK):
            return root
    return None


class Sandbox:
    """A fresh sandboxed process per run; `gpus`: the devices its runs may use (an evaluation
    slot's), none by default."""

    def __init__(self, level: str | None = None, gpus: tuple[Gpu, ...] = ()):
        self.level = checked_level(level)
        self.gpus = gpus

    def run(self, code: str, entry: str, inputs: dict[str, Any], limits: Limits = DEFAULT_LIMITS,
            oracle: Oracle | None = None, oracle_arg: str | None = None,
            files: dict[str, str] | None = None) -> Run:
        """Run `entry(**inputs)` of `code` (plus the oracle as keyword `oracle_arg`)."""
        request = harness_request(code, entry, inputs, oracle_arg, files)
        with _scratch() as scratch:
            cgroups = _Cgroups(limits.processes, limits.memory_mb)
            try:
                run = self._launch(scratch, request, limits, cgroups, oracle)
            finally:
                cgroups.kill_all()
                cpu, oom_kills = cgroups.cpu_s(), cgroups.oom_kills()
                cgroups.remove()
            if cpu is not None:
                run.resources["cpu_s"] = round(cpu, 4)
            run.resources["cpu_all_processes"] = cpu is not None
            run.resources.update(cgroups.resources(self.level, limits.memory_mb))
            return memory_verdict(run, oom_kills, limits)

    def _launch(self, scratch: Path, request: dict[str, Any], limits: Limits,
                cgroups: _Cgroups,
                oracle: Oracle | None) -> Run:
        result_r, result_w = os.pipe()
        reply_r, reply_w = os.pipe()
        shared = tuple(getattr(oracle, "fds", ()))

        def child_setup() -> None:  # runs in the child between fork and exec
            cgroups.join()
            cpu = max(1, int(limits.cpu_s + 0.999))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            memory = limits.memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            size = limits.file_mb * 2**20
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

        argv = _wrap(self.level, python_argv(self.level, HARNESS), limits.memory_mb,
                     code=(HARNESS,), gpus=self.gpus)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv, cwd=scratch, env=_scrubbed_env(scratch, self.gpus), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(result_w, reply_r, *shared),
                close_fds=True, preexec_fn=child_setup, start_new_session=True,
            )
        finally:
            os.close(result_w)
            os.close(reply_r)
        supervisor = _Supervisor(proc, result_r, reply_w, limits, oracle, start)
        try:
            return supervisor.watch(json.dumps({**request,
                                                "channels": [result_w, reply_r, *shared]}))
        finally:
            for fd in (result_r, reply_w):
                with contextlib.suppress(OSError):
                    os.close(fd)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """The working directory below the bwrap level (at bwrap, /scratch is a tmpfs instead)."""
    path = Path(tempfile.mkdtemp(prefix="discovery-eval-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class MessageError(ValueError):
    """A message from the candidate we refuse to take (its fault: the run is invalid)."""


_decode = json_decoder()
_encode = json_encoder(json.JSONEncoder().default)


def parse_message(line: bytes) -> dict[str, Any]:
    """One JSON message from the candidate, within bounds: a candidate's JSON cannot exhaust
    our stack (nesting) or our memory (containers cost us ~20x their bytes). UTF-8 only, and
    nothing around the JSON value (the harness sends ASCII lines): `json.loads` would guess
    the encoding and match whitespace first, most of a small message's parse."""
    containers = line.count(b"[") + line.count(b"{")  # counts brackets in strings too: a bound
    if containers > MAX_CONTAINERS:
        raise MessageError(f"more than {MAX_CONTAINERS} lists and objects in one message")
    try:
        message = _decode(line.decode())
    except RecursionError:
        raise MessageError(f"message nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise MessageError("malformed message on the result channel") from None
    if containers > MAX_DEPTH and _deeper_than(message, MAX_DEPTH):
        raise MessageError(f"message nested deeper than {MAX_DEPTH} levels")
    if not isinstance(message, dict):
        raise MessageError("malformed message on the result channel")
    return message


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` deep (iterative: a stack of at most
    `limit` iterators, so the check itself cannot overflow)."""
    stack = [iter((value,))]
    while stack:
        for item in stack[-1]:
            if isinstance(item, (list, dict)):
                if len(stack) > limit:
                    return True
                stack.append(iter(item.values() if isinstance(item, dict) else item))
                break
        else:
            stack.pop()
    return False


class Channel:
    """Our side of the harness protocol: messages in on the result pipe (oracle calls served at
    once, or on threads for a concurrent oracle; size-capped, parsed in linear time; the second
    result or error ends it), answers out on the reply pipe; then, with the exit code, the
    verdict.

    What we read but have not answered costs our memory, so it is bounded in calls and bytes
    (`room`): a complete message that does not fit waits, unparsed, until a call is answered,
    and meanwhile the caller reads no more (`blocked`): the pipe fills and the candidate's
    writes block (back-pressure, not a refusal; the wall limit still runs). `wake` becomes
    readable when room frees; the caller then calls `wake_up`. `close()` settles the rest."""

    def __init__(self, reply_w: int, limits: Limits, oracle: Oracle | None, deadline: float):
        self.reply_w, self.limits, self.oracle = reply_w, limits, oracle
        self.deadline = deadline
        slots = getattr(oracle, "concurrency", 1)
        self.pool = ThreadPoolExecutor(slots, thread_name_prefix="oracle") if slots > 1 \
            else None
        self.room = (slots * (1 + MAX_QUEUED), limits.result_mb * 2**20)
        """Calls, and their bytes, held at once: read and not yet answered, served or queued.
        The bytes are one message's worth, so a queue costs us what one message may (at most
        PARSE_COST times that once parsed), whatever the oracle's concurrency."""
        self.held = [0, 0]
        self.guard = threading.Lock()
        """Guards `held` and `blocked`: the oracle's threads release what their call held."""
        self.blocked = False
        """A complete message waits in `pending` for room: read no more from the pipe."""
        self.wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.writing = threading.Lock()
        self.replies = 0
        """Answers written so far (under `writing`): `read` polls for the next call after one."""
        self.poller = Poller(CALL_POLL_S)
        self.pending = bytearray()
        """Read and not yet handled: complete messages waiting for room, then the start of a
        line whose end has not arrived yet (at most one message and one read's worth)."""
        self.scanned = 0
        """How much of `pending` is known to hold no line end."""
        self.closed = False
        """The candidate is gone: calls left in `pending` are not served (nobody would read
        the answer), a result there still counts."""
        self.result: dict[str, Any] | None = None
        """The one `result` or `error` message."""
        self.problem: tuple[str, str] | None = None

    def feed(self, chunk: bytes) -> None:
        """Bytes read from the result pipe (the caller reads only while not `blocked`)."""
        if self.problem is None:
            self.pending += chunk
            self.pump()

    def read(self, fd: int) -> bool:
        """Read the result pipe `fd` (non-blocking, and readable) and handle what came; after
        each read that answered a call, poll `fd` for the next call (for CALL_POLL_S, while
        that pays: harness.Poller) before the caller goes back to its select, so a candidate
        that stops calling costs at most one window per answer. False at the pipe's end."""
        self.poller.waited()
        with contextlib.suppress(BlockingIOError):
            chunk: bytes | None = os.read(fd, _READ_CHUNK)
            while chunk:
                replies = self.replies
                self.feed(chunk)
                if self.replies == replies or self.blocked or self.problem is not None \
                        or time.monotonic() >= self.deadline:
                    return True
                chunk = self.poller.read(fd)
            return chunk is None
        return True

    def wake_up(self) -> None:
        """`wake` was readable: room has freed, handle the messages that waited for it."""
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self.wake)
        self.pump()

    def pump(self) -> None:
        """Handle the complete messages in `pending`, in order, while they fit. Each byte is
        searched for a line end once and copied out once (deleting from the front of a
        bytearray is cheap), so a long line arriving in many reads costs linear time."""
        while self.problem is None:
            end = self.pending.find(b"\n", self.scanned)
            if end < 0:
                self.scanned = len(self.pending)
                self._check_size(len(self.pending))
                return
            self.scanned = end  # a message waiting for room is not searched again
            if self._check_size(end) or not self._hold(end):
                return
            line = self.pending[:end]
            del self.pending[:end + 1]
            self.scanned = 0
            self._message(line, end)

    def _check_size(self, size: int) -> bool:
        """True (and the problem set) if one message is over the cap."""
        if size > self.limits.result_mb * 2**20:
            self.problem = ("invalid", f"a message larger than {self.limits.result_mb} MB on "
                                       "the result channel")
        return self.problem is not None

    def _hold(self, size: int) -> bool:
        """Take room for a message of `size` bytes (a call, until it is answered; anything
        else, until it is parsed); False, and `blocked`, while it does not fit. A message
        never exceeds the bytes of `room`, so an empty queue takes any."""
        calls, size_cap = self.room
        with self.guard:
            self.blocked = not self.closed and (
                self.held[0] >= calls or self.held[1] + size > size_cap)
            if not self.blocked:
                self.held[0] += 1
                self.held[1] += size
            return not self.blocked

    def _release(self, size: int) -> None:
        with self.guard:
            self.held[0] -= 1
            self.held[1] -= size
            if self.blocked:
                os.eventfd_write(self.wake, 1)

    def _message(self, line: bytearray, size: int) -> None:
        """Handle one message that holds room for `size` bytes, and release the room (a call
        served on the oracle's threads releases it when answered)."""
        try:
            message = parse_message(line)
        except MessageError as exc:
            message, self.problem = {}, ("invalid", str(exc))
        if message.get("kind") != "call":
            self._take(message)
        elif self.pool is not None and not self.closed:
            self.pool.submit(self._answer, message).add_done_callback(
                lambda _: self._release(size))
            return
        elif not self.closed:
            self._answer(message)
        self._release(size)

    def _take(self, message: dict[str, Any]) -> None:
        """A `result` or `error` message: the first counts, a second is the candidate's fault."""
        if self.problem is not None:
            return
        if self.result is not None:
            self.problem = ("invalid", "more than one result message")
        else:
            self.result = message

    def _answer(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": message.get("id")}
        if self.oracle is None:
            reply["error"] = "this task offers no oracle"
        else:
            try:
                reply["value"] = self.oracle(message.get("request"))
            except Exception as exc:  # the oracle refusing is the candidate's problem
                reply["error"] = f"{type(exc).__name__}: {exc}"
        self._reply(reply)

    def _reply(self, reply: dict[str, Any]) -> None:
        data = memoryview((_encode(reply) + "\n").encode())
        with self.writing:  # replies of concurrent calls go out whole, one after another
            self._write(data)
            self.replies += 1

    def close(self) -> None:
        """The candidate is gone (or its verdict settled): wait for the calls being served
        (queued ones are dropped: their threads write to the reply pipe, which closes next),
        then take what is left in `pending`, so a result that waited behind calls for room
        still counts."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.closed = True
        self.pump()
        os.close(self.wake)

    def _write(self, data: memoryview) -> None:
        """Write a reply larger than the pipe holds without trusting the candidate to read it:
        a candidate that asks and never reads runs into the wall-clock deadline, not us into a
        blocked write."""
        if not self.replies:
            os.set_blocking(self.reply_w, False)
        while data:
            try:
                data = data[os.write(self.reply_w, data):]
            except BlockingIOError:
                left = self.deadline - time.monotonic()
                if left <= 0 or not select.select([], [self.reply_w], [], left)[1]:
                    self.problem = wall_time_problem(self.limits)
                    return
            except OSError:  # the candidate closed its end: its loss
                return

    def verdict(self, run: Run, code: int) -> Run:
        """Fill in status, reason and outputs from what arrived and how the process ended."""
        run.status, run.resources["exit_code"] = "crashed", code
        if self.problem is not None:
            run.status, run.reason = self.problem
        elif self.result is not None and self.result.get("kind") == "error":
            error = self.result
            run.reason = _describe_error(error.get("type"), error.get("message"), self.limits)
            run.error_tail = tail(str(error.get("traceback", ""))) or run.error_tail
        elif _signal_of(code) == signal.SIGXCPU:
            run.reason = f"CPU time limit of {self.limits.cpu_s:g} s exceeded"
        elif _signal_of(code) == signal.SIGXFSZ:
            run.reason = f"file size limit of {self.limits.file_mb} MB exceeded"
        elif _signal_of(code):
            run.reason = f"killed by signal {signal.Signals(_signal_of(code)).name}"
        elif code != 0:
            run.reason = f"exited with code {code} before returning outputs"
        elif self.result is None or self.result.get("kind") != "result":
            run.reason = "exited before returning outputs"
        else:
            run.status, run.outputs, run.error_tail = "ok", self.result.get("outputs"), None
        return run


def wall_time_problem(limits: Limits) -> tuple[str, str]:
    return ("timeout", f"wall time limit of {limits.wall_s:g} s exceeded")


def output_problem(stream: str, limits: Limits) -> tuple[str, str]:
    return ("crashed", f"output limit exceeded: more than {16 * limits.output_kb} KB on {stream}")


class _Supervisor:
    """Feeds the request, collects output and messages, enforces the deadline."""

    def __init__(self, proc: subprocess.Popen, result_r: int, reply_w: int, limits: Limits,
                 oracle: Oracle | None, start: float):
        self.proc, self.result_r, self.limits, self.start = proc, result_r, limits, start
        self.channel = Channel(reply_w, limits, oracle, start + limits.wall_s)
        self.output = {"stdout": bytearray(), "stderr": bytearray()}
        self.seen = dict.fromkeys(self.output, 0)

    def watch(self, request: str) -> Run:
        proc = self.proc
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(request.encode())
            proc.stdin.close()
        pidfd = os.pidfd_open(proc.pid)
        streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr",
                   self.result_r: "result"}
        deadline = self.start + self.limits.wall_s
        exited = False
        channel = self.channel
        os.set_blocking(self.result_r, False)  # Channel.read polls it
        try:
            while streams and channel.problem is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    if not exited:
                        channel.problem = wall_time_problem(self.limits)
                    break
                # While the channel has no room, its pipe fills and the candidate waits.
                watch = [fd for fd in streams if fd != self.result_r or not channel.blocked]
                watch += [channel.wake] + ([] if exited else [pidfd])
                for fd in select.select(watch, [], [], left)[0]:
                    if fd == pidfd:
                        # Drain what is left, but do not wait on pipes a daemon keeps open.
                        exited, deadline = True, min(deadline, time.monotonic() + 0.5)
                        continue
                    if fd == channel.wake:
                        channel.wake_up()
                        continue
                    if streams[fd] == "result":
                        if not channel.read(fd):
                            del streams[fd]
                        continue
                    chunk = os.read(fd, _READ_CHUNK)
                    if not chunk:
                        del streams[fd]
                    else:
                        self._output(streams[fd], chunk)
        finally:
            os.close(pidfd)
            # The group outlives its leader's exit until reaped, so this also reaches children
            # left in the session (the pids cgroup catches those that left it).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
            channel.close()
        stderr = self.output["stderr"].decode(errors="replace")
        run = Run("crashed", stdout=self.output["stdout"].decode(errors="replace"),
                  stderr=stderr, duration_s=round(time.monotonic() - self.start, 4),
                  resources={"cpu_s": round(usage.ru_utime + usage.ru_stime, 4)},
                  error_tail=tail(stderr))
        return channel.verdict(run, os.waitstatus_to_exitcode(status))

    def _output(self, stream: str, chunk: bytes) -> None:
        self.seen[stream] += len(chunk)
        buf = self.output[stream]
        buf.extend(chunk)
        keep = self.limits.output_kb * 1024
        if len(buf) > keep:
            del buf[:len(buf) - keep]
        if self.seen[stream] > 16 * keep:
            self.channel.problem = output_problem(stream, self.limits)


def _signal_of(code: int) -> int:
    """The signal that ended the candidate: Popen reports -N, bwrap and shells exit 128 + N."""
    if code < 0:
        return -code
    if 128 < code < 128 + signal.NSIG:
        return code - 128
    return 0


def _describe_error(kind: Any, message: Any, limits: Limits) -> str:
    if kind == "MemoryError":
        return f"MemoryError: memory limit of {limits.memory_mb} MB (address space) exceeded"
    text = f"{kind}: {message}" if message else str(kind)
    return text.splitlines()[0][:300] if text else "unknown error"


def tail(text: str, lines: int = 20) -> str | None:
    text = text.strip()
    return "\n".join(text.splitlines()[-lines:])[-4000:] if text else None
