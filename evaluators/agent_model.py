"""The model channel, as a task's trusted code sees it.

Agents (ADAS) and memories (ALMA) call a language model from inside the sandbox. They never
hold a key or a socket: the candidate asks over the harness channel (`oracle("model", ...)`),
and the task's trusted oracle answers with `serve(case.model, request)`. `case.model` is the
campaign's *agent model*, built on the campaign side (litellm, the embedded model, scripted
answers, replay) with the evaluation's budget and its recording already inside: the task only
asks and passes on what it is told. Tasks whose trusted code itself runs an agent (the memory
tasks' LLM agent) call `case.model(...)` directly.

`reference` carries what only the trusted side knows (a question's gold answer) to the model:
real models ignore it; the CI simulator (a test double) answers from it, so that agent designs
can be compared offline without the candidate ever seeing the answer.
"""

from typing import Any, Protocol

MAX_MESSAGES = 64
"""Messages in one request from the sandbox."""
MAX_CHARS = 200_000
"""Characters over all messages of one request (about 50k tokens): a candidate cannot make us
send a prompt the size of its memory."""
ROLES = ("system", "user", "assistant")


class AgentModelError(Exception):
    """A call refused or failed (budget spent, provider down, malformed request); the message
    is what the candidate is told and what the evaluation records."""


class AgentModel(Protocol):
    """The agent model of one evaluation: budgeted, concurrency-capped, recorded."""

    def __call__(self, messages: list[dict[str, str]], *, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> str:
        """`json_mode`: the answer must be a JSON object (constrained where the model
        allows it)."""
        ...


def checked_messages(messages: Any) -> list[dict[str, str]]:
    """The candidate's messages as plain `{"role", "content"}` dicts, or AgentModelError."""
    if not isinstance(messages, list) or not messages:
        raise AgentModelError("messages must be a non-empty list of {role, content} objects")
    if len(messages) > MAX_MESSAGES:
        raise AgentModelError(f"more than {MAX_MESSAGES} messages in one request")
    clean, size = [], 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise AgentModelError("each message must be {role: system|user|assistant, "
                                  "content: text}")
        size += len(message["content"])
        clean.append({"role": message["role"], "content": message["content"]})
    if size > MAX_CHARS:
        raise AgentModelError(f"a request of {size:,} characters (at most {MAX_CHARS:,})")
    return clean


def checked_temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise AgentModelError("temperature must be a number from 0 to 2")
    return float(value)


def serve(model: AgentModel | None, messages: Any, temperature: Any = None,
          reference: Any = None, json_mode: Any = False) -> str:
    """Answer one request from the sandbox: checked, then passed to the agent model."""
    if model is None:
        raise AgentModelError("this evaluation has no agent model: set [agent_model] in the "
                              "campaign config")
    return model(checked_messages(messages), temperature=checked_temperature(temperature),
                 reference=reference, **({"json_mode": True} if json_mode is True else {}))
