"""The candidate's side of a memory task (trusted code, shipped next to the candidate).

The stream of tasks, the environments and the agent run in the evaluator (stream.py); this
process only keeps the candidate's memory objects and does what the stream asks, one command
at a time, sending back what the memory answered with the next request:

    update   memories[copy].general_update(recorder)
    retrieve memories[copy].general_retrieve(recorder) -> dict, sent back
    fork     replace the memory with `copies` independent copies of it (sequential mode)
    done     the stream is over

Nothing returned from here is scored: the evaluator counts the rewards of the episodes it
played. `ask_model(messages)` lets a memory call the campaign's agent model over the same
channel while the stream runs (the evaluator answers, within the evaluation's budget).

The copies of sequential mode live in forked child processes: a deep copy of the object would
still share its class attributes and the module's globals, where a memory may well keep its
state, and one copy would then learn from the others' episodes. A child holds its copy, whole
process included, and talks to this process over a pipe; its model calls are relayed.
"""

import contextlib
import copy
import os
import traceback
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

_stream = None
"""The stream's channel, while `run` runs."""


def ask_model(messages: list[dict[str, str]], temperature: float | None = None) -> str:
    """The agent model's reply to `messages` ([{"role": "system"|"user"|"assistant",
    "content": text}, ...]); RuntimeError if the evaluation has no model or its budget is
    spent."""
    if _stream is None:
        raise RuntimeError("ask_model works only while the stream runs")
    return _stream("model", messages, temperature)


def _apply(memory: Any, command: dict) -> Any:
    """What `memory` answers to `command`: the retrieved dict, or None after an update."""
    if command["kind"] == "update":
        memory.general_update(command["recorder"])
        return None
    if command["kind"] == "retrieve":
        return memory.general_retrieve(command["recorder"])
    raise ValueError(f"unknown command {command['kind']!r}")


class _ForkedCopy:
    """One copy of the memory in a child process, called like the memory it holds."""

    def __init__(self, memory: Any):
        self.pipe, child = Pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: serve commands until told to stop, then leave at once,
            code = 1       # whatever happens (it must never run on as a second parent)
            try:
                self.pipe.close()
                code = _serve(memory, child)
            finally:
                os._exit(code)
        child.close()

    def __call__(self, command: dict) -> Any:
        """Send `command`, relay the copy's model calls, return its answer (or raise what it
        raised, with its traceback)."""
        self.pipe.send(("command", command))
        while True:
            try:
                kind, value = self.pipe.recv()
            except EOFError:
                raise RuntimeError("a memory copy's process died (sequential mode: each copy "
                                   "runs in its own process)") from None
            if kind == "model":
                self.pipe.send(("reply", _stream("model", *value)))
            elif kind == "error":
                raise RuntimeError(f"in a memory copy (sequential mode):\n{value}")
            else:
                return value

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a copy that died has nothing left to stop
            self.pipe.send(("stop", None))
        self.pipe.close()
        os.waitpid(self.pid, 0)


def _serve(memory: Any, pipe: Connection) -> int:
    global _stream

    def relay(kind: str, messages: list, temperature: float | None) -> Any:
        pipe.send(("model", (messages, temperature)))
        return pipe.recv()[1]

    _stream = relay
    while True:
        kind, command = pipe.recv()
        if kind == "stop":
            return 0
        try:
            pipe.send(("answer", _apply(memory, command)))
        except BaseException:
            pipe.send(("error", traceback.format_exc()))


def run(memory_class: type, stream, *, isolated: bool = True) -> dict[str, Any]:
    """Serve the stream's commands with instances of `memory_class` (made with no arguments)
    until it is done. `isolated`: fork copies into processes (the sandbox); False: deep copies
    in this process (trusted memories played in the evaluator's own, threaded process)."""
    global _stream
    _stream = stream
    memory = memory_class()
    copies: list = []
    try:
        answer = None
        command = stream("next", answer)
        while command["kind"] != "done":
            if command["kind"] == "fork":
                copies = [_ForkedCopy(memory) if isolated else copy.deepcopy(memory)
                          for _ in range(command["copies"])]
                answer = None
            elif copies:
                target = copies[command["copy"]]
                answer = target(command) if isolated else _apply(target, command)
            else:
                answer = _apply(memory, command)
            command = stream("next", answer)
    finally:
        for forked in copies if isolated else []:
            forked.close()
    return {"memories": len(copies) or 1}
