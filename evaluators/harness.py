"""The in-sandbox side of an evaluation: load the candidate, call its entry point, send back
its outputs as plain JSON. Runs as a standalone script (`python -I -B harness.py`) with only the
standard library (and numpy if the candidate returns arrays), so the sandbox need not see this
project at all.

Protocol: the request arrives on stdin as JSON (from a warm worker's fork server: as the
argument of `serve`), naming the two pipes in `channels` and carrying the candidate and its
support modules in `files`, which we write into the working directory (a fresh one, writable by
the candidate; the harness itself lies read-only elsewhere); messages go out on the first pipe
as JSON lines (`call` for the task's oracle, then one `result` or `error`); oracle replies come
in on the second (a call polls for its reply for the request's `poll_s` before it blocks, while
that pays: `Poller`). Several threads of the candidate may wait on the oracle at once (an agent
answering questions in parallel): each call's reply is matched by its id. While the evaluator
holds as many calls as it takes (in number or bytes), it reads no more: a call's write then
waits in the pipe (back-pressure) while the threads already waiting read their replies.
Descriptors after the two pipes in `channels` are what the task's oracle shares with the
candidate's side (a games task's sealed shared memory, wire.py): the candidate's code gets
them as `oracle.fds`.
"""

import importlib.util
import itertools
import json
import json.encoder
import os
import select
import signal
import sys
import threading
import time
import traceback

_out = None
"""The result pipe (unbuffered: a message goes out in whole writes, under `_sending`)."""
_replies = -1
"""The reply pipe's descriptor, non-blocking: read by `_next_line` only."""
_pending = bytearray()
"""Read from the reply pipe and not yet taken: the start of the next replies."""
_prefix = ""
"""Random per process (set by `serve`): call ids are never those of another job."""
_poller = None
"""Polls for a call's reply before it blocks (for the request's `poll_s`)."""
_sending = threading.Lock()
_lock = threading.Lock()
"""Guards the state of the calls in flight (entered directly: a Condition's own `with` is
Python code, ~0.5 us a time)."""
_replies_ready = threading.Condition(_lock)
_waiting = {}
"""Call id -> its reply once read (None until then): the calls in flight."""
_reading = False
"""Whether a thread is reading the reply pipe (one at a time; the others wait for it)."""
_closed = False
_CHUNK = 65536


def default_signals():
    """The limits' signals back at their default action, none blocked. An ignored disposition
    and the signal mask survive fork and exec, and a library in the evaluator's process can set
    them (NetHack, through NLE, ignores SIGXCPU and SIGHUP): the candidate would then never get
    the CPU limit's SIGXCPU and die by SIGKILL at the hard limit, without the limit's reason."""
    for name in ("SIGXCPU", "SIGXFSZ", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _plain(value):
    """numpy arrays and scalars become lists and numbers; anything else is refused."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"outputs must be plain data (numbers, strings, lists, dicts, arrays), "
                    f"not {type(value).__name__}")


def json_encoder(default):
    """A function value -> JSON text, as `json.dumps(value, default=default)` writes it, with
    one C encoder made here: `json.dumps` (and JSONEncoder.encode) makes a new one per call,
    ~2 us of an oracle round trip of ~10, for each message. A structure that contains itself
    raises RecursionError (not ValueError). Shared by both ends of the harness channel."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(default=default, allow_nan=True).encode
    encode = make(None, default, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                  False, False, True)
    return lambda value: "".join(encode(value, 0))


_encode = json_encoder(_plain)


def json_decoder():
    """A function text -> the one JSON value that fills it (no whitespace around it; anything
    else raises ValueError, and nesting too deep RecursionError): the C scanner called
    directly, ~3x faster than `json.loads` on a small message (which first matches whitespace
    twice with regular expressions). Shared by both ends of the harness channel."""
    scan = json.JSONDecoder().scan_once

    def decode(text):
        try:
            value, end = scan(text, 0)
        except StopIteration:
            raise ValueError("not a JSON value") from None
        if end != len(text):
            raise ValueError("more than one JSON value")
        return value
    return decode


_decode = json_decoder()
_calls = itertools.count()
"""Numbers the calls of this process: with `_prefix`, each call's id."""


def _send(message):
    _write(_encode(message))


def _write(text):
    """One message (its JSON text) out on the result pipe, whole."""
    data = (text + "\n").encode()
    with _sending:
        written = _out.write(data)
        while written < len(data):  # a blocking pipe: only a signal cuts a write short
            written += _out.write(memoryview(data)[written:])


def poll_read(fd, window_s):
    """Up to 64 KB from the non-blocking `fd` (b"" at its end), polling for `window_s`
    seconds; None if nothing came by then (one read when `window_s` is 0). Each poll is a
    read and a sched_yield: system calls, so other threads of this process take the GIL
    meanwhile, and a process waiting for this core gets it."""
    until = time.perf_counter() + window_s
    while True:
        try:
            return os.read(fd, _CHUNK)
        except BlockingIOError:
            if time.perf_counter() >= until:
                return None
            os.sched_yield()


class Poller:
    """Polls for the other side's next message before blocking, while polling pays.

    Why poll: the other side of a trusted loop answers within tens of microseconds, and a
    process that blocks in select or read is put to sleep, its CPU halted: waking it costs
    ~40 us on these VMs, against ~3.5 us for a round trip between two polling processes.
    Where every core is busy the reverse holds: no CPU halts, so waking is quick, and a
    polling process only takes the core the other side needs (at a load of 5 on 2 cores,
    polling every time made round trips 5x slower). So each way of waiting keeps an average
    of how long its waits took, from the read until the message came (capped at MAX_WAIT_S:
    past that both are slow, and one long pause must not decide for long), and a read polls
    while polling has waited less; every EXPLORE-th read tries the other way. Shared by both
    ends of the harness channel (evaluators.sandbox imports it): `read`, then, where it found
    nothing and the caller blocked until the message came, `waited`."""

    EXPLORE = 256
    """One read in this many waits the other way: a block where polling pays costs ~40 us
    (~0.2 us a call), a poll where it does not up to a window (~1 us a call); a way that has
    become the better one is found within ~4 such tries (their waits weigh 1/2, others' 1/8)."""
    MAX_WAIT_S = 0.001

    def __init__(self, window_s):
        self.window_s = window_s
        self.waits = [None, None]
        """The average wait of blocking at once, and of polling (None: not tried yet)."""
        self.reads = 0
        self.way = None
        """How the read in progress waits (0 blocks, 1 polls), until its message came."""
        self.exploring = False
        """Whether it tries the way that has waited longer (its wait then weighs more, so
        that a way that became better is found within a few tries)."""
        self.began = 0.0

    def read(self, fd):
        """As `poll_read`: for this poller's window, or at once where blocking has paid."""
        self.reads += 1
        block, poll = self.waits
        better = block is None or poll is None or poll <= block
        self.exploring = self.reads % self.EXPLORE == 0
        self.way = int(bool(self.window_s) and better != self.exploring)
        self.began = time.perf_counter()
        chunk = poll_read(fd, self.window_s * self.way)
        if chunk is not None:
            self.waited()
        return chunk

    def waited(self):
        """The message the last `read` did not find has come (a no-op if none is awaited)."""
        if self.way is not None:
            wait = min(time.perf_counter() - self.began, self.MAX_WAIT_S)
            mean = self.waits[self.way]
            weight = 1 / 2 if self.exploring else 1 / 8
            self.waits[self.way] = wait if mean is None else mean + (wait - mean) * weight
            self.way = None


def oracle(*args):
    """Ask the task's trusted oracle: the arguments go out as plain data, the answer comes back.

    Each call carries an id of its own (this process's random prefix and the call's number)
    that its reply echoes: a reply that is not this call's (one the candidate wrote into its
    own reply pipe) is skipped, never taken for the answer."""
    token = f"{_prefix}{next(_calls)}"
    with _lock:
        _waiting[token] = None
    _send({"kind": "call", "id": token, "request": list(args)})
    reply = _await(token)
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["value"]


def _await(token):
    """This call's reply: whichever waiting thread reads the pipe files each reply under its
    id and wakes the others (if any: each waits with its id in `_waiting`); a reply no call
    waits for is dropped."""
    global _reading, _closed
    while True:
        with _lock:
            while _waiting[token] is None and _reading and not _closed:
                _replies_ready.wait()
            if _waiting[token] is not None:
                return _waiting.pop(token)
            if _closed:
                del _waiting[token]
                raise RuntimeError("the evaluator closed the oracle channel")
            _reading = True
        line = _next_line()
        with _lock:
            _reading = False
            if line is None:
                _closed = True
            else:
                reply = _decode(line)
                key = reply.get("id")
                if isinstance(key, str) and key in _waiting and _waiting[key] is None:
                    _waiting[key] = reply
            if len(_waiting) > 1:
                _replies_ready.notify_all()
            if _waiting[token] is not None:
                return _waiting.pop(token)


def _next_line():
    """The next reply's line (None at the pipe's end): polled for, then waited for. Each byte
    read is searched for a line end once."""
    scanned = 0
    while (end := _pending.find(b"\n", scanned)) < 0:
        scanned = len(_pending)
        chunk = _poller.read(_replies)
        if chunk is None:
            select.select([_replies], [], [])
            _poller.waited()
            chunk = os.read(_replies, _CHUNK)
        if not chunk:
            return None
        _pending.extend(chunk)
    line = _pending[:end].decode()
    del _pending[:end + 1]
    return line


def serve(request):
    """Run one request in this process (fresh, or a warm worker's forked child)."""
    global _out, _replies, _poller, _prefix
    result_fd, _replies, *shared = request["channels"]
    oracle.fds = tuple(shared)
    _out = os.fdopen(result_fd, "wb", buffering=0)
    os.set_blocking(_replies, False)
    _poller = Poller(request.get("poll_s", 0.0))
    _prefix = os.urandom(8).hex() + "-"
    try:
        for name, text in request["files"].items():
            with open(name, "x", encoding="utf-8") as file:
                file.write(text)
        # the task's support modules lie next to the candidate (python -I leaves its dir out)
        sys.path.insert(0, os.path.dirname(os.path.abspath(request["module"])))
        spec = importlib.util.spec_from_file_location("candidate", request["module"])
        module = importlib.util.module_from_spec(spec)
        sys.modules["candidate"] = module
        spec.loader.exec_module(module)
        entry = getattr(module, request["entry"], None)
        if not callable(entry):
            raise AttributeError(f"the program defines no function {request['entry']!r}")
        kwargs = dict(request["inputs"])
        if request.get("oracle_arg"):
            kwargs[request["oracle_arg"]] = oracle
        outputs = entry(**kwargs)
        text = _encode({"kind": "result", "outputs": outputs})
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the candidate's doing
        _send({"kind": "error", "type": type(exc).__name__, "message": str(exc)[:2000],
               "traceback": "".join(traceback.format_exception(exc))[-8000:]})
        return
    _write(text)


if __name__ == "__main__":
    default_signals()
    serve(json.loads(sys.stdin.read()))
    sys.stdout.flush()
    # Skip interpreter teardown: atexit hooks and finalizers the candidate registered do not run.
    os._exit(0)
