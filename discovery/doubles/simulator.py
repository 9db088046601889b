"""A simulated agent model for CI and demos: a test double, never a result.

Agent-design campaigns need thousands of model calls; here there is no hosted model and the
embedded one is slow and weak. The simulator stands in for the *agent* model (`[agent_model]
name = "simulator"`): it answers from the gold answer that the task's trusted oracle passes as
`reference` (the candidate never holds it), right with a probability that depends on what the
prompt asks for, with noise drawn per call, so that the designs ADAS found useful help here too:

- a `thinking` field (chain of thought) raises the chance of a right answer;
- a prompt that already holds an earlier answer (or code) and feedback on it (self-refine,
  debate) raises it again (code it is told fits every example is kept), and a critic asked
  whether an answer is `correct` judges it rightly most of the time;
- at temperature 0 the same prompt always gets the same answer; above it each call draws anew
  (the k-th identical call is seeded by k), so voting over samples helps.

It answers in the JSON layout the agents' `LLMAgentBase` asks for: one value per requested
field. A `code` field (grid tasks, ARC) gets a `transform` that honours the task's mechanics as a
real model's code does: code that is right on the test input also fits the examples the prompt
shows (it maps each example's input to its output), and wrong code fits none, so checking code
on the examples tells right from wrong and the designs that use that feedback (refining, keeping
the best-fitting sample) gain as they do with a real model; the code is a lookup, not a rule.
Without a reference (a prompt about no known question) it answers wrongly.

Its scores test the plumbing, not a design's worth with a real model: every output of a
campaign that uses it says so (discovery/double_label.py).
"""

import hashlib
import json
import random
import re
from typing import Any

from archive.records import ModelCall
from discovery.models.base import Completion, Messages, ModelSpec

BASE = 0.3
THINKING = 0.15
REFINING = 0.15
CRITIC = 0.85
"""Chance that a critic's verdict on an earlier answer is right."""
KEEP = 0.9
"""Chance that code shown with feedback that it fits every example is kept (written again), as
a real model keeps code it is told works; other answers are drawn anew."""
_FORMAT = re.compile(r"following JSON format\.\s*(\{.*?\n\})", re.S)
_EARLIER = re.compile(r"### (?:answer|code) #\d+ by [^\n]*:\n(.*?)(?:\n###|\Z)", re.S)
_EXAMPLE = re.compile(r"### Example \d+:\ninput = (\[.*?\])\noutput = (\[.*?\])\n")
"""An ARC example as the question shows it (questions._arc_question): compact JSON grids."""


class Simulator:
    def __init__(self, spec: ModelSpec):
        self.spec = spec

    def complete(self, messages: Messages, *, purpose: str = "agent",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        temperature = self.spec.temperature if temperature is None else temperature
        text = "\n".join(m["content"] for m in messages)
        digest = hashlib.sha256(text.encode()).hexdigest()
        rng = random.Random(f"{digest}:{seed if temperature > 0 else 0}")
        fields = _fields(messages)
        earlier = [a.strip() for a in _EARLIER.findall(messages[-1]["content"])]
        refining = bool(earlier) and "feedback" in text.lower()
        kept = refining and earlier[-1].startswith("def transform") and \
            _same(earlier[-1], reference)  # right code fits every example: the feedback says so
        answer = self._answer(rng, reference, KEEP if kept else BASE + THINKING *
                              ("thinking" in fields) + REFINING * refining)
        reply: dict[str, str] = {}
        for field in fields:
            if field == "correct":
                right = bool(earlier) and _same(earlier[-1], reference)
                reply[field] = str(right if rng.random() < CRITIC else not right)
            elif field == "feedback":
                reply[field] = "The answer looks right." if earlier and \
                    _same(earlier[-1], reference) else "Recheck each step of the answer."
            elif field == "thinking":
                reply[field] = "Let me work through it step by step."
            elif field == "code":
                reply[field] = _code(answer, reference, _EXAMPLE.findall(text))
            else:
                reply[field] = answer
        out = json.dumps(reply)
        tokens_in, tokens_out = len(text.split()), len(out.split())
        attempt = ModelCall(self.spec.name, purpose, tokens_in, tokens_out, 0.0, 0.0,
                            raw_response=out)
        return Completion(self.spec.name, out, tokens_in, tokens_out, 0.0, 0.0, (attempt,))

    @staticmethod
    def _answer(rng: random.Random, reference: Any, chance: float) -> str:
        if reference is not None and rng.random() < chance:
            return str(reference)
        return _wrong(rng, None if reference is None else str(reference))


def _fields(messages: Messages) -> list[str]:
    """The fields the system prompt's JSON layout asks for (`answer` if none is found)."""
    found = _FORMAT.search(messages[0]["content"]) if messages else None
    try:
        layout = json.loads(found.group(1)) if found else {}
    except ValueError:
        layout = {}
    return list(layout) if isinstance(layout, dict) and layout else ["answer"]


def _code(answer: str, reference: Any, examples: list[tuple[str, str]]) -> str:
    """`transform` for a grid task: right (the answer is the reference) maps each example's
    input to its output and anything else to the answer; wrong returns the wrong grid for every
    input (without a question in sight, an agent that withholds the task, a wrong grid), so it
    fits no example, as a real model's wrong code mostly does not."""
    grid = answer if answer.startswith("[") else "[[0]]"
    if reference is None or answer != str(reference) or not examples:
        return f"def transform(grid):\n    return {grid}"
    known = ",\n        ".join(f"({given}, {output})" for given, output in examples)
    return ("def transform(grid):\n    for given, output in [\n        " + known + "]:\n"
            "        if grid == given:\n            return output\n"
            f"    return {grid}")


def _same(answer: str, reference: Any) -> bool:
    """Whether an earlier answer, or earlier `transform` code (as `_code` writes it), is
    right."""
    if reference is None:
        return False
    if answer.lstrip().startswith("def transform"):
        return answer.rstrip().endswith(f"return {reference}")
    return answer.strip().strip(".").lower() == str(reference).strip().lower()


def _wrong(rng: random.Random, reference: str | None) -> str:
    """A plausible wrong answer of the reference's kind, spread over several values so that
    wrong answers rarely agree (a majority vote then finds the right one)."""
    if reference is None:
        return "I do not know."
    if reference.startswith("[["):
        return rng.choice(["[[0]]", "[[1, 0], [0, 1]]", "[]"])
    if len(reference) == 1 and reference.isalpha():
        return rng.choice([c for c in "ABCD" if c != reference.upper()])
    try:
        value = int(reference)
    except ValueError:
        return reference + " (unsure)"
    return str(value + rng.choice([-10, -3, -2, -1, 1, 2, 3, 10]))
