"""The grid-world memory task: worlds, the scripted agent and its hints, ALMA's stream protocol
(counts, batched and sequential, a sandbox run per sequential copy), the agent's search
allowance, memories that misbehave or try to cheat,
and the seed and baselines through the sandbox with warm workers."""

import json
import os
import sys
from collections import deque
from typing import ClassVar

import pytest
from helpers import discover
from memory_helpers import baseline, memory_class, program, smoke

from archive import ArchiveReader
from discovery.search.edits import block_text
from evaluators.scoring import InvalidOutput
from evaluators.task import Case, TaskError, load_task
from evaluators.workers import WorkerPool

TASK = load_task("gridworld_memory")
SCORER = TASK.scorer.SCORER
from grid_agent import ScriptedAgent, read_hints  # noqa: E402
from gridworld import MOVES, Episode, make_rooms_world, make_tasks, make_world  # noqa: E402
from memory_recorder import Recorder  # noqa: E402
from memory_stream import NoMemory, alma_stream, play_in_process  # noqa: E402


def shortest_path(world, start, goal) -> list[str]:
    """Moves of a shortest path through the true world (breadth-first)."""
    came = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for move, (dx, dy) in MOVES.items():
            near = (cell[0] + dx, cell[1] + dy)
            if world.free(near) and near not in came:
                came[near] = (cell, move)
                queue.append(near)
    moves = []
    while came[goal] is not None:
        goal, move = came[goal]
        moves.append(move)
    return moves[::-1]


def test_worlds_and_tasks_are_determined_by_their_seeds():
    a, b = (make_world("w0", 7, 19, 12, 0.25) for _ in range(2))
    assert a == b and a.items == b.items
    assert make_world("w0", 8, 19, 12, 0.25).walls != a.walls
    assert make_tasks([a], 10, 3) == make_tasks([b], 10, 3)
    for cell in a.items.values():  # every item is reachable from every start
        for task in make_tasks([a], 10, 3):
            assert shortest_path(a, task.start, cell) or task.start == cell


def test_a_rooms_world_is_rooms_joined_by_one_door_each_with_every_item_reachable():
    """The held-out domain never searched on: 3x3 rooms, a door between neighbouring rooms
    (12 doors), every item reachable from every start through them."""
    world = make_rooms_world("w0", 4, 19, 12)
    assert world == make_rooms_world("w0", 4, 19, 12) != make_rooms_world("w0", 5, 19, 12)
    assert len(world.doors) == 12 and not world.doors & world.walls
    assert all(x in (0, 6, 12, 18) or y in (0, 6, 12, 18) for x, y in world.doors)
    assert len(world.items) == 12
    for task in make_tasks([world], 10, 3):
        assert task.start not in world.doors
        assert shortest_path(world, task.start, world.items[task.target])
    held_out = {case.name: case.secret for case in TASK.config.held_out.cases}
    assert SCORER.case(held_out["rooms104"]).domain == "rooms"


WORLD = make_world("w0", 5, 19, 12, 0.25)
FAR = max(make_tasks([WORLD], 20, 5), key=lambda task: len(shortest_path(
    WORLD, task.start, WORLD.items[task.target])))
"""The task of this world whose item is farthest from its start."""


def episode_with(retrieved: dict) -> Recorder:
    agent = ScriptedAgent(FAR.target, read_hints(retrieved), "t")
    return Episode(FAR, 2, 200).play(agent)


def test_the_scripted_agent_follows_its_hints():
    world, start = WORLD, FAR.start
    truth = shortest_path(world, start, world.items[FAR.target])
    alone = episode_with({})
    assert alone.reward == 1 and len(alone.steps) > len(truth)
    planned = episode_with({"plan": truth})
    assert [s.action for s in planned.steps] == truth and planned.reward == 1
    target = list(world.items[FAR.target])
    # knowing every wall and the target's cell: a shortest path
    walls = [list(cell) for cell in world.walls]
    informed = episode_with({"targets": [target], "avoid": walls})
    assert len(informed.steps) == len(truth) and informed.reward == 1
    # a wrong target first, then the right one: both visited, nearest first
    lured = episode_with({"targets": [[1, 1], target], "avoid": walls})
    assert lured.reward == 1 and len(lured.steps) >= len(truth)
    # a waypoint: every step brings the agent one step nearer to it, until it is there or the
    # goal item comes into sight
    far = max(world.items.values(), key=lambda c: len(shortest_path(world, start, c)))
    via = episode_with({"waypoints": [list(far)], "avoid": walls})
    distances = [len(shortest_path(world, start, far))] + [
        len(shortest_path(world, tuple(s.obs["position"]), far)) for s in via.steps]
    for i, step in enumerate(via.steps):
        if distances[i] == 0 or FAR.target in step.obs["items"]:
            break
        assert distances[i + 1] == distances[i] - 1


@pytest.mark.parametrize(("retrieved", "reason"), [
    ({"targets": [[1, "2"]]}, r"targets\[0\] is \[1, '2'\]"),
    ({"avoid": {"x": 1}}, "avoid is dict, not a list"),
    ({"plan": ["up"]}, r"plan\[0\] is 'up'"),
    ({"waypoints": [[0, 0]] * 5000}, "5000 entries"),
])
def test_malformed_hints_are_the_memorys_fault(retrieved, reason):
    with pytest.raises(InvalidOutput, match=reason):
        read_hints(retrieved)


def test_hints_that_make_the_agent_search_past_its_allowance_are_the_memorys_fault():
    """Issue 23, class 8b: each waypoint out of reach costs the trusted agent a search of the
    whole world (4096 of them: about 1 s of trusted CPU per episode, 34 s a case, for the
    candidate's 0.08 s). The agent counts its searches, at most SEARCHES_PER_STEP per step of
    the episode's budget, and past that the memory fails with the reason: counted, not timed."""
    with pytest.raises(InvalidOutput, match=r"made the agent search for a path 601 times in "
                                            r"one episode \(at most 600: 3 per step"):
        episode_with({"waypoints": [[-5, -5]] * 4096})
    # within the allowance, the same hints cost no more than the agent may spend
    assert episode_with({"waypoints": [[-5, -5]] * 300}).reward == 1


class Recording:
    """A memory that answers with what it knows: its process, its own update count, and a
    count kept in a class attribute (state that a deep copy would share)."""

    updates_seen: ClassVar[int] = 0

    def __init__(self):
        self.updates = 0

    def general_update(self, recorder):
        self.updates += 1
        Recording.updates_seen += 1

    def general_retrieve(self, recorder):
        return {"pid": os.getpid(), "updates": self.updates, "class": Recording.updates_seen}


def toy_stream(mode: str, n: int = 10, seen: list | None = None, copy: int = 0):
    """A stream of n trivial tasks whose episodes score their task number; `seen` collects
    (repeat, retrieved) of every deployment episode."""
    def play(task, retrieved, repeat):
        if seen is not None and retrieved:
            seen.append((repeat, retrieved))
        recorder = Recorder({"task": task}, "g")
        recorder.reward = task / n
        return recorder
    return alma_stream(range(n), lambda task: Recorder({"task": task}, "g"), play, mode=mode,
                       seed=0, copy=copy)


def test_batched_stream_collects_half_then_retrieves_three_times_without_updates():
    Recording.updates_seen, seen = 0, []
    oracle = play_in_process(toy_stream("batched", seen=seen), Recording)
    assert [retrieved for _, retrieved in seen] == \
        [{"pid": os.getpid(), "updates": 5, "class": 5}] * 15  # one memory, never updated
    assert len(oracle.result.collection) == 5 and [len(g) for g in oracle.result.groups] == [5] * 3
    # every repeat group plays the deployment tasks in the same order
    assert oracle.result.groups[0] == oracle.result.groups[1] == oracle.result.groups[2]


def test_a_sequential_stream_plays_one_copy_that_learns_from_its_own_episodes_in_order():
    """Each copy is a stream (a case) of its own: collection, then each deployment task once,
    with the copy's repeat number, an update after each; a single group, whose standard error
    is over its episodes."""
    for copy in range(3):
        seen = []
        oracle = play_in_process(toy_stream("sequential", seen=seen, copy=copy), Recording)
        assert [(repeat, r["updates"]) for repeat, r in seen] == \
            [(copy, updates) for updates in (5, 6, 7, 8, 9)]
        assert [len(group) for group in oracle.result.groups] == [5]
        assert oracle.result.units() == [[reward] for reward in oracle.result.groups[0]]
        assert oracle.result.mean_and_se()[1] > 0


def test_the_no_memory_baseline_is_the_seeds_score_and_is_played_by_trusted_code():
    case = SCORER.case({"seed": 0, "worlds": 2, "tasks_per_world": 8})
    baseline_result = SCORER.no_memory(case)
    assert baseline_result.groups == play_in_process(SCORER.stream(case), NoMemory).result.groups
    stage, config = smoke("gridworld_memory")
    with WorkerPool(size=1) as pool:
        result = TASK.run_case(stage, config, TASK.seed_code, pool)
    assert result.status == "ok", result.reason
    assert result.metrics.public["gain"] == 0.0
    assert result.metrics.score == result.metrics.public["no_memory"] == \
        baseline_result.mean_and_se()[0]


HOSTILE = {
    "not_a_dict": ("""
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return [[1, 2]]
""", "invalid", "general_retrieve returned list, not a dict"),
    "huge": ("""
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"notes": "x" * 100_000}
""", "invalid", "general_retrieve returned 98 kB of JSON (at most 64 kB"),
    "bad_hint": ("""
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"targets": "the north-east"}
""", "invalid", "retrieved targets is str, not a list"),
    "not_json": ("""
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"targets": {(1, 2)}}
""", "crashed", "TypeError"),
    "sleeps": ("""
import time


class Memory:
    def general_update(self, recorder):
        time.sleep(60)

    def general_retrieve(self, recorder):
        return {}
""", "timeout", "wall time limit of 3 s exceeded"),
    "grows": ("""
class Memory:
    def __init__(self):
        self.hoard = []

    def general_update(self, recorder):
        while True:
            self.hoard.append(bytearray(2**24))

    def general_retrieve(self, recorder):
        return {}
""", "crashed", "memory limit of 512 MB"),
    "costly_hints": ("""
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"waypoints": [[-5, -5]] * 4096}
""", "invalid", "made the agent search for a path 133 times in one episode (at most 132"),
    # the stream's trusted code and its secrets are not in the sandbox
    "reads_the_world": ("""
import gridworld


class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {}
""", "crashed", "No module named 'gridworld'"),
    "stops_early": ("""
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {}


def run(memory_class, stream):
    stream("next", None)
    return {"reward": 1.0}
""", "invalid", "the program stopped the stream after 1 commands, before its end"),
}


def test_hostile_memories_get_a_reason_and_the_campaign_goes_on():
    """Each misbehaving memory on the smoke case: its status and reason recorded; then, on the
    same warm workers, an honest memory still scores. Only the sleeper meets a short wall
    limit: the others' outcomes must not depend on how loaded the machine is."""
    with WorkerPool(size=1) as pool:
        for name, (block, status, reason) in HOSTILE.items():
            stage, case = smoke("gridworld_memory", wall_s=3 if status == "timeout" else 120,
                                cpu_s=3, memory_mb=512)
            result = TASK.run_case(stage, case, program("gridworld_memory", block), pool)
            assert (result.status, reason in (result.reason or "")) == (status, True), \
                (name, result.status, result.reason)
        honest = TASK.run_case(stage, case, baseline("gridworld_memory", "item_map")
                               .read_text(), pool)
    assert honest.status == "ok" and honest.metrics.public["gain"] > 0


def test_a_memory_cannot_read_the_evaluators_files_or_forge_its_score():
    """The task folder (secrets in task.toml, the world generator) is not in the sandbox, and
    whatever the program returns is not scored: the seed's score, exactly."""
    block = f"""
class Memory:
    def __init__(self):
        for path in ({str(TASK.root / "task.toml")!r}, {str(TASK.root / "scorer.py")!r}):
            try:
                open(path).read()
            except OSError:
                continue
            raise RuntimeError("read " + path)

    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {{}}


_honest_run = run


def run(memory_class, stream):
    _honest_run(memory_class, stream)
    return {{"reward": 1.0, "groups": [[1.0]] * 3}}
"""
    stage, case = smoke("gridworld_memory")
    with WorkerPool(size=1) as pool:
        honest = TASK.run_case(stage, case, TASK.seed_code, pool)
        result = TASK.run_case(stage, case, program("gridworld_memory", block), pool)
    assert result.status == "ok", result.reason
    assert result.metrics == honest.metrics


def test_the_seed_and_baselines_rank_as_memories_should_on_the_train_stage():
    """Through Task.evaluate with warm workers: a map of each world and every item seen >
    where successes ended > nothing (figures in the task README; on the harder cases of issue
    26 the two maps are within 0.02 of each other, and both well below the ceiling)."""
    names = ["map_memory", "item_map", "success_ends"]
    codes = [TASK.seed_code] + [baseline("gridworld_memory", n).read_text() for n in names]
    with WorkerPool(size=1) as pool:
        finals = [TASK.evaluate(code, pool)[-1] for code in codes]
    assert all(f.stage == "train" and f.status == "ok" for f in finals), finals
    scores = [f.score for f in finals]
    assert min(scores[1], scores[2]) > scores[3] + 0.2 > scores[0] + 0.23, scores
    assert max(scores) < 0.9  # headroom below the ceiling (0.99: README)
    assert json.dumps(finals[1].public_metrics)  # plain data for the archive
    for final in finals[1:]:
        assert all(final.public_metrics[f"{c}_gain"] > 2 * final.public_metrics[f"{c}_gain_se"]
                   for c in ("s1", "s2", "s3"))


def test_a_stream_is_deterministic_and_trusted_memories_score_in_process_as_in_the_sandbox():
    case = SCORER.case({"seed": 0, "worlds": 2, "tasks_per_world": 8})
    memory = memory_class(baseline("gridworld_memory", "item_map"))
    one, two = (play_in_process(SCORER.stream(case), memory).result for _ in range(2))
    assert one == two
    stage, config = smoke("gridworld_memory")
    with WorkerPool(size=1) as pool:
        result = TASK.run_case(stage, config, baseline("gridworld_memory", "item_map")
                               .read_text(), pool)
    assert result.metrics.score == one.mean_and_se()[0]


def test_bad_case_secrets_are_task_errors_before_a_campaign():
    with pytest.raises(ValueError, match="seed required"):
        SCORER.case({"worlds": 2})
    with pytest.raises(ValueError, match="got wrold"):
        SCORER.case({"seed": 1, "wrold": 2})
    with pytest.raises(ValueError, match="mode is one of batched, sequential, not 'online'"):
        SCORER.case({"seed": 1, "mode": "online"})
    with pytest.raises(ValueError, match="a sequential case's copy is 0 to 2, not 3"):
        SCORER.case({"seed": 1, "mode": "sequential", "copy": 3})
    with pytest.raises(ValueError, match="a batched case's copy is 0 to 0, not 1"):
        SCORER.case({"seed": 1, "copy": 1})
    with pytest.raises(ValueError, match="domain is one of scatter, rooms, babyai"):
        SCORER.case({"seed": 1, "domain": "maze"})
    with pytest.raises(ValueError, match="plays BabyAI levels: a rooms case takes dynamics"):
        SCORER.case({"seed": 1, "domain": "rooms", "dynamics": "minigrid"})
    with pytest.raises(ValueError, match="a rooms world needs size >= 10"):
        SCORER.tasks(SCORER.case({"seed": 1, "domain": "rooms", "size": 7}))



def scripted_campaign(tmp_path) -> int:
    """A campaign whose model answers with the item-map block; the best program's id."""
    block = baseline("gridworld_memory", "item_map").read_text() \
        .split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0]
    script = tmp_path / "answers.jsonl"
    script.write_text(json.dumps({"text": f"```python\n{block}```"}) + "\n")
    result = discover(tmp_path, "run", "gridworld_memory", "--name", "m", "--iterations", "2",
                      "--progress", "quiet", "--set", "selection.islands=1",
                      "--set", f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0")
    assert result.exit_code == 0, result.stderr
    with ArchiveReader(tmp_path / "m" / "archive.sqlite") as reader:
        return reader.best().id


@pytest.mark.slow  # about a minute of campaign; `pytest -m slow` runs it
def test_scripted_campaign_finds_a_memory_better_than_none(tmp_path):
    """Its best beats the seed, and the gain over no memory, with its standard error, is
    among the best's metrics."""
    best_id = scripted_campaign(tmp_path)
    with ArchiveReader(tmp_path / "m" / "archive.sqlite") as reader:
        seed, best = reader.program(1), reader.program(best_id)
        assert best.id != seed.id and best.score > seed.score + 0.2
        final = next(e for e in reader.evaluations(best.id) if e.final)
        assert all(final.public_metrics[f"{c}_gain"] > 2 * final.public_metrics[f"{c}_gain_se"]
                   for c in ("s1", "s2", "s3"))


@pytest.mark.slow  # the report runs the seed, five baselines and the best, held-out included
def test_the_report_shows_the_gain_over_no_memory_and_its_standard_error(tmp_path):
    best_id = scripted_campaign(tmp_path)
    report = discover(tmp_path, "report", "m", "--workers", "2")
    assert report.exit_code == 0, report.stderr
    text = (tmp_path / "m" / "report" / "report.md").read_text()
    assert "| program | search score | gain | gain_se | no_memory | test score | test gain |" \
        in text
    row = next(line for line in text.splitlines() if line.startswith(f"| #{best_id} |"))
    gain, gain_se = (float(cell) for cell in row.split(" | ")[2:4])
    assert gain > 2 * gain_se > 0


def test_a_bug_in_the_stream_is_the_tasks_error_not_the_candidates(monkeypatch):
    """An exception of the trusted stream does not reach the candidate as its failure: the
    scorer raises it again, a TaskError that stops a campaign."""
    def broken(retrieved):
        raise KeyError("the task's bug")

    monkeypatch.setattr(sys.modules["grid_scoring"], "read_hints", broken)
    stage, case = smoke("gridworld_memory")
    with WorkerPool(size=1) as pool, pytest.raises(TaskError, match="KeyError: \"the task's bug"):
        TASK.run_case(stage, case, TASK.seed_code, pool)


@pytest.mark.slow  # a campaign of 4 iterations (68 s at a load of 14 on 2 cores)
def test_the_analysis_step_is_alma_s_and_carries_its_suggestion_to_the_child(tmp_path):
    """ALMA's analysis (core/meta_agent_prompt.py build_analysis_prompt): the parent's code,
    up to 3 episodes a reward bin as ALMA's examples, its score, ALMA's JSON schema asked
    for; the proposal gets the labels and suggested changes; and the child's own analysis
    shows, as ALMA's improve_example, the code it came from, the suggestion that made it and
    the score change it caused."""
    def block(name: str) -> str:
        return baseline("gridworld_memory", name).read_text() \
            .split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0]

    first = {"learned_from_suggestion_example": "none yet",
             "trajectory_score_assessment": [{"label": "Empty/BadFormat",
                                              "how_it_can_help": "nothing is retrieved"}],
             "content_quality_issues": "empty", "structure_and_coherence": "no memory",
             "suggested_changes": [{"priority": "High", "what": "map items per world",
                                    "why": "goals repeat in a world"}]}
    script = tmp_path / "answers.jsonl"
    script.write_text("".join(json.dumps({"text": text}) + "\n" for text in [
        json.dumps(first), f"```python\n{block('item_map')}```",
        "Not JSON: keep the map.", f"```python\n{block('map_memory')}```",
        json.dumps({"suggested_changes": []}), f"```python\n{block('success_ends')}```"]))
    asked = _scripted_campaign(tmp_path, script, 4, 'selection.strategy="greedy"',
                               "edits.analysis=true")
    analysis, proposal = asked[0], asked[1][-1]["content"]
    assert '"suggested_changes"' in analysis[0]["content"] and "Useful" in analysis[0]["content"]
    shown = json.loads(analysis[1]["content"].split("<CURRENT TRAJECTORY EXAMPLE>\n")[1]
                       .split("\n</CURRENT TRAJECTORY EXAMPLE>")[0])
    played = [e for e in shown if "steps" in e]
    assert played and all(set(e) == {"init_environment", "memo_retrieved", "steps",
                                     "final_reward"} for e in played)
    assert all(sum(low <= e["final_reward"] < high or e["final_reward"] == high == 1
                   for e in played) <= 3 for low, high in ((0, .33), (.33, .66), (.66, 1)))
    assert "<Suggestion Example>" not in analysis[1]["content"]  # the seed had no analysis
    given = json.JSONDecoder().raw_decode(
        proposal.split("An analysis of the parent's episodes:\n")[1])[0]
    assert given == {k: first[k] for k in ("trajectory_score_assessment", "suggested_changes")}
    assert "episodes=" not in proposal  # the episodes are the analysis step's, not a metric
    with ArchiveReader(tmp_path / "a" / "archive.sqlite") as reader:
        assert reader.purpose_totals("analysis")[0] == 3
        seed, child = reader.program(1), reader.program(2)  # the child `first` made
        assert child.parent_id == seed.id and child.score > seed.score
    # a later analysis of that child (greedy: the best) is shown its suggestion example
    later = [m[-1]["content"] for m in asked[2:] if "<Suggestion Example>" in m[-1]["content"]]
    assert later, "no analysis of the child was made"
    example = json.loads(later[0].split("<Suggestion Example>")[1]
                         .split("</Suggestion Example>")[0].split("memory structure.\n")[1])
    assert example["suggestion"] == first
    assert example["improve_score"] == pytest.approx(child.score - seed.score)
    assert example["source_code"] == block_text(seed.code)  # the code the child came from


NOTE_PASSING = """
import os


class Memory:
    \"\"\"Writes every episode it learns from to each writable place, and counts, before each
    retrieval, the episodes there that it did not write: a sibling copy's.\"\"\"

    def __init__(self):
        self.mine = set()

    def general_update(self, recorder):
        for place in ("/dev/shm", "/tmp", "/scratch"):
            path = f"{place}/episode-{os.getpid()}-{len(self.mine)}"
            with open(path, "w") as file:
                file.write(recorder["init"]["goal"])
            self.mine.add(path)

    def general_retrieve(self, recorder):
        theirs = [f"{place}/{name}" for place in ("/dev/shm", "/tmp", "/scratch")
                  for name in os.listdir(place) if name.startswith("episode-")
                  and f"{place}/{name}" not in self.mine]
        if theirs:
            raise RuntimeError(f"read {len(theirs)} of its siblings' episodes")
        return {}
"""


def test_sequential_copies_cannot_read_what_another_copy_wrote():
    """Issue 23, class 8a: a copy of sequential mode that writes its episodes to /dev/shm,
    /tmp and /scratch and looks there for a sibling's finds none (forked copies in one sandbox
    read 22): each copy is a case, so a sandbox run, of its own, and scores as that copy
    played alone in this process."""
    copies = [c for c in TASK.config.held_out.cases if c.secret.get("mode") == "sequential"
              and c.secret["seed"] == 101]
    assert [c.secret["copy"] for c in copies] == [0, 1, 2]
    stage, _ = smoke("gridworld_memory")
    code = program("gridworld_memory", NOTE_PASSING)
    with WorkerPool(size=1) as pool:
        for config in copies:
            secret = {**config.secret, "worlds": 1, "tasks_per_world": 12}
            result = TASK.run_case(stage, Case(config.name, {}, secret), code, pool)
            assert result.status == "ok", result.reason
            alone = play_in_process(SCORER.stream(SCORER.case(secret)), NoMemory).result
            assert result.metrics.score == alone.mean_and_se()[0]


@pytest.mark.slow  # a campaign of 2 iterations, 3 evaluations (45 s at a load of 14 on 2 cores)
def test_new_code_that_raises_in_the_probe_goes_back_for_repair_before_the_full_evaluation(
        tmp_path):
    """ALMA's examine_new_code: new code runs on a few tasks first (the smoke case, a probe);
    a memory that raises there fails before the train stage, and the debug turn hands its
    errors back to the model; the repaired code is evaluated in full."""
    good = baseline("gridworld_memory", "item_map").read_text() \
        .split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0]
    broken = good.replace('        init = recorder["init"]\n',
                          '        init = recorder["init"]\n        raise KeyError("no map yet")\n')
    script = tmp_path / "answers.jsonl"
    script.write_text(json.dumps({"text": f"```python\n{broken}```"}) + "\n"
                      + json.dumps({"text": f"```python\n{good}```"}) + "\n")
    asked = _scripted_campaign(tmp_path, script, 2, "edits.debug_turns=2")
    assert len(asked) == 2  # the proposal, then one debug turn: the repair passed
    debug = asked[1][-1]["content"]
    assert "the memory raised on 24 of its calls in the probe" in debug
    assert "KeyError: 'no map yet'" in debug
    with ArchiveReader(tmp_path / "a" / "archive.sqlite") as reader:
        child = reader.program(2)
        assert child.status == "ok" and "no map yet" not in child.code
        assert [e.stage for e in reader.evaluations(child.id)][-1] == "train"
        assert child.score > reader.program(1).score


@pytest.mark.slow  # plays about 31,000 simulator agent steps (7 s on an idle machine)
def test_an_llm_agent_evaluation_of_the_train_stage_completes_within_the_task_s_budget(
        tmp_path):
    """The LLM agent calls the model once a step: the seed's evaluation (its no-memory
    baseline's stream played too) makes far more calls than the generic 2,000 default, which
    it spent on one case before; the task's agent_calls_per_evaluation covers it."""
    result = discover(tmp_path, "eval", "gridworld_memory", "--agent-model", "simulator")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "train" in result.stdout and "ok" in result.stdout
    calls = int(result.stdout.split("agent model simulator")[1].split(" calls")[0]
                .rsplit(" ", 1)[1])
    assert 2000 < calls <= TASK.config.agent_calls_per_evaluation


def _scripted_campaign(tmp_path, script, iterations: int, *settings: str) -> list:
    """A gridworld_memory campaign `a` answered by `script` (a scripted test double), one island,
    proposals only; returns each model request's messages from its transcript."""
    model = f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]'
    sets = ["selection.islands=1", model, "edits.tune_share=0", "edits.restart_share=0",
            *settings]
    result = discover(tmp_path, "run", "gridworld_memory", "--name", "a", "--iterations",
                      str(iterations), "--progress", "quiet",
                      *(arg for setting in sets for arg in ("--set", setting)))
    assert result.exit_code == 0, result.stderr
    return [json.loads(line)["messages"] for line in (tmp_path / "a" / "transcript.jsonl")
            .read_text().splitlines()]
