"""The candidate's side of a memory task (trusted code, shipped next to the candidate).

The stream of tasks, the environments and the agent run in the evaluator (memory_stream.py);
this process only keeps the candidate's memory object and does what the stream asks, one
command at a time, sending back what the memory answered with the next request:

    update   memory.general_update(recorder)
    retrieve memory.general_retrieve(recorder) -> dict, sent back
    done     the stream is over

A method that raises costs its episode, not the evaluation (ALMA's loop: an error episode scores
0 and is shown to the analysis): the loop sends `stream("failed", "<Type>: <message>")` in place
of an answer and goes on with the next command; the evaluator scores that episode 0 and records
the error. Running out of memory (the stage's limit) still ends the evaluation.

Nothing returned from here is scored: the evaluator counts the rewards of the episodes it
played. `ask_model(messages)` lets a memory call the campaign's agent model, and `embed(texts)`
its embedding model, over the same channel while the stream runs (the evaluator answers, within
the evaluation's budget; a refused call raises in the memory, costing that episode).

One memory per run, also in sequential mode: each independent copy there is a case, a sandbox
run, of its own (memory_stream.py says why), so nothing here has to keep copies apart.
"""

from typing import Any

MAX_ERROR_CHARS = 500
"""An error's text as the evaluator records it (and the analysis shows it)."""

_stream = None
"""The stream's channel, while `run` runs."""


def ask_model(messages: list[dict[str, str]], temperature: float | None = None) -> str:
    """The agent model's reply to `messages` ([{"role": "system"|"user"|"assistant",
    "content": text}, ...]); RuntimeError if the evaluation has no model or its budget is
    spent."""
    if _stream is None:
        raise RuntimeError("ask_model works only while the stream runs")
    return _stream("model", messages, temperature)


def embed(texts: list[str]) -> list[list[float]]:
    """One vector per text (at most 256 texts of at most 8,000 characters a call), all of one
    dimension, from the evaluation's embedding model (`lexical` offline: hashed character
    trigrams, so near when spelled alike); RuntimeError if the evaluation has no model, the
    request is malformed or too large, or its budget is spent."""
    if _stream is None:
        raise RuntimeError("embed works only while the stream runs")
    return _stream("embed", texts)


def run(memory_class: type, stream) -> dict[str, Any]:
    """Serve the stream's commands with an instance of `memory_class` (made with no arguments)
    until it is done."""
    global _stream
    _stream = stream
    memory = memory_class()
    answer = None
    command = stream("next", answer)
    while command["kind"] != "done":
        if command["kind"] not in ("update", "retrieve"):
            raise ValueError(f"unknown command {command['kind']!r}")
        try:
            if command["kind"] == "update":
                memory.general_update(command["recorder"])
                answer = None
            else:
                answer = memory.general_retrieve(command["recorder"])
        except MemoryError:  # past the sandbox's memory limit: the evaluation's end
            raise
        except Exception as exc:  # the memory's fault: this episode's, not the stream's
            command = stream("failed", f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
            continue
        command = stream("next", answer)
    return {"memories": 1}
