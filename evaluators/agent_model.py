"""The model channel, as a task's trusted code sees it.

Agents (ADAS) and memories (ALMA) call a language model from inside the sandbox. They never
hold a key or a socket: the candidate asks over the harness channel (`oracle("model", ...)`),
and the task's trusted oracle answers with `serve(case.model, request)`. `case.model` is the
campaign's *agent model*, built on the campaign side (litellm, the embedded model, scripted
answers, replay) with the evaluation's budget and its recording already inside: the task only
asks and passes on what it is told. Tasks whose trusted code itself runs an agent (the memory
tasks' LLM agent) call `case.model(...)` directly. Text embeddings go the same way
(`oracle("embed", texts)`, answered with `serve_embed`): the agent model's embedding model,
within the same budgets, its vectors checked here before the candidate sees them.

`reference` carries what only the trusted side knows (a question's gold answer) to the model:
real models ignore it; the CI simulator (a test double) answers from it, so that agent designs
can be compared offline without the candidate ever seeing the answer.
"""

import math
from typing import Any, Protocol

MAX_MESSAGES = 64
"""Messages in one request from the sandbox."""
MAX_CHARS = 200_000
"""Characters over all messages of one request (about 50k tokens): a candidate cannot make us
send a prompt the size of its memory."""
ROLES = ("system", "user", "assistant")
MAX_EMBED_TEXTS = 256
"""Texts in one embedding request (providers take 256 to 2048)."""
MAX_EMBED_TEXT_CHARS = 8_000
"""Characters of one text to embed (about 2k tokens; embedding models take 512 to 8k tokens):
an embedding is of a goal or an episode's summary, not of a memory's whole store."""


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

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text (`texts` checked by `checked_texts`), all of one dimension."""
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
    return _present(model)(checked_messages(messages), temperature=checked_temperature(temperature),
                 reference=reference, **({"json_mode": True} if json_mode is True else {}))


def checked_texts(texts: Any) -> list[str]:
    """The candidate's texts to embed, or AgentModelError: a non-empty list of at most
    MAX_EMBED_TEXTS strings of at most MAX_EMBED_TEXT_CHARS characters each."""
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise AgentModelError("embed takes a non-empty list of strings")
    if len(texts) > MAX_EMBED_TEXTS:
        raise AgentModelError(f"{len(texts):,} texts in one embed request (at most "
                              f"{MAX_EMBED_TEXTS}): embed them in batches")
    longest = max(len(t) for t in texts)
    if longest > MAX_EMBED_TEXT_CHARS:
        raise AgentModelError(f"a text of {longest:,} characters to embed (at most "
                              f"{MAX_EMBED_TEXT_CHARS:,}): embed a summary")
    return list(texts)


def checked_vectors(vectors: Any, count: int, dimension: int | None) -> int:
    """The dimension of an embedding model's answer, once it is `count` lists of finite floats
    of one dimension (`dimension`, when earlier answers fixed it); else AgentModelError. A
    provider's bad answer must not reach the candidate as if it were an embedding."""
    if not isinstance(vectors, list) or len(vectors) != count:
        raise AgentModelError(f"the embedding model answered {type(vectors).__name__} for "
                              f"{count} texts")
    for vector in vectors:
        if not isinstance(vector, list) or not vector or not all(
                isinstance(x, float | int) and not isinstance(x, bool) and math.isfinite(x)
                for x in vector):
            raise AgentModelError("the embedding model answered a vector that is not a "
                                  "non-empty list of finite numbers")
        if len(vector) != (dimension or len(vector)):
            raise AgentModelError(f"the embedding model answered vectors of {len(vector)} "
                                  f"and {dimension} dimensions")
        dimension = len(vector)
    return dimension


def serve_embed(model: AgentModel | None, texts: Any) -> list[list[float]]:
    """Answer one embedding request from the sandbox: checked, then passed to the agent
    model (which checks and records what its embedding model answers)."""
    return _present(model).embed(checked_texts(texts))


def _present(model: AgentModel | None) -> AgentModel:
    if model is None:
        raise AgentModelError("this evaluation has no agent model: set [agent_model] in the "
                              "campaign config")
    return model
