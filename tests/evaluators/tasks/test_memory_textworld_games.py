"""ALMA's TextWorld games as a memory task (issue 26): treasure hunts and cooking games generated
by TextWorld's own challenges from seeds, compiled offline and cached; the scripted text agent
with its challenge's verbs; a per-game memory through the sandbox; the LLM agent with the
retrieved memory in its prompt. The game tests are skipped where textworld is not installed (CI:
an optional extra, `pip install -e '.[textworld]'`) and are slow (a game compiles in 5-15 s)."""

import importlib.util
import json

import pytest
from memory_helpers import Echo, memory_class, smoke

from evaluators.task import Case, load_task
from evaluators.workers import WorkerPool
from tests.helpers import discover

TASK = load_task("textworld_games_memory")
SCORER = TASK.scorer.SCORER
from memory_stream import play_in_process  # noqa: E402
from textworld_agent import TextAgent, read_hints  # noqa: E402

needs_textworld = pytest.mark.skipif(importlib.util.find_spec("textworld") is None,
                                     reason="textworld is an optional extra")
SCORING = TASK.root / "baselines" / "scoring_commands.py"


def test_the_cook_tries_its_verbs_in_each_room_before_leaving_and_follows_a_plan_first():
    obs = {"room": "Kitchen", "admissible": ["cook carrot with oven", "go north", "open fridge",
                                             "take carrot"], "steps_left": 9}
    cook = TextAgent("", read_hints({}), "t", ("take", "cook"))
    assert [cook.act(obs) for _ in range(3)] == ["take carrot", "cook carrot with oven",
                                                 "open fridge"]
    planned = TextAgent("", read_hints({"plan": ["go north"], "avoid": ["take carrot"]}), "t",
                        ("take", "cook"))
    assert [planned.act(obs), planned.act({**obs, "room": "Hall"})] == \
        ["go north", "cook carrot with oven"]


@needs_textworld
@pytest.mark.slow
def test_games_come_from_textworlds_challenges_and_a_per_game_memory_helps(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    case = SCORER.case({"seed": 0, "worlds": 2, "tasks_per_world": 2, "challenge": "cooking",
                        "budget": 80})
    worlds = SCORER.make_worlds(case)
    assert all(w.objective.startswith("You are hungry!") and w.target == "" for w in worlds)
    games = sorted((tmp_path / "textworld" / "games").glob("*.z8"))
    assert len(games) == 2
    stamps = [game.stat().st_mtime_ns for game in games]
    assert SCORER.make_worlds(case) == worlds  # read from the cache, not compiled again
    assert [game.stat().st_mtime_ns for game in games] == stamps
    hunt = SCORER.make_worlds(SCORER.case({"seed": 0, "worlds": 1, "level": 12}))[0]
    assert hunt.target and hunt.walkthrough >= 2
    none = SCORER.no_memory(case)
    scoring = play_in_process(SCORER.stream(case), memory_class(SCORING)).result
    assert all(0 <= r <= 1 for group in scoring.groups for r in group)
    assert scoring.mean_and_se()[0] >= none.mean_and_se()[0]


@needs_textworld
@pytest.mark.slow
def test_the_smoke_case_through_the_sandbox_and_with_the_llm_agent():
    stage, config = smoke("textworld_games_memory")
    with WorkerPool(size=1) as pool:
        result = TASK.run_case(stage, Case(config.name, {}, config.secret),
                               SCORING.read_text(), pool)
        assert result.status == "ok", result.reason
        echo = Echo()
        llm = TASK.run_case(stage, Case(config.name, {}, {**config.secret, "agent": "llm"},
                                        echo), SCORING.read_text(), pool)
    assert llm.status == "ok", llm.reason
    # the stand-in answers the scripted agent's command: the LLM agent plays as it does, with
    # the game's kind in its system prompt and the retrieved memory in every prompt
    assert llm.metrics.score == result.metrics.score
    assert all("Memory: {" in prompt for prompt in echo.prompts)
    assert any('"plan": ["' in prompt for prompt in echo.prompts)
    assert json.loads(json.dumps(llm.metrics.public))["memory_errors"] == 0


@needs_textworld
@pytest.mark.slow
def test_discover_eval_with_the_embedded_model_on_a_tiny_stream(tmp_path):
    """ALMA's TextWorld domain end to end with the embedded model as the LLM agent: one small
    treasure hunt played twice, a short command budget."""
    task = tmp_path / "textworld_tiny"
    task.mkdir()
    (task / "task.toml").write_text(
        f'extends = "{TASK.root / "task.toml"}"\nname = "textworld_tiny"\n[[stages]]\n'
        'name = "tiny"\nlimits = { wall_s = 900, cpu_s = 900, memory_mb = 2048 }\n'
        'cases = [{ name = "t", secret = { seed = 0, worlds = 1, tasks_per_world = 2, '
        'level = 4, budget = 4 } }]\n')
    result = discover(tmp_path, "eval", str(task), str(SCORING), "--agent-model", "embedded",
                      "--executor", "warm", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("["):])[0]["results"][-1]
    assert report["status"] == "ok", report["reason"]
    assert 0 <= report["public_metrics"]["reward"] <= 1
