"""Model clients: any provider through litellm, with retries, concurrency limits and cost.

A model is named as litellm names it (`gpt-4.1-mini`, `anthropic/claude-...`, `gemini/...`,
`openai/<name>` plus `api_base` for any OpenAI-compatible server: vLLM, Ollama, llama.cpp);
`embedded` is the offline default (`discovery.embedded`). Every attempt, failed ones included,
comes back as an archive `ModelCall` so the campaign records it; keys are read from the
environment at call time and never stored.

litellm would fetch a remote cost map at import; `LITELLM_LOCAL_MODEL_COST_MAP` is set before it
is imported (lazily: the import takes seconds), so nothing but the model endpoint is contacted.
"""

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from archive.records import ModelCall
from discovery.models.base import CallFailed, Completion, Messages, ModelError, ModelSpec, one_line

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class EmptyResponse(Exception):
    """The server answered, but with no usable text (no choices, or empty content)."""


_semaphores: dict[str, threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def _provider_semaphore(spec: ModelSpec) -> threading.BoundedSemaphore:
    key = spec.api_base or (spec.name.split("/", 1)[0] if "/" in spec.name else "openai")
    with _semaphores_lock:
        return _semaphores.setdefault(key, threading.BoundedSemaphore(spec.max_concurrency))


def _litellm() -> Any:
    import litellm

    litellm.suppress_debug_info = True  # it prints provider lists to stdout otherwise
    return litellm


class LiteLLMClient:
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self._semaphore = _provider_semaphore(spec)

    def api_key(self) -> str | None:
        """The key for this model, from the environment; a missing one is a ModelError."""
        spec = self.spec
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise ModelError(f"model {spec.name} needs its API key in ${spec.api_key_env}: "
                                 f"export {spec.api_key_env}=...")
            return key
        if spec.api_base:
            return "not-needed"  # local OpenAI-compatible servers still want some key
        check = _litellm().validate_environment(spec.name)
        if check.get("missing_keys"):
            names = ", ".join(f"${k}" for k in check["missing_keys"])
            raise ModelError(f"model {spec.name} needs {names}: export it, or name another "
                             "variable with api_key_env")
        return None

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        spec = self.spec
        extra: dict[str, Any] = {"seed": seed} if seed is not None else {}
        if json_mode and self._takes_response_format():
            extra["response_format"] = {"type": "json_object"}

        def request(key: str | None) -> tuple[Any, str, int, int]:
            response = _litellm().completion(
                model=spec.name, messages=messages, api_base=spec.api_base, api_key=key,
                timeout=spec.timeout_s,
                temperature=spec.temperature if temperature is None else temperature,
                max_tokens=spec.max_tokens, num_retries=0, **extra)
            return (response, *_parse(response))

        _, text, tokens_in, tokens_out, cost, latency, attempts = self._call(purpose, request)
        return Completion(spec.name, text, tokens_in, tokens_out, cost, latency, attempts)

    def _takes_response_format(self) -> bool:
        """Whether litellm maps `response_format` for this model (else it would refuse it)."""
        try:
            params = _litellm().get_supported_openai_params(model=self.spec.name) or []
        except Exception:  # a model litellm does not know: send nothing it may refuse
            return False
        return "response_format" in params

    def embed(self, texts: list[str], *, purpose: str = "embedding"
              ) -> tuple[list[list[float]], tuple[ModelCall, ...]]:
        """One vector per text from an embedding model, with the attempts to record."""
        spec, vectors = self.spec, []

        def request(key: str | None) -> tuple[Any, str, int, int]:
            response = _litellm().embedding(model=spec.name, input=texts, api_base=spec.api_base,
                                            api_key=key, timeout=spec.timeout_s)
            data = sorted(response.data, key=lambda d: d["index"])
            if len(data) != len(texts):
                raise EmptyResponse(f"{len(data)} embeddings for {len(texts)} texts")
            vectors[:] = [list(d["embedding"]) for d in data]
            usage = getattr(response, "usage", None)
            return response, "", int(getattr(usage, "prompt_tokens", 0) or 0), 0

        return vectors, self._call(purpose, request)[-1]

    def _call(self, purpose: str, request: Callable[[str | None], tuple[Any, str, int, int]]
              ) -> tuple[Any, str, int, int, float, float, tuple[ModelCall, ...]]:
        """One request with retries: backoff on what a retry can fix, a ModelError for what
        only the user can fix, CallFailed (with every attempt) when the retries run out."""
        spec, attempts = self.spec, []
        key = self.api_key()
        for attempt in range(spec.max_retries + 1):
            start = time.monotonic()
            try:
                with self._semaphore:
                    response, text, tokens_in, tokens_out = request(key)
            except Exception as exc:
                latency = time.monotonic() - start
                attempts.append(ModelCall(spec.name, purpose, latency_s=round(latency, 4),
                                          error=one_line(exc)))
                fatal = _fatal(exc, spec)
                if fatal is not None:
                    raise ModelError(fatal, tuple(attempts)) from exc
                if attempt == spec.max_retries or not _retryable(exc):
                    raise CallFailed(f"model {spec.name} failed after {attempt + 1} attempt(s): "
                                     f"{one_line(exc)}", attempts) from exc
                time.sleep(self._delay(attempt, exc))
                continue
            latency = round(time.monotonic() - start, 4)
            cost = self._cost(response, tokens_in, tokens_out)
            attempts.append(ModelCall(spec.name, purpose, tokens_in, tokens_out, cost, latency,
                                      raw_response=text or None))
            return response, text, tokens_in, tokens_out, cost, latency, tuple(attempts)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, exc: Exception) -> float:
        """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
        delay = random.uniform(0, self.spec.backoff_s * 2**attempt)
        return max(delay, retry_after(exc) or 0.0)

    def _cost(self, response: Any, tokens_in: int, tokens_out: int) -> float:
        spec = self.spec
        if spec.price_in_per_mtok is not None or spec.price_out_per_mtok is not None:
            return ((spec.price_in_per_mtok or 0) * tokens_in
                    + (spec.price_out_per_mtok or 0) * tokens_out) / 1e6
        try:  # litellm's local price table; it raises for models it has no price for
            return float(_litellm().completion_cost(completion_response=response,
                                                    model=spec.name))
        except Exception:
            return 0.0  # a self-hosted or unmapped model: free unless the config prices it


def _parse(response: Any) -> tuple[str, int, int]:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise EmptyResponse("the server returned no choices")
    text = choices[0].message.content or ""
    if not text.strip():
        raise EmptyResponse("the server returned an empty message")
    usage = getattr(response, "usage", None)
    return (text, int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0))


def retry_after(exc: BaseException) -> float | None:
    """The server's Retry-After in seconds (litellm keeps the real headers aside)."""
    for headers in (getattr(exc, "litellm_response_headers", None),
                    getattr(getattr(exc, "response", None), "headers", None)):
        try:
            return float((headers or {}).get("retry-after"))
        except (TypeError, ValueError):
            continue
    return None


def _retryable(exc: BaseException) -> bool:
    litellm = _litellm()
    if isinstance(exc, litellm.ContextWindowExceededError | litellm.ContentPolicyViolationError):
        return False
    return isinstance(exc, EmptyResponse | litellm.RateLimitError | litellm.Timeout
                      | litellm.APIConnectionError | litellm.InternalServerError
                      | litellm.ServiceUnavailableError | litellm.BadGatewayError
                      | litellm.APIError | ValueError)


def _fatal(exc: BaseException, spec: ModelSpec) -> str | None:
    """Errors no retry can fix, as the one-line message that names the fix."""
    litellm = _litellm()
    where = f" at {spec.api_base}" if spec.api_base else ""
    if isinstance(exc, litellm.AuthenticationError):
        variable = f"${spec.api_key_env}" if spec.api_key_env else "the provider's key variable"
        return f"model {spec.name}{where} refused the key: check {variable}"
    if isinstance(exc, litellm.BadRequestError) and "LLM Provider NOT provided" in str(exc):
        return (f"unknown model {spec.name!r}: name it as litellm does, e.g. gpt-4.1-mini, "
                "anthropic/<model>, or openai/<model> with api_base")
    if isinstance(exc, litellm.NotFoundError):
        return f"model {spec.name}{where} was not found: check the name and api_base"
    return None
