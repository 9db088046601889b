"""The candidate's side of an agent task (trusted code, shipped next to the candidate).

ADAS (Hu, Lu & Clune 2024, https://arxiv.org/abs/2408.08435) has a meta agent write the
`forward(self, taskInfo)` of an agent built from `LLMAgentBase` calls; this module gives such a
`forward` the same API, written fresh. Every model call goes over the model channel: the
evaluator answers it with the campaign's agent model, under the evaluation's budget; nothing
here holds a key or a socket. `run` only carries questions in and answers out: the evaluator
keeps the gold answers, hands out the questions and scores what comes back.
"""

import json
import os
import re
import select
import signal
import threading
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Info = namedtuple("Info", ["name", "author", "content", "iteration_idx"])
"""One piece of an agent's work: a field (`answer`, `thinking`, `feedback`...), who wrote it,
what it says, and which round of an iterative agent produced it (-1 for the task itself)."""

FIELD_HELP = {
    "thinking": "Your step by step thinking.",
    "feedback": "Your feedback on the answer: what is wrong and how to fix it.",
    "correct": "True if the answer is correct, else False (one word).",
    "code": "Python code that defines `transform(grid)` returning the output grid.",
}
CODE_TIMEOUT_S = 2.0
"""How long model-written `transform` code may run on one grid."""

_channel = None
_context: dict[str, Any] = {}
"""What the evaluator said at the start: the answer format and, for grid tasks, nothing
more (each question carries its own examples)."""


class AgentError(RuntimeError):
    """The agent model's answer could not be used (no JSON object, twice)."""


def ask_model(messages: list[dict[str, str]], temperature: float | None = None,
              json_mode: bool = False) -> str:
    """One completion of the agent model, asked of the evaluator (`json_mode`: a JSON object,
    constrained where the model allows it)."""
    return _channel("model", messages, temperature, json_mode)


class LLMAgentBase:
    """An agent that asks the model for a JSON object with exactly `output_fields`.

    `agent(input_infos, instruction)` shows the model the infos (the task, earlier answers,
    feedback) and the instruction, and returns one Info per output field, in order. A field the
    model left out comes back empty; a reply that is not a JSON object is asked again once,
    then an AgentError."""

    def __init__(self, output_fields: list[str], agent_name: str,
                 role: str = "helpful assistant", temperature: float = 0.5):
        self.output_fields, self.agent_name = list(output_fields), agent_name
        self.role, self.temperature = role, temperature

    def __repr__(self) -> str:
        return f"{self.agent_name} {self.role}"

    def __call__(self, input_infos: list, instruction: str,
                 iteration_idx: int = -1) -> list[Info]:
        layout = {field: FIELD_HELP.get(field, f"Your {field}.") for field in self.output_fields}
        if "answer" in layout:
            layout["answer"] = _context.get("answer_format", "Your answer.")
        system = (f"You are a {self.role}.\n\nReply EXACTLY with the following JSON format.\n"
                  f"{json.dumps(layout, indent=4)}\nDO NOT MISS ANY REQUEST FIELDS and ensure "
                  "that your response is a well-formed JSON object!")
        parts = []
        for info in input_infos:
            if not isinstance(info, Info):
                raise TypeError(f"input_infos holds a {type(info).__name__}, not an Info")
            if info.author == "User":
                parts.append(f"# Your Task:\n{info.content}")
            else:
                round_ = f" #{info.iteration_idx + 1}" if info.iteration_idx >= 0 else ""
                parts.append(f"### {info.name}{round_} by {info.author}:\n{info.content}")
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": "\n\n".join(parts) + "\n\n" + instruction}]
        reply = _json_object(ask_model(messages, self.temperature, json_mode=True))
        if reply is None:
            messages.append({"role": "user", "content": "That was not a JSON object. Reply "
                             "with only the JSON object, with the fields asked for."})
            reply = _json_object(ask_model(messages, self.temperature, json_mode=True))
            if reply is None:
                raise AgentError(f"{self.agent_name}: the model did not answer with a JSON "
                                 "object (asked twice)")
        return [Info(field, repr(self), _text(reply.get(field, "")), iteration_idx)
                for field in self.output_fields]


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a reply (code fences and prose around it allowed), or None."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class AgentSystem:
    """What `forward`'s `self` is: the task's tools. For grid (ARC) tasks it runs the
    model's `transform` code on the question's examples, in a child process with a time
    limit (the code is untrusted like the agent; it runs under the same sandbox)."""

    def __init__(self, question: dict[str, Any]):
        self.question = question

    def run_examples_and_get_feedback(self, code: str) -> tuple[Info, float]:
        """Run `transform` on each training example: (an Info listing right and wrong
        examples, the fraction right)."""
        lines, right = [], 0
        examples = self.question.get("examples", [])
        for number, (grid, expected) in enumerate(examples, 1):
            output, error = run_transform(code, grid)
            if error is not None:
                lines.append(f"Example {number}: error: {error}")
            elif output == expected:
                right += 1
                lines.append(f"Example {number}: correct.")
            else:
                lines.append(f"Example {number}: wrong. Expected {json.dumps(expected)}, got "
                             f"{json.dumps(output)[:2000]}.")
        score = right / len(examples) if examples else 0.0
        return Info("feedback", "run_examples", "\n".join(lines), -1), score

    def get_test_output_from_code(self, code: str) -> Any:
        """The output of `transform` on the test input (an error message if it fails)."""
        output, error = run_transform(code, self.question.get("test_input"))
        return output if error is None else f"error: {error}"


def run_transform(code: str, grid: Any) -> tuple[Any, str | None]:
    """`transform(grid)` of `code`, run in a forked child for at most CODE_TIMEOUT_S: (output,
    None) or (None, why not)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, send the result as JSON, leave without cleanup
        os.close(read_end)
        try:
            scope: dict[str, Any] = {}
            exec(code, scope)
            result = {"output": scope["transform"](json.loads(json.dumps(grid)))}
            data = json.dumps(result)
        except BaseException as exc:
            data = json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
        with os.fdopen(write_end, "w") as out:
            out.write(data)
        os._exit(0)
    os.close(write_end)
    chunks, deadline_hit = [], False
    with os.fdopen(read_end, "rb") as source:
        while True:
            if not select.select([source], [], [], CODE_TIMEOUT_S)[0]:
                deadline_hit = True
                break
            chunk = source.read1(65536)
            if not chunk or sum(map(len, chunks)) > 1 << 20:
                break
            chunks.append(chunk)
    if deadline_hit:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if deadline_hit:
        return None, f"transform ran longer than {CODE_TIMEOUT_S:g} s"
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        return None, "transform's output is not plain data (lists of numbers)"
    return result.get("output"), result.get("error")


def run(forward, agent) -> dict[str, Any]:
    """Answer every question the evaluator hands out, `threads` at a time (ADAS used 48):
    `forward(AgentSystem, Info(task))` per question; its answer (an Info, or text) goes back.
    A question whose forward raises is reported as failed, with the reason."""
    global _channel
    _channel = agent
    start = agent("start")
    _context.update(start["context"])
    lock, failures = threading.Lock(), []

    def one(question: dict[str, Any]) -> None:
        try:
            answer = forward(AgentSystem(question), Info("task", "User", question["text"], -1))
            if isinstance(answer, Info):
                answer = answer.content
            agent("answer", question["id"], _text(answer))
        except Exception as exc:
            with lock:
                failures.append(question["id"])
            agent("fail", question["id"], f"{type(exc).__name__}: {str(exc)[:300]}")

    with ThreadPoolExecutor(start["threads"]) as pool:
        list(pool.map(one, start["questions"]))
    return {"failed": len(failures)}


_CODE_FENCE = re.compile(r"```(?:python)?\n(.*?)```", re.S)


def code_of(text: str) -> str:
    """The code in a model's `code` field (fences removed)."""
    fenced = _CODE_FENCE.search(text)
    return fenced.group(1) if fenced else text
