"""The BabyAI memory task: levels from minigrid as persistent worlds, episodes played in them by
minigrid's rules, BabyAIBot in the same levels, a clear error without minigrid, and memories
that help more than none."""

import sys

import pytest

pytest.importorskip("minigrid")

from memory_helpers import smoke

from evaluators.task import load_task
from evaluators.workers import WorkerPool

TASK = load_task("babyai_memory")
SCORER = TASK.scorer.SCORER
from babyai_worlds import LevelEpisode, babyai_world, bot_success  # noqa: E402
from grid_agent import ScriptedAgent, read_hints  # noqa: E402
from gridworld import Episode  # noqa: E402


def test_a_level_and_seed_make_the_same_world_with_distinct_objects_and_open_doors():
    world = babyai_world("w0", "GoTo", 7)
    assert world == babyai_world("w0", "GoTo", 7) and world.items == babyai_world(
        "w0", "GoTo", 7).items
    assert world.size == 22 and world.doors and not world.doors & world.walls
    assert all(len(name.split()) == 2 for name in world.items)  # "red ball"
    assert babyai_world("w0", "GoTo", 8).walls != world.walls


def test_babyai_bot_reaches_the_goal_object_in_the_real_level():
    case = SCORER.case({"seed": 0, "worlds": 1, "tasks_per_world": 4})
    for task in SCORER.tasks(case):
        assert task.start not in task.world.doors
        assert Episode(task, 2, 60).opening().goal == f"go to the {task.target}"
        done, steps = bot_success(task)
        assert done and steps < 200


def test_bad_levels_and_a_missing_minigrid_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="'GoToNowhere' is not a BabyAI level"):
        babyai_world("w0", "GoToNowhere", 1)
    monkeypatch.setitem(sys.modules, "minigrid.envs.babyai", None)
    with pytest.raises(ValueError, match=r"pip install -e '\.\[babyai\]'"):
        babyai_world("w0", "GoTo", 12345)  # a level no other test generates (they are cached)


def test_a_map_memory_beats_no_memory_on_babyai_levels():
    """The memory tasks' shared baselines, through the sandbox (the smoke stage; the README
    has the train and held-out figures)."""
    stage, case = smoke("babyai_memory")
    codes = [TASK.seed_code, TASK.baselines["map_memory"]]
    with WorkerPool(size=1) as pool:
        seed, mapped = (TASK.run_case(stage, case, code, pool) for code in codes)
    assert seed.status == mapped.status == "ok"
    assert mapped.metrics.score > seed.metrics.score + 0.1
    assert seed.metrics.public["gain"] == 0.0


def test_episodes_run_by_minigrids_rules_in_their_own_copy_of_the_level():
    """LevelEpisode: a move costs its turns and door toggles in minigrid steps, the task is
    done when the agent faces the goal object, and doors opened in one episode stay closed in
    the next (each plays its own copy of the level)."""
    case = SCORER.case({"seed": 0, "worlds": 1, "tasks_per_world": 6})
    assert case.dynamics == "minigrid"  # this task's default
    opened = 0
    for task in SCORER.tasks(case):
        first = LevelEpisode(task, 2, 500)
        first.step("west")  # facing east: two turns, then a step forward (or a bump)
        assert first.steps == 3 and first.env.agent_dir == 2
        episode = LevelEpisode(task, 2, 500)
        assert all(not door.is_open for door in doors(episode.env))  # untouched by `first`
        hints = read_hints({"targets": [list(task.world.items[task.target])]})
        recorder = episode.play(ScriptedAgent(task.target, hints, "t"))
        env = episode.env
        assert recorder.reward == 1.0 and episode.steps == env.step_count > len(recorder.steps)
        assert tuple(env.front_pos) == task.world.items[task.target]  # facing it, not on it
        opened += sum(door.is_open for door in doors(env))
    assert opened  # some goals were behind a closed door: toggled open on the way


def doors(env) -> list:
    return [cell for cell in env.grid.grid if cell is not None and cell.type == "door"]
