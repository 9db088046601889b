"""The embedded model's own process: loads one GGUF file into an in-process llama.cpp server
(xllamacpp) and answers chat requests, one JSON line in, one JSON line out.

Why a process of its own: a llama.cpp call cannot be interrupted from Python, so a call that
runs past its `timeout_s` (a machine so loaded that it crawls) can only be stopped by killing
the process that makes it; the campaign (discovery/models/embedded.py) does that and starts a
new one. It also keeps llama.cpp's OpenMP threads out of the campaign's process, which forks
sandbox workers.

Run by path (no package imports: it starts in a fraction of a second), with `-P` so that its
folder's modules do not shadow anything on the path:

    python -P embedded_worker.py MODEL.gguf THREADS

The first line it writes is {"ready": load seconds} or {"error": why}. Anything llama.cpp
prints goes to stderr: the answers have the original stdout to themselves.
"""

import json
import os
import sys
import threading
import time


def load(path: str, threads: int):
    """The llama.cpp server for `path`, decoding on `threads` threads. The chat template is
    the GGUF file's own (jinja), which continues a final assistant message (the answer's
    start, as the campaign wrote it) instead of closing it."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = 4096
    params.verbosity = -1  # llama.cpp logs every slot and timing otherwise
    params.use_jinja = True
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    return xllamacpp.Server(params)


def exit_with_parent() -> None:
    """End this process once the campaign's has gone (killed outright, it closed nothing):
    the call in flight is nobody's any more."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def main() -> None:
    threading.Thread(target=exit_with_parent, daemon=True).start()
    path, threads = sys.argv[1], int(sys.argv[2])
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a stray printf of llama.cpp must not corrupt the answers
    start = time.monotonic()
    try:
        server = load(path, threads)
    except Exception as exc:  # reported to the campaign, which says it in one line
        answers.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": round(time.monotonic() - start, 3)}) + "\n")
    answers.flush()
    for line in sys.stdin:  # the campaign closing the pipe ends the loop
        response = server.handle_chat_completions(json.loads(line))
        answers.write(json.dumps(response) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
