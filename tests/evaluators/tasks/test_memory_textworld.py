"""The TextWorld memory task: houses generated and compiled offline from seeds and cached, the
scripted text agent following a plan, a map memory that helps more than none through the
sandbox, the LLM agent with stand-in models, and a clear error without textworld. Skipped
where textworld is not installed (CI: it is an optional extra, `pip install -e '.[textworld]'`,
about 45 s and 230 MB with spacy)."""

import json
import sys

import pytest

pytest.importorskip("textworld")

from memory_helpers import Echo, smoke

from evaluators.task import load_task
from evaluators.workers import WorkerPool

TASK = load_task("textworld_memory")
SCORER = TASK.scorer.SCORER
import textworld_worlds  # noqa: E402
from memory_stream import NoMemory, play_in_process  # noqa: E402
from textworld_agent import TextAgent, read_hints  # noqa: E402
from textworld_worlds import Episode, WorldSpec, game_file, make_tasks, make_world  # noqa: E402

from evaluators.scoring import InvalidOutput  # noqa: E402

SPEC = WorldSpec(seed=7, rooms=4, holders=3, objects=4)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    return tmp_path / "textworld"


def test_a_seed_makes_the_same_world_and_its_games_are_compiled_once(cache):
    world = make_world("w0", SPEC)
    assert len(world.rooms) == 4 and len(set(world.objects)) == len(world.objects) >= 2
    (folder,) = cache.iterdir()
    (folder / "world.json").unlink()  # made again from the seed: the same world
    assert make_world("w0", SPEC) == world
    assert make_world("w0", WorldSpec(seed=8, rooms=4, holders=3, objects=4)) != world
    task = make_tasks([world], 1, 0)[0]
    path = game_file(task)
    stamp = path.stat().st_mtime_ns
    assert game_file(task) == path and path.stat().st_mtime_ns == stamp  # reused
    opening = Episode(task, 5).opening()
    assert opening.goal == f"take the {task.target}"
    assert opening.obs["world"] == "w0" and opening.obs["room"].lower() == world.rooms[task.start]
    assert any(c.startswith("go ") for c in opening.obs["admissible"])


def test_the_agent_follows_a_plan_and_takes_the_goal_object_on_sight(cache):
    world = make_world("w0", SPEC)
    tasks = make_tasks([world], 16, 0)
    explored = Episode(tasks[0], 40).play(TextAgent(tasks[0].target, read_hints({}), "x"))
    assert explored.reward == 1.0 and explored.steps[-1].action.startswith(
        f"take {tasks[0].target}")
    # what exploring did before the take, handed over as a plan, is followed to the letter
    plan = [step.action for step in explored.steps[:-1]]
    agent = TextAgent(tasks[0].target, read_hints({"plan": plan}), "another seed")
    replayed = Episode(tasks[0], 40).play(agent)
    assert [step.action for step in replayed.steps] == [step.action for step in explored.steps]
    avoided = Episode(tasks[0], 6).play(TextAgent(tasks[0].target, read_hints(
        {"avoid": ["go north", "go south", "go east", "go west"]}), "x"))
    assert not any(step.action.startswith("go ") for step in avoided.steps)
    with pytest.raises(InvalidOutput, match=r"retrieved plan\[1\] is 3"):
        read_hints({"plan": ["go east", 3]})


def test_a_room_map_beats_no_memory_through_the_sandbox():
    """The smoke stage (the README has the train and held-out figures)."""
    stage, case = smoke("textworld_memory")
    codes = [TASK.seed_code, TASK.baselines["room_map"]]
    with WorkerPool(size=1) as pool:
        seed, mapped = (TASK.run_case(stage, case, code, pool) for code in codes)
    assert seed.status == mapped.status == "ok"
    assert mapped.metrics.score > seed.metrics.score + 0.1
    assert seed.metrics.public["gain"] == 0.0
    assert mapped.metrics.public["steps"] < seed.metrics.public["steps"]


def test_without_textworld_the_task_loads_and_prepare_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "textworld", None)
    task = load_task("textworld_memory")
    assert task.baselines and "Memory" in task.seed_code
    with pytest.raises(ValueError, match=r"pip install -e '\.\[textworld\]'"):
        task.scorer.prepare(task.config.stages)
    with pytest.raises(ValueError, match="textworld package"):
        textworld_worlds.make_world("w0", SPEC)


class PlanMemory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"plan": ["go north"], "notes": ["the carrot is in the kitchen"]}


TEXT_SMALL = {"seed": 0, "worlds": 1, "tasks_per_world": 4}


def test_the_llm_agent_plays_text_games_with_the_memory_in_its_prompt(cache):
    """Taking the suggested commands, the LLM agent plays as the scripted agent; every prompt
    has the goal, the accepted commands and the retrieved dict; a reply the game does not
    accept falls back to the scripted agent's command; no model is the task's error."""
    echo = Echo()
    llm = play_in_process(SCORER.stream(SCORER.case({**TEXT_SMALL, "agent": "llm"}), echo),
                          PlanMemory, echo).result
    assert llm == play_in_process(SCORER.stream(SCORER.case(TEXT_SMALL)), PlanMemory).result
    assert all("Goal: take the " in p and "Commands accepted now: " in p for p in echo.prompts)
    assert any('"plan": ["go north"]' in p and "kitchen" in p for p in echo.prompts)

    def chosen(messages, *, temperature=None, reference=None):  # the first accepted command
        accepted = messages[-1]["content"].split("Commands accepted now: ")[1].split(".\n")[0]
        return json.dumps({"answer": accepted.split("; ")[0].upper() + "."})

    def rambling(messages, *, temperature=None, reference=None):
        return "I would rather dance."

    case = SCORER.case({**TEXT_SMALL, "agent": "llm"})
    first = play_in_process(SCORER.stream(case, chosen), NoMemory, chosen).result
    scripted = play_in_process(SCORER.stream(SCORER.case(TEXT_SMALL)), NoMemory).result
    assert first.steps != scripted.steps  # its own commands, not the scripted agent's
    assert play_in_process(SCORER.stream(case, rambling), NoMemory, rambling).result == scripted
    with pytest.raises(ValueError, match="no agent model"):
        SCORER.stream(case, None)
