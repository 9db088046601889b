"""A campaign's configuration: a TOML file validated here, every field overridable from the CLI
(`--set selection.islands=4`), defaults that work with no file at all. The resolved config is
what the archive stores, so a run can always say exactly how it was run.
"""

import copy
import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from discovery.models.agent import AgentModelConfig
from discovery.models.base import ModelSpec


class ConfigError(Exception):
    """A config the user must fix; one line that names the field and, for a typo, the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Selection(_Section):
    strategy: Literal["weighted", "power_law", "map_elites", "greedy", "whole_archive",
                      "adas", "alma"] = "weighted"
    """How a parent is chosen: weighted (sigmoid of the score over the island's median, fewer
    children first), power_law (by rank), map_elites (uniform over the task's descriptor
    cells), greedy (the island's best), whole_archive (the best, the archive's next best in
    the prompt), adas (ADAS's Meta Agent Search as its authors ran it: no parent, every
    evaluated program of every island in the prompt with its metrics as its fitness, the
    answer always a complete new block, reflexion rounds asking ADAS's interestingness
    questions), alma (ALMA: softmax over sigmoid(score - seed's score) - penalty *
    log1p(children), `alma_parents` distinct parents drawn a step at a time)."""
    lam: float = Field(10.0, gt=0)
    """lambda of the weighted rule sigmoid(lambda * (s - median) / MAD) / (1 + children)."""
    power: float = Field(1.5, gt=0)
    """Exponent of the power_law rule: rank r is drawn with weight r ** -power."""
    alma_visit_penalty: float = Field(0.5, ge=0)
    """With alma: how much each program's visits (children so far) lower its weight."""
    alma_temperature: float = Field(0.5, gt=0)
    """With alma: the softmax temperature over the weights (ALMA's tau: 0.5)."""
    alma_parents: int = Field(5, ge=1)
    """With alma: parents drawn at once, without replacement, for a step (ALMA's
    select_structure maximum_size: 5); each gets one child before the next step's draw."""
    pool: int = Field(64, ge=1)
    """How many of an island's best programs selection looks at."""
    archive_context: int = Field(8, ge=1)
    """With whole_archive (ADAS): how many of the archive's best programs the prompt shows."""
    islands: int = Field(2, ge=1)
    """Sub-populations searched side by side (iteration n works on island n mod islands)."""
    migration_every: int = Field(20, ge=0)
    """Every this many iterations an island's best is copied to the next island (0: never)."""
    stagnation: int = Field(40, ge=0)
    """An island whose best has not improved for this many of its iterations is reseeded from
    the global best (0: never)."""


class Edits(_Section):
    repair_turns: int = Field(1, ge=0)
    """How often a failed edit's reason is handed back to the model for another try."""
    novelty_threshold: float = Field(0.995, gt=0, le=1)
    """A proposal this similar (share of characters in common, 2 * LCS / total: difflib's ratio
    on normal programs) to one of its island's best programs is refused."""
    novelty_embedding: ModelSpec | None = None
    """An embedding model (as litellm names it, e.g. openai/text-embedding-3-small) to judge
    similarity by cosine of embeddings instead of by text."""
    embedding_threshold: float = Field(0.99, gt=0, le=1)
    """With novelty_embedding: a proposal whose cosine similarity to one of its island's best
    programs reaches this is refused."""
    reflexion_rounds: int = Field(0, ge=0)
    """ADAS's reflexion: after a valid proposal, this many turns in which the model reviews it
    and may revise it before it is run (each one more model call)."""
    analysis: bool = False
    """ALMA's analysis step (discovery/loop/analysis.py): before each proposal the model reads
    the parent's code and score, up to 3 of its episodes from each fixed reward bin and 3 of
    its errors (a task's `episodes` metric: the memory tasks give one), and the suggestion
    that produced the parent with the score change it caused; it answers in ALMA's JSON, and
    its labels of the retrieved items and suggested changes go into the proposal prompt (one
    more model call)."""
    debug_turns: int = Field(0, ge=0)
    """ADAS's debug turns: a proposal that crashes, is invalid or times out, or scores 0, goes
    back to its model with the reason, up to this many times, and is run again."""
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


class Prompts(_Section):
    """What the proposal prompt shows besides the parent's code (`[prompts]`)."""

    lineage_depth: int = Field(8, ge=0)
    """How many steps of the parent's ancestry the prompt shows, newest first (the edit, its
    design name or what its diff changed, the score change, stepping stones marked), with the
    parent's children that failed or scored no higher and why; 0: none, and the prompt shows
    only the reasons its recent children failed, as before the lineage was shown."""
    lineage_tokens: int = Field(500, ge=100)
    """Bound on the lineage's length in the prompt, in tokens (counted as characters / 4): the
    oldest steps are left out first, then the oldest children, and the prompt says how many
    steps it left out."""


class PromptEvolution(_Section):
    """Prompt co-evolution (`[prompt_evolution]`, ShinkaEvolve's meta-prompt evolution): the
    builtin proposer's system prompts and edit instructions evolve in an archive of their own,
    each proposal asked with the variant UCB1 picks on the improvement its children made (the
    child's score minus its parent's, over the spread of the archive's scores; a failed child
    or refused edit counts -1). Off: the shipped prompts, exactly as without this section."""

    enabled: bool = False
    """Evolve the prompts (`discover status` and `discover lineage RUN --prompts` show them)."""
    every: int = Field(10, ge=1)
    """Every this many iterations the proposal's model writes a new variant of the most helpful
    one of its kind (diff, rewrite, continue), shown the best variants and their stats."""
    ucb_c: float = Field(1.0, ge=0)
    """UCB1's exploration constant: mean improvement + ucb_c * sqrt(ln N / uses)."""
    max_chars: int = Field(4000, ge=200)
    """A new variant (system prompt and instruction) longer than this is refused."""


SERIAL_LAG = 3
"""The lag at one proposal and one evaluation: each plan three commits behind. With answers and
evaluations of varying length, a short look-ahead cannot hide an answer slower than the
evaluations beside it. On the throughput bench's latencies (`bench/throughput_bench.py --scale
10`, 1x1, shared machine) lag 3 ran at 90.8-91.5% of the wall bound in three runs, lag 2 at
88.3-91.5% (89.6% beside lag 3's 90.8%), lag 1 at 80.9-84.5%, lag 4 at 93.2%, strictly serial at
59-65%; a simulation of the same distributions puts the ceilings at 85.6% (1), 91.7% (2) and
94.1% (3), before the sandbox hand-off (about 15 ms of a 1 s evaluation). 3 is the smallest lag
whose runs all reached the 90% goal; a larger one makes parents staler for a few percent
more."""


class Parallel(_Section):
    """Model calls and evaluations overlap, with no generation barrier: while M programs are in
    the sandbox, N more are being proposed. With a `lag`, the overlap is deterministic and a
    campaign replays exactly from its seed (and recorded model answers), whatever the timing;
    without one, iterations start as slots free and the archive depends on which finished
    first."""

    proposals: int = Field(1, ge=1)
    """Model calls (with their edit checks and repair turns) in flight."""
    evaluations: int = Field(1, ge=1)
    """Sandbox evaluations in flight (the warm worker pool's size)."""
    gpus_per_evaluation: int | None = Field(None, ge=0)
    """GPUs each evaluation slot owns (default: the task's `gpus`, 0 for most): no two slots
    share one, a slot's sandbox sees only its own, and the task's trusted trainer runs on them
    (warm workers pinned per GPU set; Ray slots ask for `num_gpus`). Needs evaluations x this
    many GPUs (`$DISCOVERY_GPUS` lists those a campaign may use: "0,1")."""
    lag: int | None = Field(None, ge=0)
    """Deterministic pipelining: iteration n is planned from the archive as of iteration
    n - 1 - lag's commit, its proposal never sees a later one, and iterations commit in order,
    so a replay or a resume makes the same plans and archive however long each step took. 1
    overlaps the next proposal with the current evaluation; more lets proposals run further
    ahead (up to lag + 1 iterations in flight, proposals one at a time), so a slow answer or a
    quick evaluation idles the sandbox less, each plan that many commits behind; 0 runs
    iterations strictly one after another. An island whose seed copy is not yet committed when
    its plan is made builds on the seed, as it will once the copy lands. Unset: 3 (`SERIAL_LAG`)
    when proposals = evaluations = 1 (0 with selection.strategy = "adas", whose generations
    each see the one before), else no lag (free-running)."""

    def effective_lag(self, serial: bool = False) -> int | None:
        """The lag the loop runs with: the setting, or at one proposal and one evaluation
        `SERIAL_LAG` (0 for a `serial` search, where every plan must see every commit before
        it), or None (free-running) when more slots are set and no lag is asked for."""
        if self.lag is not None:
            return self.lag
        if (self.proposals, self.evaluations) != (1, 1):
            return None
        return 0 if serial else SERIAL_LAG

    def gpus(self, task_default: int) -> int:
        """GPUs per evaluation slot for a task whose task.toml asks `task_default`."""
        return task_default if self.gpus_per_evaluation is None else self.gpus_per_evaluation


class Budgets(_Section):
    iterations: int | None = Field(40, ge=1)
    """Stop after this many iterations (in all, counting those before a resume)."""
    wall_s: float | None = Field(None, gt=0)
    """Stop after this many seconds of this run (a resume starts its own clock)."""
    tokens: int | None = Field(None, ge=1)
    """Stop when the model calls have used this many tokens (in and out)."""
    cost: float | None = Field(None, gt=0)
    """Stop when the model calls have cost this many dollars (litellm's price table, or the
    model's price_in/out_per_mtok)."""
    target: float | None = None
    """Stop when the best score reaches this."""
    patience: int | None = Field(None, ge=1)
    """Stop after this many iterations without a new best."""


class ProposerSettings(_Section):
    """Who proposes the children (`[proposer]`): the built-in proposer, or a proposer program
    (docs/meta.md) between it and the meta models, run in the sandbox."""

    program: str = "builtin"
    """builtin (the default); seed (the built-in as a program: the same archive); a .py file
    (an exported proposer); RUN or RUN:ID (the best program, or program ID, of a
    meta_proposer campaign under runs_dir: `discover run TASK --proposer RUN`); self (a
    meta_proposer campaign's own best program proposes the next: DGM's loop)."""
    model_calls: int = Field(8, ge=1)
    """Meta-model calls a proposer program may make for one request (a proposal, a repair
    turn, a reflexion round); past it each call is refused."""
    evaluations: int = Field(2, ge=0)
    """Drafts a proposer program may score with `tools.evaluate` (the task's first stage) for
    one request."""
    wall_s: float = Field(300.0, gt=0)
    """Seconds a proposer program may take for one request, its model calls included."""


class CampaignConfig(_Section):
    task: str
    """A shipped task by name, or a task folder (`discover run TASK` sets it)."""
    name: str | None = None
    """The run's name, its folder under runs_dir (default: task-date-time)."""
    runs_dir: str = "runs"
    """Where campaigns live, one folder each (`--runs-dir`, `$DISCOVER_RUNS_DIR`)."""
    seed: int = 0
    """Seed of every random choice: iteration n draws from its own stream `seed:n`."""
    models: list[ModelSpec] = Field(default_factory=lambda: [ModelSpec()])
    """The models (`[[models]]` tables); several make a UCB1 ensemble. Default: the embedded
    model, offline."""
    agent_model: AgentModelConfig | None = None
    """The model that candidate programs call themselves (`[agent_model]`: agent and memory
    tasks), apart from the `[[models]]` that propose programs. Default: the task's own
    (`agent_model` in its task.toml), or none."""
    seed_baselines: bool = False
    """Start the archive with the task's baselines (its `baselines/` folder) as well as its
    seed, as ADAS starts from all of its hand-written agents: each is evaluated once, right
    after the seeds, before any model proposal."""
    selection: Selection = Selection()
    """Parent selection and islands (`[selection]`)."""
    edits: Edits = Edits()
    """How proposals are made and checked (`[edits]`)."""
    budgets: Budgets = Budgets()
    """When the campaign stops (`[budgets]`); the first budget reached ends it."""
    parallel: Parallel = Parallel()
    """Model calls and evaluations in flight (`[parallel]`)."""
    prompts: Prompts = Prompts()
    """What proposal prompts show of the parent's lineage (`[prompts]`)."""
    proposer: ProposerSettings = ProposerSettings()
    """The built-in proposer or a proposer program (`[proposer]`, `--proposer`)."""
    prompt_evolution: PromptEvolution = PromptEvolution()
    """Prompt co-evolution (`[prompt_evolution]`): off by default."""
    executor: Literal["warm", "fresh", "ray"] = "warm"
    """warm: fork servers with numpy loaded (needs bubblewrap, else fresh processes); fresh: a
    new sandboxed process per run; ray: `parallel.evaluations` Ray slots, each owning a warm
    worker, on the cluster at `$RAY_ADDRESS` (else a local Ray instance): see ray.md."""
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
    return apply_overrides(data, overrides, path)


def apply_overrides(data: dict[str, Any], overrides: list[str] = (),
                    source: str | Path | None = None) -> CampaignConfig:
    """`data` (a file's values, or a stored config on resume) with `--set KEY=VALUE` overrides,
    validated; errors name `source`."""
    data = copy.deepcopy(data)  # the caller's dict stays as it was
    given: dict[tuple[str, ...], str] = {}
    """Each `--set` by its key path: a bad value in it is blamed on it, not on `source`."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not KEY=VALUE: e.g. --set selection.islands=4")
        keys = tuple(key.strip().split("."))
        _assign(data, list(keys), _parse_value(raw.strip()))
        given[keys] = item
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as exc:
        loc = tuple(str(part) for part in exc.errors()[0]["loc"])
        where = next((f"--set {item}" for keys, item in given.items()
                      if loc[:len(keys)] == keys), source)
        raise ConfigError(explain(exc, CampaignConfig, where)) from exc


def _parse_value(raw: str) -> Any:
    """TOML's reading of a bare value (4, 0.5, true, "x", [1, 2]); anything else is a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _assign(data: dict[str, Any], keys: list[str], value: Any) -> None:
    """Set `value` at the key path: sections by name, list entries (`[[models]]`) by index
    (`models.0.name`; the next index adds an entry). A list that is not given yet starts as its
    default (one model: `models.0.name=X` replaces the embedded model)."""
    where: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(where, list):
            path = ".".join(keys[:depth])
            if not key.isdigit() or int(key) > len(where):
                raise ConfigError(
                    f"--set {'.'.join(keys)}: {path} is a list of {len(where)}: index it from "
                    f"0 ({path}.0.name=X; {path}.{len(where)}.name=X adds one), or write it "
                    f"whole: --set '{path}=[{{name=\"X\"}}, {{name=\"Y\"}}]'")
            if int(key) == len(where):
                where.append({})
            if last:
                where[int(key)] = value
            else:
                where = where[int(key)]
        elif isinstance(where, dict):
            if last:
                where[key] = value
            else:
                if key not in where and depth == 0:
                    listed = _default_list(key)
                    if listed is not None:
                        where[key] = listed
                where = where.setdefault(key, {})
        else:
            raise ConfigError(f"--set {'.'.join(keys)}: {keys[depth - 1]} is not a section")


def _default_list(name: str) -> list[Any] | None:
    """A list field's default as plain data (only what its entries set: an embedded model
    keeps the small model's own defaults), for `--set` to index into; None for other fields."""
    field = CampaignConfig.model_fields.get(name)
    default = field.get_default(call_default_factory=True) if field is not None else None
    if not isinstance(default, list):
        return None
    return [item.model_dump(exclude_unset=True) if isinstance(item, BaseModel) else item
            for item in default]


def explain(exc: ValidationError, root: type[BaseModel], where: str | Path | None) -> str:
    """The first problem as one line: where the value came from (a file, a `--set`), the field
    (`models[0].temperature`) and the fix; for a typo, the closest field of the section it is
    in (a `[[models]]` entry's are ModelSpec's), else that section's fields."""
    first = exc.errors()[0]
    loc = first["loc"]
    field_path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    prefix = f"{where}: " if where else ""
    if first["type"] == "extra_forbidden":
        section = _section(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
        hint = f": did you mean {close[0]!r}?" if close else \
            f": known fields are {', '.join(section.model_fields)}"
        return f"{prefix}unknown field {field_path!r}{hint}"
    if first["type"] == "missing" and loc == ("task",) and root is CampaignConfig:
        return f"{prefix}no task: name one, e.g. `discover run circle_packing`"
    return f"{prefix}{field_path}: {first['msg']}"


def _section(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The model whose fields sit at `loc` (list indexes skipped; `X | None` and `list[X]`
    looked into)."""
    model = root
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = _model_in(field.annotation) if field is not None else None
        if inner is not None:
            model = inner
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for arg in get_args(annotation) if (m := _model_in(arg)) is not None), None)
