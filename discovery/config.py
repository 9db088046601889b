"""A campaign's configuration: a TOML file validated here, every field overridable from the CLI
(`--set selection.islands=4`), defaults that work with no file at all. The resolved config is
what the archive stores, so a run can always say exactly how it was run.
"""

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from discovery.models.base import ModelSpec
from evaluators.task import validation_message


class ConfigError(Exception):
    """A config the user must fix; one line that names the field and, for a typo, the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Selection(_Section):
    strategy: Literal["weighted", "power_law", "map_elites", "greedy", "whole_archive"] = \
        "weighted"
    lam: float = Field(10.0, gt=0)
    """lambda of the weighted rule sigmoid(lambda * (s - median) / MAD) / (1 + children)."""
    power: float = Field(1.5, gt=0)
    """Exponent of the power_law rule: rank r is drawn with weight r ** -power."""
    pool: int = Field(64, ge=1)
    """How many of an island's best programs selection looks at."""
    archive_context: int = Field(8, ge=1)
    """With whole_archive (ADAS): how many of the archive's best programs the prompt shows."""
    islands: int = Field(2, ge=1)
    migration_every: int = Field(20, ge=0)
    """Every this many iterations an island's best is copied to the next island (0: never)."""
    stagnation: int = Field(40, ge=0)
    """An island whose best has not improved for this many of its iterations is reseeded from
    the global best (0: never)."""


class Edits(_Section):
    repair_turns: int = Field(1, ge=0)
    """How often a failed edit's reason is handed back to the model for another try."""
    novelty_threshold: float = Field(0.995, gt=0, le=1)
    """A proposal this similar (difflib ratio) to one of its island's best programs is refused."""
    novelty_embedding: ModelSpec | None = None
    """An embedding model (as litellm names it, e.g. openai/text-embedding-3-small) to judge
    similarity by cosine of embeddings instead of by text."""
    embedding_threshold: float = Field(0.99, gt=0, le=1)
    reflexion_rounds: int = Field(0, ge=0)
    """ADAS's reflexion: after a valid proposal, this many turns in which the model reviews it
    and may revise it before it is run (each one more model call)."""
    tune_share: float = Field(0.2, ge=0, le=1)
    """Share of iterations that tune the float constants of the parent with CMA-ES (no model
    call)."""
    tune_evaluations: int = Field(8, ge=1)
    """Sandbox evaluations one tuning iteration may spend; its best setting is archived."""
    restart_share: float = Field(0.02, ge=0, le=1)
    """Share of iterations that restart from the seed program (no model call)."""
    scratchpad_every: int = Field(20, ge=0)
    """Every this many iterations a model call distils the archive into a few insights that
    later prompts show (ShinkaEvolve's meta-scratchpad); 0: never."""


class Parallel(_Section):
    """Model calls and evaluations overlap, with no generation barrier: while M programs are in
    the sandbox, N more are being proposed. With 1 and 1, iterations run one after the other and
    a campaign replays exactly from its seed (and recorded model answers)."""

    proposals: int = Field(1, ge=1)
    """Model calls (with their edit checks and repair turns) in flight."""
    evaluations: int = Field(1, ge=1)
    """Sandbox evaluations in flight (the warm worker pool's size)."""


class Budgets(_Section):
    iterations: int | None = Field(40, ge=1)
    wall_s: float | None = Field(None, gt=0)
    tokens: int | None = Field(None, ge=1)
    cost: float | None = Field(None, gt=0)
    target: float | None = None
    """Stop when the best score reaches this."""
    patience: int | None = Field(None, ge=1)
    """Stop after this many iterations without a new best."""


class CampaignConfig(_Section):
    task: str
    name: str | None = None
    runs_dir: str = "runs"
    seed: int = 0
    models: list[ModelSpec] = Field(default_factory=lambda: [ModelSpec()])
    selection: Selection = Selection()
    edits: Edits = Edits()
    budgets: Budgets = Budgets()
    parallel: Parallel = Parallel()
    executor: Literal["warm", "fresh"] = "warm"
    transcript: bool = True
    """Record every model exchange to runs/<name>/transcript.jsonl (what `replay` reads)."""
    replay: str | None = None
    """A transcript to answer every model call from, instead of the models: with one proposer
    and one evaluator, the campaign replays to the same archive."""

    @model_validator(mode="before")
    @classmethod
    def _older_configs(cls, data: Any) -> Any:
        """Archives written before `parallel` existed stored `concurrency`; they still resume."""
        if isinstance(data, dict) and "concurrency" in data:
            data = dict(data)
            n = data.pop("concurrency")
            data.setdefault("parallel", {"proposals": n, "evaluations": n})
        return data


def load_config(task: str | None, path: str | Path | None = None,
                overrides: list[str] = ()) -> CampaignConfig:
    """File values, then `--set` overrides, then validation with helpful errors."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"no config file at {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    if task is not None:
        data["task"] = task
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not KEY=VALUE: e.g. --set selection.islands=4")
        _assign(data, key.strip().split("."), _parse_value(raw.strip()))
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path)) from exc


def _parse_value(raw: str) -> Any:
    """TOML's reading of a bare value (4, 0.5, true, "x", [1, 2]); anything else is a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _assign(data: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        data = data.setdefault(key, {})
        if not isinstance(data, dict):
            raise ConfigError(f"--set {'.'.join(keys)}: {key} is not a section")
    data[keys[-1]] = value


def _explain(exc: ValidationError, path: str | Path | None) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    prefix = f"{path}: " if path else ""
    if first["type"] == "extra_forbidden":
        model: type[BaseModel] = CampaignConfig
        for part in first["loc"][:-1]:
            field = model.model_fields.get(str(part))
            annotation = getattr(field, "annotation", None)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
        close = difflib.get_close_matches(str(first["loc"][-1]), list(model.model_fields), n=1)
        hint = f": did you mean {close[0]!r}?" if close else \
            f": known fields are {', '.join(model.model_fields)}"
        return f"{prefix}unknown field {where!r}{hint}"
    if first["type"] == "missing" and where == "task":
        return f"{prefix}no task: name one, e.g. `discover run circle_packing`"
    return f"{prefix}{validation_message(exc)}"
