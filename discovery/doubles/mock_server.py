"""A mock OpenAI-compatible chat server on 127.0.0.1, for tests, benchmarks and demos.

It speaks the real wire protocol (`POST /v1/chat/completions`, JSON or server-sent events when
`stream` is true, `GET /v1/models`) and plays a script of faults before answering normally:

    with MockServer(script=["429:2", "500", "ok"]) as server:
        ...  # point a client at server.base_url ("http://127.0.0.1:PORT/v1")

Script steps: `ok`, `429[:retry_after_s]`, `500`, `503`, `slow:SECONDS` (answer late),
`hang` (never answer in time), `truncated` (cut the JSON body), `empty` (no choices),
`blank` (a choice with empty content), `context` (400 context_length_exceeded), `401`.
When the script runs out, each request plays the step `then()` returns (default: `ok`, answered
by `reply(messages)`); `Latency` is such a `then`: `slow:` and `429` steps drawn from a seeded,
realistic distribution, so a bench sees hosted-model latency without a hosted model:

    with MockServer(then=Latency(seed=0, median_s=5.0)) as server: ...

Each chat request is recorded in `requests` with the step it played, the text it answered (for a
normal answer) and when it arrived and was answered (`time.time()`), so a bench can tell how
many calls were in flight when, and which call proposed which program.
`POST /v1/embeddings` answers hashed character-trigram vectors, the offline `lexical` embedding
(discovery/models/lexical.py), so a test of the litellm path can compare with it.
"""

import json
import math
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from discovery.models.lexical import trigram_embedding

Reply = Callable[[list[dict[str, Any]]], str]
Step = Callable[[], str]


class Latency:
    """Steps drawn from a hosted model's latency, reproducibly (`random.Random(seed)`, one draw
    per request in arrival order): lognormal answers around `median_s`, a `straggler_share` of
    answers that take `straggler_s`, and a `rate_limited_share` of 429s asking for
    `retry_after_s`. Every time is divided by `scale`, so a bench keeps the shape in less time.
    Called under the server's lock: one instance serves concurrent requests safely."""

    def __init__(self, seed: int = 0, median_s: float = 5.0, sigma: float = 0.5,
                 straggler_share: float = 0.02, straggler_s: float = 60.0,
                 rate_limited_share: float = 0.02, retry_after_s: float = 1.0,
                 scale: float = 1.0):
        self.median_s, self.sigma, self.scale = median_s, sigma, scale
        self.straggler_share, self.straggler_s = straggler_share, straggler_s
        self.rate_limited_share, self.retry_after_s = rate_limited_share, retry_after_s
        self._rng = random.Random(seed)

    def __call__(self) -> str:
        draw = self._rng.random()
        if draw < self.rate_limited_share:
            return f"429:{self.retry_after_s / self.scale:g}"
        if draw < self.rate_limited_share + self.straggler_share:
            return f"slow:{self.straggler_s / self.scale:g}"
        seconds = self._rng.lognormvariate(math.log(self.median_s), self.sigma)
        return f"slow:{seconds / self.scale:.4f}"


def echo_reply(messages: list[dict[str, Any]]) -> str:
    """A deterministic answer: a code block that mentions the last user message's length."""
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return f"```python\ndef answer():\n    return {len(str(last))}\n```"


class MockServer:
    def __init__(self, script: list[str] | None = None, reply: Reply = echo_reply,
                 model: str = "mock-model", then: Step = lambda: "ok"):
        self.script = list(script or [])
        self.reply = reply
        self.then = then
        self.model = model
        self.requests: list[dict[str, Any]] = []
        """Every request received: path, headers, JSON body and `arrived`, for assertions; a
        chat request also its `step`, its `answer` (None unless it answered normally) and
        `answered`, once answered."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "MockServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next_step(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.then()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every answer

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                      length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, message: str, code: str,
                       headers: dict[str, str] | None = None) -> None:
                body = {"error": {"message": message, "type": code, "code": code}}
                self._send(status, json.dumps(body).encode(), headers)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    body = {"object": "list", "data": [{"id": server.model, "object": "model",
                                                        "owned_by": "mock"}]}
                    self._send(200, json.dumps(body).encode())
                else:
                    self._error(404, f"no route {self.path}", "not_found")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._error(400, "request body is not JSON", "invalid_request_error")
                    return
                request = {"path": self.path, "headers": dict(self.headers), "body": body,
                           "arrived": time.time()}
                with server._lock:
                    server.requests.append(request)
                if self.path.rstrip("/").endswith("/embeddings"):
                    self._embeddings(body)
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._error(404, f"no route {self.path}", "not_found")
                    return
                request["step"] = server._next_step()
                request["answer"] = self._answer(request["step"], body)
                request["answered"] = time.time()

            def _embeddings(self, body: dict[str, Any]) -> None:
                texts = body.get("input")
                texts = [texts] if isinstance(texts, str) else texts
                if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                    self._error(400, "input must be a string or a list of strings",
                                "invalid_request_error")
                    return
                data = [{"object": "embedding", "index": i, "embedding": trigram_embedding(t)}
                        for i, t in enumerate(texts)]
                tokens = sum(len(t.split()) for t in texts)
                self._send(200, json.dumps({
                    "object": "list", "data": data, "model": body.get("model", server.model),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}).encode())

            def _answer(self, step: str, body: dict[str, Any]) -> str | None:
                """Play one step; the text answered, when the step answers normally."""
                kind, _, arg = step.partition(":")
                if kind == "429":
                    self._error(429, "Rate limit reached", "rate_limit_exceeded",
                                {"Retry-After": arg or "1"})
                elif kind in ("500", "503"):
                    self._error(int(kind), "The server had an error", "server_error")
                elif kind == "401":
                    self._error(401, "Incorrect API key provided", "invalid_api_key")
                elif kind == "context":
                    self._error(400, "This model's maximum context length is 8192 tokens",
                                "context_length_exceeded")
                elif kind == "hang":
                    server._stop.wait(60)
                elif kind == "truncated":
                    full = json.dumps(self._completion(body, server.reply(body["messages"])))
                    cut = full[: len(full) // 2].encode()
                    self._send(200, cut)
                elif kind == "empty":
                    payload = self._completion(body, "")
                    payload["choices"] = []
                    self._send(200, json.dumps(payload).encode())
                elif kind == "blank":
                    self._send(200, json.dumps(self._completion(body, "")).encode())
                else:
                    if kind == "slow":  # cut short only when the server stops
                        server._stop.wait(float(arg or 1))
                    text = server.reply(body["messages"])
                    if body.get("stream"):
                        self._stream(body, text)
                    else:
                        self._send(200, json.dumps(self._completion(body, text)).encode())
                    return text
                return None

            def _usage(self, body: dict[str, Any], text: str) -> dict[str, int]:
                prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                completion = len(text.split())
                return {"prompt_tokens": prompt, "completion_tokens": completion,
                        "total_tokens": prompt + completion}

            def _completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
                return {"id": "chatcmpl-mock", "object": "chat.completion",
                        "created": int(time.time()), "model": body.get("model", server.model),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": self._usage(body, text)}

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": body.get("model", server.model)}
                words = text.split(" ")
                pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
                for i, piece in enumerate(pieces):
                    delta = {"content": piece} | ({"role": "assistant"} if i == 0 else {})
                    chunk = base | {"choices": [{"index": 0, "delta": delta,
                                                 "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                final = base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                                "usage": self._usage(body, text)}
                self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        return Handler
