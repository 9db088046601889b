"""The candidate's side of a memory task (trusted code, shipped next to the candidate).

The stream of tasks, the environments and the agent run in the evaluator (stream.py); this
process only keeps the candidate's memory objects and does what the stream asks, one command
at a time, sending back what the memory answered with the next request:

    update   memories[copy].general_update(recorder)
    retrieve memories[copy].general_retrieve(recorder) -> dict, sent back
    fork     replace the memory with `copies` independent deep copies of it (sequential mode)
    done     the stream is over

Nothing returned from here is scored: the evaluator counts the rewards of the episodes it
played. `ask_model(messages)` lets a memory call the campaign's agent model over the same
channel while the stream runs (the evaluator answers, within the evaluation's budget).
"""

import copy
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


def run(memory_class: type, stream) -> dict[str, Any]:
    """Serve the stream's commands with instances of `memory_class` (made with no arguments)
    until it is done."""
    global _stream
    _stream = stream
    memories = [memory_class()]
    answer = None
    command = stream("next", answer)
    while command["kind"] != "done":
        answer = None
        if command["kind"] == "update":
            memories[command["copy"]].general_update(command["recorder"])
        elif command["kind"] == "retrieve":
            answer = memories[command["copy"]].general_retrieve(command["recorder"])
        elif command["kind"] == "fork":
            memories = [copy.deepcopy(memories[0]) for _ in range(command["copies"])]
        else:
            raise ValueError(f"unknown command {command['kind']!r}")
        command = stream("next", answer)
    return {"memories": len(memories)}
