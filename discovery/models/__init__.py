"""Model clients behind one protocol (`base.ModelClient`): any provider through litellm, the
embedded offline model, recorded transcripts, ensembles. `make_client` picks one by the spec's
name; clients are imported only when asked for (litellm takes seconds to import).
"""

import os

from discovery.models.base import EMBEDDED, ModelClient, ModelError, ModelSpec


def make_client(spec: ModelSpec) -> ModelClient:
    if spec.name.startswith("scripted:"):
        from discovery.doubles.scripted import Scripted

        return Scripted(spec, spec.name.removeprefix("scripted:"))
    if spec.name == EMBEDDED:
        from discovery.models.embedded import DEFAULT_SPEC, EmbeddedClient

        # The small model's own defaults (temperature 0.2...) unless the config says otherwise.
        given = {name: getattr(spec, name) for name in spec.model_fields_set}
        return EmbeddedClient(DEFAULT_SPEC.model_copy(update=given))
    from discovery.models.litellm_client import LiteLLMClient

    return LiteLLMClient(spec)


def load_specs(path: str | os.PathLike | None) -> list[ModelSpec]:
    """The `[[models]]` of a TOML file (a campaign config or a models file); none: embedded."""
    if path is None:
        return [ModelSpec()]
    import tomllib

    from pydantic import ValidationError

    from evaluators.task import validation_message

    try:
        with open(path, "rb") as f:
            entries = tomllib.load(f).get("models", [])
        return [ModelSpec.model_validate(e) for e in entries] or [ModelSpec()]
    except FileNotFoundError as exc:
        raise ModelError(f"no config file at {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ModelError(f"{path}: models entry: {validation_message(exc)}") from exc
