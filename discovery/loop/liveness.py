"""Is a campaign running? The campaign process holds a lock on its run directory and keeps a
heartbeat there; any other process (`discover runs`, `status`, the view) reads both to tell a
campaign that is running from one that is stalled, stopped, finished, interrupted, failed, or
dead (killed without a word).

* `campaign.lock`: an `flock` held by the campaign process for as long as it runs. The kernel
  drops it when the process ends, however it ends (kill -9 included), so a free lock means no
  campaign process, and a held one means one is alive. Two campaigns cannot run on one
  directory: the second is refused with who holds it.
* `heartbeat.json`: rewritten atomically every `BEAT_S` seconds by a daemon thread: pid, host,
  when the process started, its last beat, and what is in flight (a model call for iteration
  N, an evaluation, a held-out run) with when each began and how long it may legitimately take.
  A held lock whose heartbeat is older than `STALE_S`, or whose in-flight work is past its
  limit, is *stalled*: the process is alive but stuck.
* A free lock is read with the archive's last start and stop events: a stop recorded after the
  last start says how it ended (its `state`, or its reason for archives written before states
  were recorded); no stop after the last start means the process died without recording one.

Only the standard library and the archive are imported: `discover runs` reads this for every
run and must stay quick.
"""

import contextlib
import fcntl
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.text import Text

from archive import ArchiveError, ArchiveReader, archive_path
from discovery import sanitize

LOCK_FILE = "campaign.lock"
HEARTBEAT_FILE = "heartbeat.json"
BEAT_S = 2.0
"""How often the heartbeat file is rewritten."""
STALE_S = 60.0
"""A heartbeat older than this, with the lock held, means the process is stuck (its beating
thread gets no time): generous, because a loaded machine delays a daemon thread by seconds."""

State = Literal["running", "stalled", "stopped", "finished", "interrupted", "failed", "dead"]

STATE_STYLE: dict[str, str] = {
    "running": "bold green", "stalled": "bold yellow", "stopped": "cyan", "finished": "green",
    "interrupted": "yellow", "failed": "bold red", "dead": "red"}


@dataclass(frozen=True)
class RunState:
    """What a run directory's campaign is doing, as `run_state` reads it."""

    state: State
    """running: its process holds the lock and beats; stalled: it holds the lock but its
    heartbeat stopped or its in-flight work is past its limit; stopped: it ended on a budget
    other than its iterations (wall time, tokens, cost) or on one Ctrl-C, after finishing what
    was in flight; finished: its iteration budget is spent, its target reached or its patience
    run out; interrupted: a second Ctrl-C ended it at once (iterations in flight are redone by
    `resume`); failed: it stopped on a problem the user must fix (reason) or a crash; dead: no
    process holds the lock and no stop was recorded (killed, or the machine went down)."""
    reason: str
    """Why, in words: the recorded stop reason, the holder's pid and host, or what stalled."""
    since: float | None
    """When the state began (epoch seconds): the start of the running process, the recorded
    stop, the last heartbeat of a dead or stalled one."""
    in_flight: tuple[str, ...] = ()
    """What the running process is waiting for, with its age ("model call for iteration 7
    (since 12 s)")."""

    @property
    def alive(self) -> bool:
        """A campaign process holds the run (running or stalled)."""
        return self.state in ("running", "stalled")


@dataclass(frozen=True)
class Work:
    """One thing in flight in a campaign process."""

    what: str
    since: float
    """time.time() when it began."""
    limit_s: float
    """The longest it may legitimately take (its timeouts and retries); past it, stalled."""


def age(seconds: float) -> str:
    """A duration as a person reads it: 12 s, 3 min 4 s, 2 h 5 min."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def describe(work: list[Work], now: float | None = None) -> tuple[str, ...]:
    """Each piece of work in flight with its age, oldest first."""
    now = time.time() if now is None else now
    return tuple(f"{w.what} (since {age(now - w.since)})"
                 for w in sorted(work, key=lambda w: w.since))


class Liveness:
    """The campaign process's side: the lock, held from construction to `close`, and the
    heartbeat thread with the in-flight registry that pipeline stages report to."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC (Python's default): sandboxed children never inherit the lock.
        self._fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise ArchiveError(f"{self.run_dir} is in use: {_holder(self.run_dir)}; wait for it "
                               "to stop, or stop it (Ctrl-C in its terminal)") from None
        self.started = time.time()
        self._work: dict[int, Work] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._stop = threading.Event()
        self._beat()
        self._thread = threading.Thread(target=self._beating, name="heartbeat", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def doing(self, what: str, limit_s: float) -> Iterator[None]:
        """Register `what` as in flight for the duration of the block (any thread)."""
        key = next(self._ids)
        with self._lock:
            self._work[key] = Work(what, time.time(), limit_s)
        self._beat_now()  # readers see the change at once, not at the next beat
        try:
            yield
        finally:
            with self._lock:
                del self._work[key]
            self._beat_now()

    def in_flight(self) -> list[Work]:
        with self._lock:
            return list(self._work.values())

    def _beat_now(self) -> None:
        with contextlib.suppress(OSError):  # a full disk: the archive says so, loudly
            self._beat()

    def _beat(self) -> None:
        facts = {"pid": os.getpid(), "host": socket.gethostname(), "started": self.started,
                 "beat": time.time(),
                 "in_flight": [w.__dict__ for w in self.in_flight()]}
        # A temporary file and one rename: readers see the old beat or the new, never half.
        # No fsync: a beat lost in a power cut tells nothing anyway.
        tmp = self.run_dir / f".{HEARTBEAT_FILE}.{os.getpid()}.tmp"
        with self._writing:  # one writer of the temporary file at a time
            tmp.write_text(json.dumps(facts), encoding="utf-8")
            os.replace(tmp, self.run_dir / HEARTBEAT_FILE)

    def _beating(self) -> None:
        while not self._stop.wait(BEAT_S):
            self._beat_now()

    def close(self) -> None:
        """Stop beating (a last beat with nothing in flight) and release the lock."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            self._work.clear()
        self._beat_now()
        os.close(self._fd)  # releases the flock


def heartbeat(run_dir: Path) -> dict[str, Any] | None:
    """The heartbeat file's facts, or None when there is none (or it cannot be read)."""
    try:
        facts = json.loads((Path(run_dir) / HEARTBEAT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


def _holder(run_dir: Path) -> str:
    facts = heartbeat(run_dir) or {}
    if "pid" not in facts:
        return "another campaign process holds it"
    return (f"campaign process {facts['pid']} on {facts.get('host', '?')} holds it (since "
            f"{time.strftime('%H:%M:%S', time.localtime(facts.get('started', 0)))})")


def _locked(run_dir: Path) -> bool:
    """Whether a campaign process holds the run's lock (a shared probe, released at once)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False  # no lock file: no campaign of this version ever ran here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the probe's own lock
    return False


def run_state(run_dir: Path, now: float | None = None,
              reader: ArchiveReader | None = None) -> RunState:
    """What the campaign in `run_dir` is doing (see RunState), from its lock, its heartbeat
    and its archive's last start and stop (read with `reader` when the caller has one open)."""
    now = time.time() if now is None else now
    facts = heartbeat(run_dir)
    if _locked(run_dir):
        facts = facts or {}
        work = [Work(w["what"], w["since"], w["limit_s"]) for w in facts.get("in_flight", [])
                if isinstance(w, dict) and {"what", "since", "limit_s"} <= w.keys()]
        holder = f"pid {facts.get('pid', '?')} on {facts.get('host', '?')}"
        beat = facts.get("beat")
        if beat is None or now - beat > STALE_S:
            silent = "no heartbeat yet" if beat is None else f"no heartbeat for {age(now - beat)}"
            return RunState("stalled", f"{silent} ({holder})", beat, describe(work, now))
        late = [w for w in work if now - w.since > w.limit_s]
        if late:
            oldest = min(late, key=lambda w: w.since)
            return RunState("stalled", f"{oldest.what} running for {age(now - oldest.since)}, "
                                       f"past its {age(oldest.limit_s)} limit ({holder})",
                            oldest.since, describe(work, now))
        return RunState("running", holder, facts.get("started"), describe(work, now))
    with contextlib.nullcontext(reader) if reader else ArchiveReader(archive_path(run_dir)) \
            as archive:
        starts = archive.events("campaign_started", 1) + archive.events("campaign_resumed", 1)
        stops = archive.events("campaign_stopped", 1)
    started = max((t for t, _, _ in starts), default=None)
    if stops and (started is None or stops[0][0] >= started):
        at, _, data = stops[0]
        reason = str(data.get("reason", ""))
        return RunState(data.get("state") or stop_state(reason), reason, at)
    last = (facts or {}).get("beat", started)
    return RunState("dead", "its process ended without recording a stop (killed, or the "
                            "machine went down): `discover resume` continues", last)


def stop_state(reason: str) -> State:
    """The state a stop reason means, for stops recorded before the campaign recorded its
    state (and for the campaign to pick one)."""
    if reason.startswith(("budget: iterations", "budget: programs", "target score",
                          "no improvement")):
        return "finished"
    if reason.startswith(("budget:", "stopped (Ctrl-C)")):
        return "stopped"
    if reason.startswith("interrupted"):
        return "interrupted"
    return "failed"


def state_text(state: RunState, *, detail: bool = True) -> Text:
    """The state as one styled line: `running (pid 7 on host): model call for iteration 3
    (since 12 s)`; without detail, the state word alone (a table cell)."""
    line = Text(state.state, style=STATE_STYLE[state.state])
    if detail:  # a stop reason may quote a candidate's error: shown as characters only
        line.append(sanitize.terminal(f" ({state.reason})" if state.reason else ""))
        if state.in_flight:
            line.append(sanitize.terminal(": in flight " + ", ".join(state.in_flight)))
    return line
