"""Model clients behind one protocol (`base.ModelClient`): any provider through litellm, the
embedded offline model, recorded transcripts, ensembles. `make_client` picks one by the spec's
name; clients are imported only when asked for (litellm takes seconds to import).
"""

import os
from typing import TYPE_CHECKING

from discovery.models.base import EMBEDDED, ModelClient, ModelError, ModelSpec

if TYPE_CHECKING:
    from discovery.models.agent import AgentModelConfig, AgentModels

SIMULATOR = "simulator"
"""The agent-model simulator (discovery/doubles/simulator.py): a test double for CI."""


def make_client(spec: ModelSpec) -> ModelClient:
    if spec.name.startswith("scripted:"):
        from discovery.doubles.scripted import Scripted

        return Scripted(spec, spec.name.removeprefix("scripted:"))
    if spec.name == SIMULATOR:
        from discovery.doubles.simulator import Simulator

        return Simulator(spec)
    if spec.name == EMBEDDED:
        from discovery.models.embedded import EmbeddedClient

        return EmbeddedClient(resolve(spec))
    from discovery.models.litellm_client import LiteLLMClient

    return LiteLLMClient(spec)


def agent_models(config: "AgentModelConfig") -> "AgentModels":
    """Agent models for `discover eval` and benches: the client made here, no transcript."""
    from discovery.models.agent import AgentModels, resolve_agent

    config = resolve_agent(config)
    return AgentModels(config, make_client(config))


def resolve(spec: ModelSpec) -> ModelSpec:
    """The spec as its client runs it: for the embedded model, the small model's own defaults
    (temperature 0.7, short answers, rewrites only) for every field the config did not set.

    A campaign stores this, never the spec as written: once stored as JSON every field counts
    as set, so an unresolved spec would resume with the generic defaults (2048 tokens, diff
    prompts the small model cannot answer). Resolving twice changes nothing.
    """
    if spec.name != EMBEDDED:
        return spec
    from discovery.models.embedded import DEFAULT_SPEC

    given = {name: getattr(spec, name) for name in spec.model_fields_set}
    return DEFAULT_SPEC.model_copy(update=given)


def load_specs(path: str | os.PathLike | None) -> list[ModelSpec]:
    """The `[[models]]` of a TOML file (a campaign config or a models file); none: embedded."""
    if path is None:
        return [ModelSpec()]
    import tomllib

    from pydantic import ValidationError

    from discovery.config import explain

    try:
        with open(path, "rb") as f:
            entries = tomllib.load(f).get("models", [])
    except FileNotFoundError as exc:
        raise ModelError(f"no config file at {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path} is not valid TOML: {exc}") from exc
    specs = []
    for number, entry in enumerate(entries, 1):
        try:
            specs.append(ModelSpec.model_validate(entry))
        except ValidationError as exc:
            raise ModelError(explain(exc, ModelSpec, f"{path}: [[models]] entry {number}")) \
                from exc
    return specs or [ModelSpec()]
