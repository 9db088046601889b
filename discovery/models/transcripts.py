"""Recorded model transcripts: a recorder that captures request -> response pairs from any
client, and a replayer that answers from them, so tests and demos run with no model at all and
a replayed campaign reproduces the original archive.

A request is matched by a stable hash of what determines the answer (model, messages, seed,
temperature, max_tokens); the same request asked twice replays its recorded answers in order.
The file is JSON lines, appended and flushed per call, so a killed campaign keeps what it had.
"""

import hashlib
import json
import threading
from collections import defaultdict
from pathlib import Path

from archive.records import ModelCall
from discovery.models.base import Completion, Messages, ModelClient, ModelError, ModelSpec


def request_key(spec: ModelSpec, messages: Messages, seed: int | None) -> str:
    fields = {"model": spec.name, "messages": messages, "seed": seed,
              "temperature": spec.temperature, "max_tokens": spec.max_tokens}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class Recorder:
    """Wraps a real client and appends every successful exchange to `path`."""

    def __init__(self, inner: ModelClient, path: str | Path):
        self.inner, self.spec, self.path = inner, inner.spec, Path(path)
        self._lock = threading.Lock()

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None) -> Completion:
        completion = self.inner.complete(messages, purpose=purpose, seed=seed)
        line = json.dumps({"key": request_key(self.spec, messages, seed), "model": self.spec.name,
                           "messages": messages, "seed": seed, "text": completion.text,
                           "tokens_in": completion.tokens_in,
                           "tokens_out": completion.tokens_out, "cost": completion.cost,
                           "latency_s": completion.latency_s})
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
        return completion


class Replayer:
    """Answers from a transcript file; an unrecorded request is a clear error."""

    def __init__(self, spec: ModelSpec, path: str | Path):
        self.spec, self.path = spec, Path(path)
        if not self.path.is_file():
            raise ModelError(f"no transcript at {self.path}: record one first")
        self._answers: dict[str, list[dict]] = defaultdict(list)
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._answers[record["key"]].append(record)
            except (ValueError, KeyError) as exc:
                raise ModelError(f"{self.path} line {number} is not a transcript record "
                                 f"({exc}): re-record it") from exc
        self._used: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None) -> Completion:
        key = request_key(self.spec, messages, seed)
        with self._lock:
            answers, used = self._answers.get(key, []), self._used[key]
            if used >= len(answers):
                raise ModelError(
                    f"{self.path} has no {'further ' if used else ''}recorded answer for this "
                    f"{self.spec.name} request (key {key[:12]}): record the campaign again")
            self._used[key] += 1
        r = answers[used]
        attempt = ModelCall(self.spec.name, purpose, r["tokens_in"], r["tokens_out"], r["cost"],
                            r["latency_s"], raw_response=r["text"])
        return Completion(self.spec.name, r["text"], r["tokens_in"], r["tokens_out"], r["cost"],
                          r["latency_s"], (attempt,))
