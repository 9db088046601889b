"""Scripted answers: a stand-in model for CI and demos, answering from a file in order."""

import json
import threading
from pathlib import Path
from typing import Any

from archive.records import ModelCall
from discovery.models.base import Completion, Messages, ModelError, ModelSpec


class Scripted:
    """Answers from a file in order, whatever the request, cycling at the end: hand-written
    answers in the transcript format (one JSON object a line with at least `text`), for CI and
    demos of a campaign without any model. Named `scripted:<path>` in a campaign config."""

    def __init__(self, spec: ModelSpec, path: str | Path):
        self.spec, self.path = spec, Path(path)
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            self._answers = [json.loads(line) for line in lines if line.strip()]
            texts = [a["text"] for a in self._answers]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{self.path} is not a script of answers ({exc}): one JSON object "
                             'a line, each with a "text"') from exc
        if not texts:
            raise ModelError(f"{self.path} holds no answers")
        self._next = 0
        self._lock = threading.Lock()

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        with self._lock:
            answer = self._answers[self._next % len(self._answers)]
            self._next += 1
        text = answer["text"]
        tokens_in = sum(len(m["content"].split()) for m in messages)
        tokens_out = len(text.split())
        attempt = ModelCall(self.spec.name, purpose, tokens_in, tokens_out, 0.0, 0.0,
                            raw_response=text)
        return Completion(self.spec.name, text, tokens_in, tokens_out, 0.0, 0.0, (attempt,))
