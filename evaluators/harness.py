"""The in-sandbox side of an evaluation: load the candidate, call its entry point, send back
its outputs as plain JSON. Runs as a standalone script (`python -I -B harness.py`) with only the
standard library (and numpy if the candidate returns arrays), so the sandbox need not see this
project at all.

Protocol: the request arrives on stdin as JSON (from a warm worker's fork server: as the
argument of `serve`), naming the two pipes in `channels` and carrying the candidate and its
support modules in `files`, which we write into the working directory (a fresh one, writable by
the candidate; the harness itself lies read-only elsewhere); messages go out on the first pipe
as JSON lines (`call` for the task's oracle, then one `result` or `error`); oracle replies come
in on the second. Several threads of the candidate may wait on the oracle at once (an agent
answering questions in parallel): each call's reply is matched by its id. While the evaluator
holds as many calls as it takes (in number or bytes), it reads no more: a call's write then
waits in the pipe (back-pressure) while the threads already waiting read their replies.
Descriptors after the two pipes in `channels` are what the task's oracle shares with the
candidate's side (a games task's sealed shared memory, wire.py): the candidate's code gets
them as `oracle.fds`.
"""

import importlib.util
import json
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
_poll_s = 0.0
"""How long a call polls for its reply before it blocks (the request's `poll_s`)."""
_sending = threading.Lock()
_replies_ready = threading.Condition()
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


_encode = json.JSONEncoder(default=_plain, allow_nan=True).encode
"""One encoder for every message: `json.dumps` with arguments builds a new one per call (a
few microseconds of an oracle round trip that costs ~10)."""
_decode = json.JSONDecoder().decode
"""Replies are ASCII (our side writes them): `json.loads` would guess their encoding first."""


def _send(message):
    _write(_encode(message))


def _write(text):
    """One message (its JSON text) out on the result pipe, whole."""
    data = memoryview((text + "\n").encode())
    with _sending:
        while data:  # a blocking pipe: a write returns early only if a signal interrupts it
            data = data[_out.write(data):]


def poll_read(fd, window_s):
    """Up to 64 KB from the non-blocking `fd` (b"" at its end), polling for `window_s`
    seconds; None if nothing came by then (one read when `window_s` is 0).

    Why poll: the other side answers within tens of microseconds, and a process that blocks
    in select or read is put to sleep, its CPU halted: waking it costs ~40 us on these VMs,
    against ~3.5 us for a round trip between two polling processes. Each poll is a read and a
    sched_yield: system calls, so other threads of this process take the GIL meanwhile and a
    process waiting for this core gets it. Shared by both ends of the harness channel
    (evaluators.sandbox imports it)."""
    until = time.perf_counter() + window_s
    while True:
        try:
            return os.read(fd, _CHUNK)
        except BlockingIOError:
            if time.perf_counter() >= until:
                return None
            os.sched_yield()


def oracle(*args):
    """Ask the task's trusted oracle: the arguments go out as plain data, the answer comes back.

    Each call carries a fresh random id that its reply echoes: a reply that is not this call's
    (one the candidate wrote into its own reply pipe) is skipped, never taken for the answer."""
    token = os.urandom(16).hex()
    with _replies_ready:
        _waiting[token] = None
    _send({"kind": "call", "id": token, "request": list(args)})
    reply = _await(token)
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["value"]


def _await(token):
    """This call's reply: whichever waiting thread reads the pipe files each reply under its
    id and wakes the others; a reply no call waits for is dropped."""
    global _reading, _closed
    while True:
        with _replies_ready:
            while _waiting[token] is None and _reading and not _closed:
                _replies_ready.wait()
            if _waiting[token] is not None:
                return _waiting.pop(token)
            if _closed:
                del _waiting[token]
                raise RuntimeError("the evaluator closed the oracle channel")
            _reading = True
        line = _next_line()
        with _replies_ready:
            _reading = False
            if line is None:
                _closed = True
            else:
                reply = _decode(line)
                key = reply.get("id")
                if isinstance(key, str) and key in _waiting and _waiting[key] is None:
                    _waiting[key] = reply
            _replies_ready.notify_all()


def _next_line():
    """The next reply's line (None at the pipe's end): polled for `_poll_s`, then waited for.
    Each byte read is searched for a line end once."""
    scanned = 0
    while (end := _pending.find(b"\n", scanned)) < 0:
        scanned = len(_pending)
        chunk = poll_read(_replies, _poll_s)
        if chunk is None:
            select.select([_replies], [], [])
        elif not chunk:
            return None
        else:
            _pending.extend(chunk)
    line = _pending[:end].decode()
    del _pending[:end + 1]
    return line


def serve(request):
    """Run one request in this process (fresh, or a warm worker's forked child)."""
    global _out, _replies, _poll_s
    result_fd, _replies, *shared = request["channels"]
    oracle.fds = tuple(shared)
    _out = os.fdopen(result_fd, "wb", buffering=0)
    os.set_blocking(_replies, False)
    _poll_s = request.get("poll_s", 0.0)
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
