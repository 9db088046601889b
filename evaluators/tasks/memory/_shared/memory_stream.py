"""ALMA's task stream, and the oracle that plays it against a memory in the sandbox (trusted).

The protocol (ALMA's code): shuffle the tasks with a fixed seed; the first half is the
collection phase, where each task runs once with an empty retrieval and the memory's
`general_update` sees each finished episode; the second half is deployment, where every task
runs `repeats` (3) times with `general_retrieve` before each episode. Two settings of ALMA's
experiments: `collection` (how many of the first half's tasks are collected; all by default)
and `deploy_tasks` (the distribution-shift test: collect on one task set, deploy on another;
`collection` may then take up to all of the first set). In batched mode (search,
in-distribution checks) deployment does not update the memory. In sequential mode (held-out)
each of `repeats` independent copies of the collected memory is updated after each of its
deployment episodes, in order; a stream plays ONE copy (`copy`), and each copy is a case of
its own, so a sandbox run of its own: copies that lived in one sandbox, even in forked
processes, could pass notes through /dev/shm, /tmp, /scratch or memory shared before the fork
(an attack read 22 of its siblings' episodes that way), and the program, which holds the loop's
process, need not even fork them. A fresh sandbox per copy shares nothing with its siblings.

The stream is a generator that reads top to bottom: it yields commands for the memory
(`update`, `retrieve`) and receives what the memory answered to each (the retrieved dict;
None otherwise); it plays every episode itself, on this side, with the domain's `play`.
`StreamOracle` is the channel's end: the candidate's loop (memory_loop.run) asks it for the next
command with the answer to the last one. A candidate's fault (a retrieval that is not a dict or
is too large, malformed hints, hints that cost the agent more work than an episode may) stops
the stream with the reason, which the scorer records. A memory method that raises costs only
its episode (ALMA's loop): memory_loop reports it (`["failed", text]`), the stream receives a
`MemoryFailure`, scores a failed retrieval's episode 0 without playing it, and records every
error (`StreamResult.errors`, shown in the metrics and to the analysis).

Score: the mean over the repeat groups of each group's mean deployment reward, with its
standard error over the groups (over the episodes for a single copy); the no-memory baseline is
the same stream played with empty retrievals (trusted code, never the candidate's word), and
the gain is paired by group (by episode for a single copy).
"""

import json
import math
import random
import statistics
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from memory_loop import MAX_ERROR_CHARS, run
from memory_recorder import Recorder

from evaluators.agent_model import AgentModel, AgentModelError, serve, serve_embed
from evaluators.scoring import InvalidOutput

MAX_RETRIEVED_KB = 64
"""A retrieval is a prompt's worth of hints, not a copy of the memory."""

Mode = Literal["batched", "sequential"]
REWARD_BINS = ((0.0, 0.33), (0.33, 0.66), (0.66, 1.0))
"""ALMA's reward bins for the analysis step's sample."""
MAX_SHOWN = 600
"""Characters of a retrieval or an initial observation the analysis sample shows."""
MAX_STEP_OBS = 120
"""Characters of each step's observation the analysis sample shows."""
MAX_EPISODE_CHARS = 2400
"""Characters of JSON one sampled episode takes at most: steps past it are left out from the
middle (the first and last kept, their number said), so a case's sample stays a prompt's
worth in the archive and in the analysis prompt."""
Command = dict[str, Any]


@dataclass(frozen=True)
class MemoryFailure:
    """What the stream receives in place of an answer when the memory's method raised."""

    error: str


@dataclass
class StreamResult:
    collection: list[float] = field(default_factory=list)
    """Reward of each collection episode (no memory yet: the same for every candidate)."""
    groups: list[list[float]] = field(default_factory=list)
    """Per repeat, the reward of each deployment episode, in stream order."""
    steps: list[int] = field(default_factory=list)
    """Steps taken in each deployment episode."""
    episodes: list[dict[str, Any]] = field(default_factory=list)
    """Each deployment episode that was played, as ALMA's examples show it (`_episode`): what
    ALMA's analysis step shows the meta agent (`episodes_text`). An episode whose retrieval
    raised is not here (ALMA keeps failed tasks out of the reward bins): its error is."""
    errors: list[str] = field(default_factory=list)
    """Each call of the memory that raised: which call, in which phase, and the error."""
    seed: int = 0
    """Draws the analysis's sample (`episodes_text`): the same stream shows the same."""

    def episodes_text(self, per_bin: int = 3) -> str:
        """ALMA's analysis sample (evals/launch.py get_meta_eval_info, get_json): up to
        `per_bin` played deployment episodes drawn at random from each fixed reward bin
        (0-0.33, 0.33-0.66, 0.66-1), then up to `per_bin` of the memory's errors as ALMA's
        error examples (`error_info`, `final_reward` 0); one JSON object a line."""
        rng = random.Random(self.seed)
        lines = []
        for low, high in REWARD_BINS:
            members = [e for e in self.episodes if low <= e["final_reward"] < high
                       or (high == 1.0 and e["final_reward"] == 1.0)]
            lines += [json.dumps(episode, default=str)
                      for episode in rng.sample(members, min(per_bin, len(members)))]
        lines += [json.dumps({"error_info": error, "final_reward": 0.0})
                  for error in rng.sample(self.errors, min(per_bin, len(self.errors)))]
        return "\n".join(lines)

    def units(self) -> list[list[float]]:
        """What a standard error is taken over: the repeat groups, or the episodes one by one
        of a stream that plays one group (a sequential copy)."""
        return self.groups if len(self.groups) > 1 else [[reward] for reward in self.groups[0]]

    def mean_and_se(self) -> tuple[float, float]:
        return mean_and_se([statistics.fmean(unit) for unit in self.units()])


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return statistics.fmean(values), se


def split(tasks: Sequence[Any], seed: int) -> tuple[list[Any], list[Any]]:
    """ALMA's split: the tasks shuffled with `seed`, the first half to collect on, the second
    to deploy on."""
    order = list(tasks)
    random.Random(seed).shuffle(order)
    return order[:len(order) // 2], order[len(order) // 2:]


def alma_stream(tasks: Sequence[Any], opening: Callable[[Any], Recorder],
                play: Callable[[Any, dict, int], Recorder], *, mode: Mode, seed: int,
                repeats: int = 3, copy: int = 0, collection: int | None = None,
                deploy_tasks: Sequence[Any] | None = None
                ) -> Generator[Command, Any, StreamResult]:
    """`opening(task)`: the recorder of an episode not yet played (initial observation, goal);
    `play(task, retrieved, repeat)`: the finished episode's recorder. Batched: every repeat
    of every deployment task, one memory, no updates; sequential: copy `copy` alone (its
    repeat number), updated after each of its episodes. `collection`: the first that many
    collection tasks (None: as many as the first half); `deploy_tasks`: deploy on these,
    collect on all of `tasks`."""
    collect, deploy = split(tasks, seed)
    limit = len(collect) if collection is None else collection
    if deploy_tasks is not None:  # the whole of the collection set is free to collect on
        collect, deploy = [*collect, *deploy], list(deploy_tasks)
    if not 0 <= limit <= len(collect):
        raise ValueError(f"collection is 0 to {len(collect)} tasks here, not {limit}")
    collect = collect[:limit]
    sequential = mode == "sequential"
    played = [copy] if sequential else list(range(repeats))
    result = StreamResult(groups=[[] for _ in played], seed=seed)
    for task in collect:
        recorder = play(task, {}, 0)
        result.collection.append(recorder.reward)
        answer = yield {"kind": "update", "recorder": recorder.plain()}
        _note_failure(result, answer, "collection", "general_update", recorder)
    for task in deploy:
        for group, repeat in zip(result.groups, played, strict=True):
            start = opening(task)
            retrieved = yield {"kind": "retrieve", "recorder": start.plain()}
            if _note_failure(result, retrieved, "deployment", "general_retrieve", start):
                recorder = start  # not played: scored 0, its error among result.errors
            else:
                recorder = play(task, retrieved, repeat)
                result.episodes.append(_episode(recorder, retrieved))
            group.append(recorder.reward)
            result.steps.append(len(recorder.steps))
            if sequential:
                answer = yield {"kind": "update", "recorder": recorder.plain()}
                _note_failure(result, answer, "deployment", "general_update", recorder)
    return result


def _note_failure(result: StreamResult, answer: Any, phase: str, call: str,
                  recorder: Recorder) -> bool:
    """Whether the memory's `call` raised (`answer` a MemoryFailure); if so, the error is
    recorded with the episode's goal."""
    if not isinstance(answer, MemoryFailure):
        return False
    result.errors.append(f"{call} raised in {phase} (goal: {recorder.goal}): {answer.error}")
    return True


def _episode(recorder: Recorder, retrieved: dict) -> dict[str, Any]:
    """One deployment episode as ALMA's examples show it (evals/launch.py get_json): the
    initial environment (goal and observation), what the memory retrieved, the steps (action,
    observation, reward) and the final reward; long values cut (MAX_SHOWN, MAX_STEP_OBS) and
    the whole within MAX_EPISODE_CHARS (`_fit`)."""
    hints = _shown(retrieved, MAX_SHOWN)
    return _fit({"init_environment": {"goal": recorder.goal,
                                      "obs": _shown(recorder.obs, MAX_SHOWN)},
                 "memo_retrieved": retrieved if len(hints) <= MAX_SHOWN else hints,
                 "steps": [{"action": str(step.action), "obs": _shown(step.obs, MAX_STEP_OBS),
                            "reward": step.reward} for step in recorder.steps],
                 "final_reward": recorder.reward})


def _shown(value: Any, limit: int) -> str:
    """`value` as JSON text (a string as it is), cut at `limit` characters with "..."."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _fit(episode: dict[str, Any]) -> dict[str, Any]:
    """The episode within MAX_EPISODE_CHARS of JSON: steps left out from the middle (one
    marker saying how many), the first and last ones kept in equal numbers."""
    steps = episode["steps"]
    sizes = [len(json.dumps(step, default=str)) + 2 for step in steps]
    room = MAX_EPISODE_CHARS - (len(json.dumps({**episode, "steps": []}, default=str)) + 40)
    if sum(sizes) <= room:
        return episode
    keep = 0
    while keep < len(steps) // 2 and sum(sizes[:keep + 1]) + sum(sizes[-keep - 1:]) <= room:
        keep += 1
    left_out = {"left_out": f"{len(steps) - 2 * keep} steps"}
    return {**episode, "steps": [*steps[:keep], left_out, *steps[len(steps) - keep:]]}


class StreamOracle:
    """Serves the candidate's loop: `["next", answer]` -> the next command (`{"kind": "done"}`
    at the end); `["failed", error]` -> the same, the memory having raised on the last command
    (that episode's loss, memory_loop.py); `["model", messages, temperature]` -> the agent
    model's reply (checked and budgeted by agent_model.serve); `["embed", texts]` -> one
    vector per text (agent_model.serve_embed: the request and the vectors checked, the same
    budgets). A refused call raises in the memory (that episode's loss). Any other request is
    refused with a ValueError, handed back to the candidate. What the candidate's answers cause in
    the stream (the retrieval's checks in `_answer`, the hints' in the agent, the agent's
    search allowance) is its failure (`failure`, InvalidOutput for the scorer); only the
    stream's own bugs are `error`."""

    def __init__(self, stream: Generator[Command, Any, StreamResult],
                 model: AgentModel | None = None):
        self.stream, self.model = stream, model
        self.command: Command | None = None
        """The last command sent, whose answer comes with the next request."""
        self.result: StreamResult | None = None
        self.failure: str | None = None
        """Why the stream stopped early: the candidate's fault, recorded by the scorer."""
        self.error: Exception | None = None
        """The stream's own exception (a bug of the task), raised again by the scorer: it must
        stop the campaign, not reach the candidate as if the candidate had failed."""
        self.retrieved_bytes: list[int] = []
        self.sent = 0
        """Commands sent so far."""
        self.model_calls = 0
        """The memory's model and embed requests, refused ones included."""

    @property
    def done(self) -> bool:
        return self.result is not None or self.failure is not None or self.error is not None

    def __call__(self, request: Any) -> Any:
        if isinstance(request, list) and len(request) == 3 and request[0] == "model":
            self.model_calls += 1
            return serve(self.model, request[1], request[2])
        if isinstance(request, list) and len(request) == 2 and request[0] == "embed":
            self.model_calls += 1
            return serve_embed(self.model, request[1])
        if not (isinstance(request, list) and len(request) == 2
                and request[0] in ("next", "failed")):
            raise ValueError("ask stream('next', answer), stream('failed', error), "
                             "stream('model', messages, temperature) or stream('embed', texts)")
        if self.done:
            raise ValueError("the stream is over")
        try:
            answer = MemoryFailure(str(request[1])[:MAX_ERROR_CHARS]) \
                if request[0] == "failed" else request[1]
            command = next(self.stream) if self.command is None \
                else self.stream.send(self._answer(answer))
        except StopIteration as stop:
            self.result = stop.value
            return {"kind": "done"}
        except InvalidOutput as exc:
            self.failure = str(exc)
            return {"kind": "done"}
        except AgentModelError as exc:  # the LLM agent's call refused: budget spent, say
            self.failure = f"the agent model refused a call of the agent: {exc}"
            return {"kind": "done"}
        except Exception as exc:
            self.error = exc
            return {"kind": "done"}
        self.command = command
        self.sent += 1
        return command

    def _answer(self, answer: Any) -> Any:
        """What the stream is sent for the candidate's answer to the last command: None after
        an update (whatever came back), else the retrieval, once it holds the invariants the
        agents assume of it: a dict (of plain data: it came over the harness channel as
        JSON), at most MAX_RETRIEVED_KB kB as JSON (so its hints and the LLM agent's prompt
        stay a prompt's worth). The hints inside are the agent's to
        read (grid_agent.read_hints, textworld_agent.read_hints); any violation is the
        memory's (InvalidOutput, which stops the stream with the reason)."""
        if isinstance(answer, MemoryFailure):
            return answer
        if self.command["kind"] != "retrieve":
            return None
        if not isinstance(answer, dict):
            raise InvalidOutput(f"general_retrieve returned {type(answer).__name__}, not a dict")
        size = len(json.dumps(answer))
        if not size <= MAX_RETRIEVED_KB * 1024:
            raise InvalidOutput(f"general_retrieve returned {size / 1024:.0f} kB of JSON (at "
                                f"most {MAX_RETRIEVED_KB} kB: retrieve what helps the next "
                                "episode, not the whole memory)")
        self.retrieved_bytes.append(size)
        return answer


class NoMemory:
    """The baseline every score is compared with: remembers nothing."""

    def general_update(self, recorder: dict) -> None:
        pass

    def general_retrieve(self, recorder: dict) -> dict:
        return {}


def play_in_process(stream: Generator[Command, Any, StreamResult], memory_class: type,
                    model: AgentModel | None = None) -> StreamOracle:
    """The stream against `memory_class` in this process, every message through JSON as in
    the sandbox: the no-memory baseline (trusted code), and benches and tests of trusted
    memories."""
    oracle = StreamOracle(stream, model)
    run(memory_class, lambda *args: json.loads(json.dumps(oracle(json.loads(json.dumps(args))))))
    if oracle.error is not None:
        raise oracle.error
    return oracle
