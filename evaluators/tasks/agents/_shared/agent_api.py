"""The candidate's side of an agent task (trusted code, shipped next to the candidate).

ADAS (Hu, Lu & Clune 2024, https://arxiv.org/abs/2408.08435) has a meta agent write the
`forward(self, taskInfo)` of an agent built from `LLMAgentBase` calls; this module gives such a
`forward` the same API, written fresh, as a superset of ADAS's, so that ADAS's published agents
run here unchanged: `LLMAgentBase(output_fields, agent_name, role, model, temperature)` with its
`id`, `query` and `generate_prompt`; `Info`; for grid (ARC) tasks `self.examples` (dicts with
`input` and `output`), `self.test_input` (and ADAS's spelling `self.test_iuput`),
`run_examples_and_get_feedback(code) -> (feedback Info, correct examples, wrong examples)` and
`get_test_output_from_code(code) -> answer Info`, where `code` is an Info or its text.

Every model call goes over the model channel: the evaluator answers it with the campaign's agent
model, under the evaluation's budget; nothing here holds a key or a socket (`model=` names
ADAS's model and is kept, not used). `run` only carries questions in and answers out: the
evaluator keeps the gold answers, hands out the questions and scores what comes back. An agent
that raises, or answers with the error its own code gave on the test input, fails that question
with the reason: an error never becomes an answer.
"""

import hashlib
import json
import os
import random
import re
import select
import signal
import string
import threading
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
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
"""How long model-written `transform` code may run on one grid (its definition included in the
first grid's time)."""
MAX_CODE_OUTPUT = 1 << 20
"""Bytes of outputs one run of model-written code may send back."""

_channel = None
_context: dict[str, Any] = {}
"""What the evaluator said at the start: the answer format."""
_local = threading.local()
"""Per question thread: the question being answered and how many agents its forward made (the
agents' ids derive from both)."""
_unbound = iter(range(1 << 62))
"""Ids for agents made outside any question's forward."""


class AgentError(RuntimeError):
    """The agent model's answer could not be used (no JSON object, twice)."""


def ask_model(messages: list[dict[str, str]], temperature: float | None = None,
              json_mode: bool = False) -> str:
    """One completion of the agent model, asked of the evaluator (`json_mode`: a JSON object,
    constrained where the model allows it)."""
    return _channel("model", messages, temperature, json_mode)


def _agent_id() -> str:
    """Four letters or digits, like ADAS's random id, but drawn from the run (the question's id
    and text) and the agent's rank in its forward: two agents of one name stay apart in
    prompts, the repeats of a question ask distinct prompts as ADAS's random ids made them, and
    an evaluation run again asks the same prompts (so a model that answers a prompt the same
    way, the simulator, or a replay, gives the same score whatever the threads' timing)."""
    question = getattr(_local, "question", None)
    if question is None:
        key = f"unbound:{next(_unbound)}"
    else:
        _local.agents += 1
        text = hashlib.sha256(question["text"].encode()).hexdigest()
        key = f"{question['id']}:{text}:{_local.agents}"
    return "".join(random.Random(key).choices(string.ascii_letters + string.digits, k=4))


class LLMAgentBase:
    """An agent that asks the model for a JSON object with exactly `output_fields`.

    `agent(input_infos, instruction, iteration_idx)` shows the model the infos (the task, earlier
    answers, feedback; anything in the list that is not an Info is skipped, as in ADAS) and the
    instruction, and returns one Info per output field, in order. A field the model left out
    comes back empty; a reply that is not a JSON object is asked again once, then an
    AgentError. `model` is ADAS's keyword, kept as an attribute: the campaign's agent model
    answers every call."""

    def __init__(self, output_fields: list[str], agent_name: str,
                 role: str = "helpful assistant", model: str | None = None,
                 temperature: float = 0.5):
        self.output_fields, self.agent_name = list(output_fields), agent_name
        self.role, self.model, self.temperature = role, model, temperature
        self.id = _agent_id()

    def __repr__(self) -> str:
        return f"{self.agent_name} {self.id}"

    def generate_prompt(self, input_infos: list, instruction: str) -> tuple[str, str]:
        """(system prompt, user prompt) of a call, as ADAS builds them: the reply's JSON
        layout, then the infos (the task first, the agent's own earlier work marked
        "(yourself)"), then the instruction."""
        layout = {field: FIELD_HELP.get(field, f"Your {field}.") for field in self.output_fields}
        if "answer" in layout:
            layout["answer"] = _context.get("answer_format", "Your answer.")
        system = (f"You are a {self.role}.\n\nReply EXACTLY with the following JSON format.\n"
                  f"{json.dumps(layout, indent=4)}\nDO NOT MISS ANY REQUEST FIELDS and ensure "
                  "that your response is a well-formed JSON object!")
        parts = []
        for info in input_infos:
            if not isinstance(info, Info):
                continue
            name, author, content, iteration_idx = info
            if author == repr(self):
                author = f"{author} (yourself)"
            if name == "task":
                parts.append(f"# Your Task:\n{_shown(content)}")
            else:
                round_ = f" #{iteration_idx + 1}" if iteration_idx != -1 else ""
                parts.append(f"### {name}{round_} by {author}:\n{_shown(content)}")
        return system, "\n\n".join(parts) + "\n\n" + instruction

    def query(self, input_infos: list, instruction: str, iteration_idx: int = -1) -> list[Info]:
        system, prompt = self.generate_prompt(input_infos, instruction)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
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

    def __call__(self, input_infos: list, instruction: str,
                 iteration_idx: int = -1) -> list[Info]:
        return self.query(input_infos, instruction, iteration_idx)


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


def _shown(content: Any) -> str:
    """An Info's content in a prompt: text as it is, grids and other data as compact JSON."""
    if isinstance(content, str):
        return content
    try:
        return json.dumps(content, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(content)


class AgentSystem:
    """What `forward`'s `self` is: the task's tools. For grid (ARC) tasks it runs the model's
    `transform` code on the question's examples and test input, in a child process with a time
    limit per grid (the code is untrusted like the agent; it runs under the same sandbox).
    A forward may keep its own attributes on `self`: each question run has its own."""

    def __init__(self, question: dict[str, Any]):
        self.question = question
        self.examples: list[dict[str, Any]] = question.get("examples", [])
        self.test_input = question.get("test_input")
        self.test_iuput = self.test_input  # ADAS's spelling, which its agents use
        self.code_errors: dict[str, str] = {}
        """The test outputs that are errors of the code, by their text: a forward that
        answers with one fails its question with the error as the reason."""

    def run_examples_and_get_feedback(self, code: Any) -> tuple[Info, list, list]:
        """Run `transform` (an Info or its text) on each example: (an Info saying which
        examples, numbered from 0 as in the question, it gets right or wrong, the examples it
        gets right, the examples it gets wrong; each example a dict with input and output).
        An example whose run raises counts as wrong."""
        text, evaluator = _code_and_evaluator(code)
        correct: list[dict[str, Any]] = []
        wrong: list[dict[str, Any]] = []
        failure, results = run_transform(text, [example["input"] for example in self.examples])
        if failure is not None:
            return Info("feedback", evaluator, failure, -1), correct, wrong
        lines = []
        for index, (example, (output, error)) in enumerate(zip(self.examples, results,
                                                               strict=True)):
            if error is None and output == example["output"]:
                correct.append(example)
                lines.append(f"Your transform function generates a CORRECT answer in Example "
                             f"{index}!")
                continue
            wrong.append(example)
            got = f"an error: {error}" if error is not None else _shown(output)[:2000]
            lines.append(f"Your transform function generates a WRONG answer in Example "
                         f"{index}!\nExpect: See above Example {index} output.\nYou got: {got}"
                         f"\nObserve the Example {index} carefully!")
        return Info("feedback", evaluator, "\n\n".join(lines), -1), correct, wrong

    def get_test_output_from_code(self, code: Any) -> Info:
        """The output of `transform` (an Info or its text) on the test input, as an `answer`
        Info whose content is the grid as compact JSON; if the code fails, the content is the
        error (which a forward may show an agent, but not answer with)."""
        text, evaluator = _code_and_evaluator(code)
        failure, results = run_transform(text, [self.test_input])
        if failure is None:
            output, failure = results[0]
            if failure is None:
                return Info("answer", evaluator, _shown(output), -1)
            failure = f"Error during function execution: {failure}"
        self.code_errors[failure] = ("the answer is the error of the agent's code on the test "
                                     f"input: {failure}")
        return Info("answer", evaluator, failure, -1)


def _code_and_evaluator(code: Any) -> tuple[str, str]:
    """The code's text (fences removed) and the author ADAS gives the evaluator's Infos."""
    if isinstance(code, Info):
        return code_of(_shown(code.content)), f"{code.author}'s code evaluator"
    return code_of(_shown(code)), "code evaluator"


_FORKING = threading.Lock()
"""One fork at a time: an agent's questions run on threads, and a library's fork guard (filelock's
audit hook, imported with the dataset hub) refuses a fork while another thread is forking."""


def run_transform(code: str, grids: list[Any]) -> tuple[str | None, list[tuple[Any, str | None]]]:
    """`transform(grid)` of `code` on each grid, in one forked child, at most CODE_TIMEOUT_S per
    grid: (why the code could not run at all, or None; per grid (output, None) or (None, why
    not)). A grid not reached in time fails with the time limit."""
    read_end, write_end = os.pipe()
    with _FORKING:
        pid = os.fork()
    if pid == 0:  # the child: run, send one JSON line per grid, leave without cleanup
        os.close(read_end)
        _transform_child(code, grids, write_end)
        os._exit(0)
    os.close(write_end)
    lines: list[dict[str, Any]] = []
    buffer, size, timed_out = b"", 0, False
    with os.fdopen(read_end, "rb") as source:
        while len(lines) < len(grids) + 1:  # a header line, then one line per grid
            if not select.select([source], [], [], CODE_TIMEOUT_S)[0]:
                timed_out = True
                break
            chunk = source.read1(65536)
            size += len(chunk)
            if not chunk or size > MAX_CODE_OUTPUT:
                break
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [_json_line(line) for line in complete]
    if timed_out or size > MAX_CODE_OUTPUT:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not lines:
        return (f"Error during code execution: defining transform took longer than "
                f"{CODE_TIMEOUT_S:g} s" if timed_out else "Error during code execution: the "
                "code ended the process"), []
    if lines[0].get("error") is not None:
        return str(lines[0]["error"]), []
    missing = (f"transform ran longer than {CODE_TIMEOUT_S:g} s" if timed_out else
               "transform's output is too large or not plain data (lists of numbers)")
    results = [(line.get("output"), line.get("error")) for line in lines[1:]]
    return None, results + [(None, missing)] * (len(grids) - len(results))


def _json_line(line: bytes) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {
        "error": "transform's output is not plain data (lists of numbers)"}


def _transform_child(code: str, grids: list[Any], fd: int) -> None:
    """In the forked child: define the code (ADAS's messages when that fails), then one line
    per grid, flushed as each is done."""
    with os.fdopen(fd, "w") as out:
        scope: dict[str, Any] = {}
        try:
            exec(code, scope)
            header = {} if callable(scope.get("transform")) else {
                "error": "Function 'transform' not found in the code."}
        except BaseException as exc:
            header = {"error": f"Error during code execution: {_reason(exc)}"}
        out.write(json.dumps(header) + "\n")
        out.flush()
        if header:
            return
        for grid in grids:
            try:
                line = json.dumps({"output": scope["transform"](json.loads(json.dumps(grid)))})
            except BaseException as exc:
                line = json.dumps({"error": _reason(exc)})
            out.write(line + "\n")
            out.flush()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def run(forward, agent) -> dict[str, Any]:
    """Answer every question the evaluator hands out, `threads` questions at a time (ADAS used
    32 to 48): `forward(AgentSystem, Info(task))` per run; its answer (an Info, text, or data
    such as a grid) goes back. A run whose forward raises, or answers with its code's error, is
    reported as failed, with the reason.

    The runs of one question (n_repeat) take turns on one thread: their prompts are often the
    same, and a model asked the same prompt again samples anew (the k-th time seeded k, for the
    simulator and replays), so taking turns keeps which run gets which sample, and the score,
    the same from one evaluation to the next."""
    global _channel
    _channel = agent
    start = agent("start")
    _context.update(start["context"])
    lock, failures = threading.Lock(), []

    def one(question: dict[str, Any]) -> None:
        _local.question, _local.agents = question, 0
        system = AgentSystem(question)
        try:
            answer = forward(system, Info("task", "User", question["text"], -1))
            if answer is None:
                raise AgentError("forward returned None: it must return its answer (an Info or "
                                 "its text)")
            text = _text(answer.content if isinstance(answer, Info) else answer)
            if text in system.code_errors:
                raise AgentError(system.code_errors[text])
            agent("answer", question["id"], text)
        except Exception as exc:
            with lock:
                failures.append(question["id"])
            agent("fail", question["id"], _reason(exc))

    turns = [list(runs) for _, runs in groupby(start["questions"], key=lambda q: q["text"])]
    with ThreadPoolExecutor(start["threads"]) as pool:
        list(pool.map(lambda runs: [one(question) for question in runs], turns))
    return {"failed": len(failures)}


_CODE_FENCE = re.compile(r"```(?:python)?\n(.*?)```", re.S)


def code_of(text: str) -> str:
    """The code in a model's `code` field (fences removed); the grid tools apply it
    themselves."""
    fenced = _CODE_FENCE.search(text)
    return fenced.group(1) if fenced else text
