"""What the grid-world memory tasks' scorers share (trusted): a case's secret read into a
dataclass, its stream (worlds from the case's domain, tasks, the case's agent), the no-memory
baseline, and the metrics. A task's scorer.py names its case type (its defaults: which domain
it searches on) and its worlds:

    SCORER = GridScorer(MyCase, grid_worlds)
    prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score

The grid domains share one engine, so a memory searched on one can be held out on another:
`scatter` (walled squares with scattered wall segments, gridworld.make_world), `rooms` (3x3
rooms joined by doors, gridworld.make_rooms_world) and `babyai` (BabyAI levels from minigrid,
babyai_worlds.babyai_world).
"""

import statistics
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_args, get_origin

from babyai_worlds import LevelEpisode, babyai_world
from grid_agent import ScriptedAgent, read_hints
from grid_llm_agent import LLMAgent
from gridworld import Episode, GridTask, World, make_rooms_world, make_tasks, make_world
from memory_recorder import Recorder
from memory_stream import (
    Mode,
    NoMemory,
    StreamOracle,
    StreamResult,
    alma_stream,
    mean_and_se,
    play_in_process,
    split,
)

from evaluators.agent_model import AgentModel
from evaluators.scoring import InvalidOutput, Metrics


@dataclass(frozen=True)
class StreamCase:
    """The keys of a case's `secret` that every grid-world memory task takes."""

    seed: int
    """Seeds the worlds, the tasks and the stream's shuffle."""
    worlds: int = 6
    tasks_per_world: int = 20
    radius: int = 2
    """The agent sees the cells within this Chebyshev distance."""
    budget: int = 44
    """Steps per episode."""
    mode: Mode = "batched"
    repeats: int = 3
    """Deployment episodes per task (batched); independent copies of the memory (sequential)."""
    copy: int = 0
    """Sequential mode: the one copy this case plays (0 to repeats - 1, its repeat number, so
    its agent's seeds). Each copy is a case of its own: a sandbox run of its own, where no
    sibling copy can leave it a note (memory_stream.py)."""
    agent: Literal["auto", "scripted", "llm"] = "auto"
    """Who plays the episodes: the LLM agent (the evaluation's agent model, with the retrieved
    dict in its prompt, as in ALMA), or the scripted agent, the offline, model-free setting
    (reads the hint schema; fast, deterministic). `auto`: the LLM agent wherever the
    evaluation has an agent model, else the scripted one."""
    collection: int = -1
    """How many tasks the collection phase shows the memory (-1: ALMA's, the first half of
    the shuffled tasks; at most that, or every task of the set with `deploy_seed`)."""
    deploy_seed: int = -1
    """ALMA's distribution-shift test (-1: off): collect on this case's tasks, deploy on the
    deployment half of the case with `seed = deploy_seed` (other worlds, same settings), so
    the shifted score compares with that case's own in-distribution score."""
    probe: bool = False
    """ALMA's examination of new code (core/meta_agent.py examine_new_code): a memory that
    raises on any call in this case fails it (invalid, its first errors in the reason), so
    the evaluation stops before the full stages and a campaign's debug turns
    (`edits.debug_turns`) hand the errors back to the model to fix. The memory tasks' smoke
    case is their probe; elsewhere a raise costs only its episode."""


@dataclass(frozen=True)
class GridCase(StreamCase):
    """The keys of the grid domains' cases: which domain, and its generator's settings."""

    domain: Literal["scatter", "rooms", "babyai"] = "scatter"
    size: int = 19
    """Side of each world, border walls included (scatter and rooms)."""
    items: int = 12
    """Named items per world (scatter and rooms)."""
    walls: float = 0.25
    """Share of the interior that is wall (scatter)."""
    level: str = "GoTo"
    """A level of minigrid.envs.babyai with a square grid and several distinct objects
    (babyai)."""
    dynamics: Literal["grid", "minigrid"] = "grid"
    """How episodes run: on the grid engine (four moves, doors open, reward on the item's
    cell), or in the real minigrid level (babyai only: turns and door toggles are steps,
    objects block, done when facing the goal object)."""

    def __post_init__(self) -> None:
        if self.dynamics == "minigrid" and self.domain != "babyai":
            raise ValueError(f"dynamics = \"minigrid\" plays BabyAI levels: a {self.domain} "
                             "case takes dynamics = \"grid\"")


def grid_worlds(case: GridCase) -> list[World]:
    """The case's worlds: world i is generated from seed * 1000 + i."""
    seeds = [case.seed * 1000 + i for i in range(case.worlds)]
    if case.domain == "scatter":
        return [make_world(f"w{i}", seed, case.size, case.items, case.walls)
                for i, seed in enumerate(seeds)]
    if case.domain == "rooms":
        return [make_rooms_world(f"w{i}", seed, case.size, case.items)
                for i, seed in enumerate(seeds)]
    return [babyai_world(f"w{i}", case.level, seed) for i, seed in enumerate(seeds)]


class GridScorer:
    def __init__(self, case_type: type[StreamCase],
                 make_worlds: Callable[[StreamCase], list[World]]):
        self.case_type, self.make_worlds = case_type, make_worlds
        self.no_memory_results: dict[tuple[StreamCase, bool], StreamResult] = {}

    def case(self, secret: dict) -> StreamCase:
        """A case's secret, checked: a wrong key or value is the task author's to fix."""
        known = {f.name for f in fields(self.case_type)}
        unknown = sorted(set(secret) - known)
        if unknown or "seed" not in secret:
            raise ValueError(f"a case's secret takes {', '.join(sorted(known))} (seed "
                             f"required); got {', '.join(unknown) or 'no seed'}")
        case = self.case_type(**secret)
        for field in fields(case):
            value = getattr(case, field.name)
            if get_origin(field.type) is Literal and value not in get_args(field.type):
                raise ValueError(f"a case's {field.name} is one of "
                                 f"{', '.join(get_args(field.type))}, not {value!r}")
        tasks = case.worlds * case.tasks_per_world
        most = tasks if case.deploy_seed >= 0 else tasks // 2
        if not -1 <= case.collection <= most:
            raise ValueError(f"a case's collection is 0 to {most} tasks here (-1: ALMA's, the "
                             f"first half), not {case.collection}")
        last = case.repeats - 1 if case.mode == "sequential" else 0
        if not 0 <= case.copy <= last:
            raise ValueError(f"a {case.mode} case's copy is 0 to {last}, not {case.copy}: in "
                             "sequential mode each copy is a case of its own")
        return case

    @staticmethod
    def llm_plays(case: StreamCase, model: AgentModel | None) -> bool:
        """Whether the LLM agent plays this case's episodes (a case that asks for it and has
        no model is the task's error: it says what to give)."""
        if case.agent == "llm" and model is None:
            raise ValueError("this case's agent is the LLM agent (agent = \"llm\") and the "
                             "evaluation has no agent model: give one ([agent_model] in the "
                             "campaign config, --agent-model for discover eval) or use agent = "
                             "\"scripted\"")
        return case.agent == "llm" or (case.agent == "auto" and model is not None)

    def tasks(self, case: StreamCase) -> list[GridTask]:
        return make_tasks(self.make_worlds(case), case.tasks_per_world, case.seed)

    def stream(self, case: GridCase, model: AgentModel | None = None):
        """The case's stream, its episodes played by the case's agent (TextWorldScorer has
        its own)."""
        llm = self.llm_plays(case, model)
        episode = LevelEpisode if case.dynamics == "minigrid" else Episode

        def play(task: GridTask, retrieved: dict, repeat: int):
            hints, seed = read_hints(retrieved), f"{task.key}-{repeat}"
            agent = ScriptedAgent(task.target, hints, seed) if not llm \
                else LLMAgent(model, task.goal, task.target, retrieved, hints, seed)
            return episode(task, case.radius, case.budget).play(agent)

        return self.alma(case, lambda task: episode(task, case.radius, case.budget).opening(),
                         play)

    def alma(self, case: StreamCase, opening: Callable[[Any], Recorder],
             play: Callable[[Any, dict, int], Recorder]):
        """ALMA's stream of the case's tasks, in the case's mode, copy and repeats."""
        deploy = None if case.deploy_seed < 0 else \
            split(self.tasks(replace(case, seed=case.deploy_seed)), case.deploy_seed)[1]
        return alma_stream(self.tasks(case), opening, play, mode=case.mode, seed=case.seed,
                           repeats=case.repeats, copy=case.copy,
                           collection=None if case.collection < 0 else case.collection,
                           deploy_tasks=deploy)

    def no_memory(self, case: StreamCase, model: AgentModel | None = None) -> StreamResult:
        """The same stream with empty retrievals, computed once per case and process: the
        scripted agent plays it the same way every time; for the LLM agent, the first
        evaluation's model plays it (its calls count in that evaluation's budget)."""
        key = (case, self.llm_plays(case, model))
        if key not in self.no_memory_results:
            oracle = play_in_process(self.stream(case, model), NoMemory, model)
            if oracle.result is None:
                raise InvalidOutput(f"the no-memory baseline stopped: {oracle.failure}")
            self.no_memory_results[key] = oracle.result
        return self.no_memory_results[key]

    def prepare(self, stages) -> None:
        for stage in stages:
            for config in stage.cases:
                self.make_worlds(self.case(config.secret))

    def oracle(self, stage, case) -> StreamOracle:
        return StreamOracle(self.stream(self.case(case.secret), case.model), case.model)

    def score(self, stage, case, outputs, oracle: StreamOracle) -> Metrics:
        """The metrics of a stream the candidate's memory saw to its end. The candidate's
        outputs are never read (the stream's own episodes are scored); what its answers did
        was checked as they came (StreamOracle._answer, the agent's hints and search
        allowance): a stream stopped by them, or left unfinished, is InvalidOutput."""
        if oracle.error is not None:
            raise oracle.error
        if oracle.failure is not None:
            raise InvalidOutput(oracle.failure)
        if oracle.result is None:
            raise InvalidOutput(f"the program stopped the stream after {oracle.sent} commands, "
                                "before its end")
        stream_case = self.case(case.secret)
        if stream_case.probe and oracle.result.errors:
            raise InvalidOutput(probe_failure(oracle.result.errors))
        return stream_metrics(oracle.result, self.no_memory(stream_case, case.model),
                              oracle.retrieved_bytes, oracle.model_calls)


def probe_failure(errors: list[str], shown: int = 3) -> str:
    """Why a probe case failed: how many calls of the memory raised, and the first `shown`
    errors (each at most memory_loop.MAX_ERROR_CHARS), for the model's debug turn."""
    more = f" (and {len(errors) - shown} more)" if len(errors) > shown else ""
    return (f"the memory raised on {len(errors)} of its calls in the probe, a few tasks run "
            f"before the full evaluation; fix these errors{more}: " + " | ".join(errors[:shown]))


def stream_metrics(result: StreamResult, baseline: StreamResult, retrieved_bytes: list[int],
                   model_calls: int) -> Metrics:
    """Score: the mean deployment reward (over repeat groups); the gain over no memory is
    paired by group (by episode for a sequential copy), so the agent's luck on a group
    cancels out. `memory_errors`: the calls of the memory that raised (each failed retrieval's
    episode scored 0; the first errors are in `episodes`, for the analysis). Every reward is
    the trusted episode's (0 or 1), never the candidate's word,
    and the two streams are the same case's, so their groups pair one to one (zip strict):
    a mismatch is the task's bug."""
    reward, reward_se = result.mean_and_se()
    gain, gain_se = mean_and_se([statistics.fmean(ours) - statistics.fmean(theirs) for
                                 ours, theirs in zip(result.units(), baseline.units(),
                                                     strict=True)])
    return Metrics(reward, {
        "reward": reward, "reward_se": reward_se, "no_memory": baseline.mean_and_se()[0],
        "gain": gain, "gain_se": gain_se, "steps": statistics.fmean(result.steps),
        "retrieved_kb": statistics.fmean(retrieved_bytes) / 1024 if retrieved_bytes else 0.0,
        "episodes": result.episodes_text(), "memory_errors": len(result.errors),
    }, {"collection_reward": statistics.fmean(result.collection) if result.collection else 0.0,
        "model_calls": model_calls})
