"""Every configured model checked before the campaign's first evaluation: a hosted model whose
key is missing, refused, or whose endpoint does not answer is found in seconds, in one line,
instead of when its first proposal is due (after the seed's evaluation and the tuning rounds:
minutes on a costly task). `discover run`, `discover resume` and `discover models` share it.

A hosted model (litellm) needs its key in the environment and answers one cheap call ("Reply
with OK.", one retry at most); `--no-preflight` keeps the key check and skips the call. The
embedded model, scripted answers, the simulator and replayed transcripts need nothing more than
their client was given (weights, a script, a transcript) and make no call. The preflight call is
not recorded in the archive or the transcript: it belongs to no iteration and costs a few tokens.
"""

from discovery.models import make_client
from discovery.models.base import CallFailed, ModelClient, ModelError, ModelSpec
from discovery.models.litellm_client import LiteLLMClient
from discovery.models.transcripts import Recorder

PROMPT = [{"role": "user", "content": "Reply with OK."}]


def check(spec: ModelSpec, client: ModelClient | None = None, *, call: bool = True) -> str:
    """What the model's check found, as a status ("reachable (0.42 s)"), or a ModelError: one
    line that names the model, what is wrong and the fix. `client`: the one a campaign made
    (else one is made here, which checks weights and scripts)."""
    client = make_client(spec) if client is None else client
    if isinstance(client, Recorder):
        client = client.inner
    if not isinstance(client, LiteLLMClient):
        where = getattr(client, "path", None)  # the embedded weights, a script, a transcript
        return f"offline, ready ({where.name})" if where is not None else "offline, ready"
    client.api_key()  # a ModelError naming the variable when the key is missing
    if not call:
        return "key present (not called)"
    once = LiteLLMClient(client.spec.model_copy(update={
        "max_retries": min(client.spec.max_retries, 1)}))
    try:
        reply = once.complete(PROMPT, purpose="preflight")
    except CallFailed as exc:
        raise ModelError(f"{exc}: check the model's name, api_base and provider, or pass "
                         "--no-preflight to start anyway") from exc
    return f"reachable ({reply.latency_s:.2f} s)"


def preflight(clients: dict[str, ModelClient], *, call: bool = True) -> None:
    """Check each of a campaign's clients (models, agent model) once; the first unusable one
    raises its ModelError."""
    seen: set[tuple[str, str | None]] = set()
    for client in clients.values():
        key = (client.spec.name, client.spec.api_base)
        if key not in seen:
            seen.add(key)
            check(client.spec, client, call=call)
