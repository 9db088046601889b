"""The BabyAI memory task: levels from minigrid as persistent worlds, BabyAIBot as the upper
bound, a clear error without minigrid, and memories that help more than none."""

import sys

import pytest

pytest.importorskip("minigrid")

from memory_helpers import smoke

from evaluators.task import load_task
from evaluators.workers import WorkerPool

TASK = load_task("babyai_memory")
SCORER = TASK.scorer.SCORER
from babyai_worlds import babyai_world, bot_success  # noqa: E402
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
        done, steps = bot_success(case.level, 0, task)
        assert done and steps < 200


def test_bad_levels_and_a_missing_minigrid_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="'GoToNowhere' is not a BabyAI level"):
        babyai_world("w0", "GoToNowhere", 1)
    monkeypatch.setitem(sys.modules, "minigrid.envs.babyai", None)
    with pytest.raises(ValueError, match=r"pip install -e '\.\[babyai\]'"):
        babyai_world("w0", "GoTo", 1)


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
