"""Whether a campaign's scores came from test doubles, decided once and said in one line.

An agent-design or memory campaign's score is what its agent model made of the candidates; when
that model is a test double (the simulator, a scripted model: discovery/doubles/), the score
tests the plumbing, not a design, and a campaign whose meta model is scripted proposes canned
programs. Every result a user sees (run progress, `status`, `show`, `lineage`, `runs`,
report.md and its plots, the web view, exported modules) carries the line this module writes, so
that no such score passes for a result. The label is read from the campaign's stored config
(and the configs its resumes ran with), by model name: a replay of a real model's transcript
keeps the real names and is not labelled; a replay of the simulator's is.
"""

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from archive import ArchiveReader

SIMULATOR = "simulator"
"""The simulator's model name, as discovery.models.SIMULATOR spells it (not imported from there:
the command line lists runs without loading the model layer and pydantic)."""
SCRIPTED = "scripted:"
"""The prefix of a scripted model's name (discovery/doubles/scripted.py)."""

MEANING = {
    "agent": "scores test plumbing, not designs",
    "meta": "programs are canned answers, not a model's proposals",
}


def double_kind(name: str | None) -> str | None:
    """"simulated" or "scripted" for a test double's model name, else None."""
    if name == SIMULATOR:
        return "simulated"
    if name is not None and name.startswith(SCRIPTED):
        return "scripted"
    return None


def doubles(configs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The test doubles among the configs' agent model and meta models, as short phrases
    ("simulated agent model", "scripted meta model"), agent model first; none: []."""
    agent: list[str] = []
    meta: list[str] = []
    for config in configs:
        name = (config.get("agent_model") or {}).get("name")
        if (kind := double_kind(name)) and f"{kind} agent model" not in agent:
            agent.append(f"{kind} agent model")
        for spec in config.get("models") or []:
            if (kind := double_kind(spec.get("name"))) and f"{kind} meta model" not in meta:
                meta.append(f"{kind} meta model")
    return agent + meta


def label(configs: Iterable[Mapping[str, Any]]) -> str | None:
    """The one line every output shows, e.g. "simulated agent model (discovery's test double):
    scores test plumbing, not designs"; None for a campaign with no test double."""
    found = doubles(configs)
    agent = [d for d in found if "agent" in d]
    meta = [d for d in found if "meta" in d]
    parts = []
    if agent:
        parts.append(f"{' and '.join(agent)} (discovery's test double): {MEANING['agent']}")
    if meta:
        parts.append(f"{' and '.join(meta)} (discovery's test double): {MEANING['meta']}")
    return "; ".join(parts) or None


def configs_of(reader: ArchiveReader) -> list[dict[str, Any]]:
    """The config the campaign was created with and each one a resume changed it to."""
    return [reader.campaign().config,
            *(d["config"] for _, _, d in reader.events("campaign_resumed", 10**9)
              if "config" in d)]


def peer_trust(reader: ArchiveReader) -> str | None:
    """The trust line of a campaign on an OpenEvolve or ShinkaEvolve folder (its evaluator ran
    in the candidate's process: docs/bring-your-problem.md); None for our own tasks and for a
    converted folder, whose evaluator runs on the trusted side."""
    started = reader.events("campaign_started", 1)
    root = started[0][2].get("task_root") if started else None
    if root is None:
        return None
    from evaluators.peers.formats import peer_task
    from evaluators.peers.scorer import TRUST

    return TRUST if peer_task(Path(root)) is not None else None


def campaign_label(reader: ArchiveReader) -> str | None:
    """What every output says beside a stored campaign's scores: its test doubles (`label`,
    over every config it has run with) and a peer evaluator's weaker trust."""
    return "; ".join(part for part in (label(configs_of(reader)), peer_trust(reader))
                     if part) or None
