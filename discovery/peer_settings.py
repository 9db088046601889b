"""A peer task folder's search settings (OpenEvolve's config.yaml, ShinkaEvolve's evo_config and
db_config) as our campaign settings, where ours has an equivalent, and one line for each of
theirs that has none. The settings come out as `KEY=VALUE` overrides with TOML values: the same
text works as `discover run --set KEY=VALUE` and as a line of a campaign TOML file (dotted keys).

Their models are kept apart from the rest: they need the provider's key and network, so a
campaign run offline leaves them out, and the user opts in."""

import json
from dataclasses import dataclass, field
from typing import Any

from evaluators.peers.formats import PeerFolder

SEARCH_KEYS: dict[str, dict[str, str]] = {
    "openevolve": {
        "max_iterations": "budgets.iterations",
        "random_seed": "seed",
        "database.num_islands": "selection.islands",
        "database.population_size": "selection.pool",
        "database.migration_interval": "selection.migration_every",
        "evaluator.parallel_evaluations": "parallel.evaluations",
        "early_stopping_patience": "budgets.patience",
    },
    "shinka": {
        "evo_config.num_generations": "budgets.iterations",
        "evo_config.max_api_costs": "budgets.cost",
        "db_config.num_islands": "selection.islands",
        "db_config.archive_size": "selection.pool",
        "db_config.migration_interval": "selection.migration_every",
        "db_config.parent_selection_lambda": "selection.lam",
        "max_evaluation_jobs": "parallel.evaluations",
        "runner.max_evaluation_jobs": "parallel.evaluations",
        "max_proposal_jobs": "parallel.proposals",
        "runner.max_proposal_jobs": "parallel.proposals",
        "evo_config.meta_rec_interval": "edits.scratchpad_every",
    },
}
"""Their key (dotted path in their config) -> ours, where the meaning is the same."""

USED_ELSEWHERE: dict[str, dict[str, str]] = {
    "openevolve": {
        "prompt.system_message": "the task description's first paragraph",
        "evaluator.timeout": "the sandbox's wall and CPU limit",
        "evaluator.cascade_evaluation": "the stages (evaluate_stage1, 2, 3)",
        "evaluator.cascade_thresholds": "the stages' thresholds",
    },
    "shinka": {
        "evo_config.task_sys_msg": "the task description's first paragraph",
        "evo_config.init_program_path": "the seed program",
        "job_config.time": "the sandbox's wall and CPU limit",
        "job_config.eval_program_path": "the evaluator",
    },
}

SELECTION = {"weighted": "weighted", "power_law": "power_law"}
"""ShinkaEvolve's parent_selection_strategy -> ours (the weighted rule is the same formula);
its beam_search, best_of_n and sequential have no equivalent and are listed as ignored."""

PATCHES = {"diff": "diff", "full": "rewrite", "cross": "crossover"}
"""ShinkaEvolve's patch types -> our edit kinds."""


@dataclass
class PeerSettings:
    search: list[str] = field(default_factory=list)
    """`KEY=VALUE` overrides of search settings (islands, pool, budgets, parallelism)."""
    models: list[str] = field(default_factory=list)
    """`models=[...]`: their models, with the edit mix (diff vs full rewrite) they asked for."""
    mapped: list[str] = field(default_factory=list)
    """One line per setting of theirs that we use: `their.key = value -> our.key`."""
    ignored: list[str] = field(default_factory=list)
    """One line per setting of theirs (or file of the folder) that nothing here uses."""


def peer_settings(folder: PeerFolder) -> PeerSettings:
    settings = PeerSettings(ignored=list(folder.notes))
    flat = _flatten(folder.config)
    where = folder.config_file or "config"
    ours: dict[str, Any] = {}
    for key, value in flat.items():
        target = SEARCH_KEYS[folder.kind].get(key)
        if key in SELECTION_KEYS and folder.kind == "shinka":
            target = "selection.strategy" if value in SELECTION else None
            value = SELECTION.get(value, value)
        if target is not None and value is not None and not isinstance(value, bool):
            ours[target] = value
            settings.mapped.append(f"{where}: {key} = {_text(value)} -> {target}")
        elif key in USED_ELSEWHERE[folder.kind]:
            settings.mapped.append(f"{where}: {key} -> {USED_ELSEWHERE[folder.kind][key]}")
    settings.search = [f"{key}={toml_value(value)}" for key, value in ours.items()]
    models, used = (_openevolve_models if folder.kind == "openevolve" else _shinka_models)(flat)
    if models:
        settings.models = [f"models={toml_value(models)}"]
        settings.mapped.append(f"{where}: {', '.join(used)} -> models (opt in: "
                               "they need the provider's key)")
    done = {*SEARCH_KEYS[folder.kind], *USED_ELSEWHERE[folder.kind], *used,
            *(key for key in SELECTION_KEYS if flat.get(key) in SELECTION)}
    settings.ignored += [f"{where}: {key} = {_text(value)}: no equivalent here, ignored"
                         for key, value in flat.items() if key not in done]
    return settings


SELECTION_KEYS = ("db_config.parent_selection_strategy",)


def _openevolve_models(flat: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """llm.primary_model / secondary_model (and weights) or llm.models, through the
    OpenAI-compatible api_base; diff_based_evolution picks diffs or full rewrites."""
    names = [(flat.get(f"llm.{which}_model"), flat.get(f"llm.{which}_model_weight", 1.0))
             for which in ("primary", "secondary")]
    listed = flat.get("llm.models")
    if isinstance(listed, list):
        names = [(m.get("name"), m.get("weight", 1.0)) for m in listed if isinstance(m, dict)]
    mix = {"diff": 1.0} if flat.get("diff_based_evolution", True) else {"rewrite": 1.0}
    common = {key: flat[f"llm.{theirs}"] for key, theirs in (
        ("api_base", "api_base"), ("temperature", "temperature"), ("max_tokens", "max_tokens"),
        ("timeout_s", "timeout")) if flat.get(f"llm.{theirs}") is not None}
    models = [{"name": name if "/" in name else f"openai/{name}", "weight": float(weight),
               **common, "edit_mix": mix}
              for name, weight in names if isinstance(name, str) and name and weight]
    used = [k for k in flat if k.startswith("llm.") and k.split(".")[1] in (
        "primary_model", "primary_model_weight", "secondary_model", "secondary_model_weight",
        "models", "api_base", "temperature", "max_tokens", "timeout")]
    return models, [*used, "diff_based_evolution"] if models else []


def _shinka_models(flat: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """evo_config.llm_models with the first of llm_kwargs' temperatures and its max_tokens;
    patch_types and patch_type_probs as the edit mix. Headless CLI agents have no equivalent."""
    names = [n for n in flat.get("evo_config.llm_models") or []
             if isinstance(n, str) and not n.startswith("headless/")]
    types = flat.get("evo_config.patch_types") or ["diff", "full"]
    probs = flat.get("evo_config.patch_type_probs") or [1.0] * len(types)
    mix: dict[str, float] = {}
    for kind, prob in zip(types, probs, strict=False):
        if kind in PATCHES and prob:
            mix[PATCHES[kind]] = mix.get(PATCHES[kind], 0.0) + float(prob)
    kwargs = flat.get("evo_config.llm_kwargs") or {}
    extra = {}
    if isinstance(kwargs.get("temperatures"), list) and kwargs["temperatures"]:
        extra["temperature"] = float(kwargs["temperatures"][0])
    if isinstance(kwargs.get("max_tokens"), int):
        extra["max_tokens"] = kwargs["max_tokens"]
    models = [{"name": name, **extra, **({"edit_mix": mix} if mix else {})} for name in names]
    used = ["evo_config.llm_models", "evo_config.patch_types", "evo_config.patch_type_probs",
            "evo_config.llm_kwargs"]
    return models, [k for k in used if k in flat] if models else []


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys down to values; Shinka's llm_kwargs stays one value (read as a whole)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and name != "evo_config.llm_kwargs":
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _text(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def toml_value(value: Any) -> str:
    """A TOML literal (inline tables for dicts), for `--set` and for campaign files."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML literal for {type(value).__name__}")
