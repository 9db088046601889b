"""ALMA's MiniHack domain as a memory task (issue 26): MazeWalk levels run by NetHack (NLE) on the
trusted side, the scripted maze agent (the offline, model-free setting) and the LLM agent, the
seed and baselines through the real sandbox, hostile memories, and `discover eval` with the
embedded model. The level tests skip where nle/minihack are not installed (an optional extra,
`pip install -e '.[minihack]'`)."""

import importlib.util
import json
import sys

import pytest
from memory_helpers import Echo, baseline, memory_class, program, smoke

from evaluators.task import Case, load_task
from evaluators.workers import WorkerPool
from tests.helpers import discover

TASK = load_task("minihack_memory")
SCORER = TASK.scorer.SCORER
import minihack_worlds  # noqa: E402
from memory_stream import NoMemory, play_in_process, split  # noqa: E402
from minihack_agent import ScriptedMazeAgent, read_hints  # noqa: E402
from minihack_worlds import Screen  # noqa: E402

from evaluators.scoring import InvalidOutput  # noqa: E402

needs_minihack = pytest.mark.skipif(
    importlib.util.find_spec("nle") is None or importlib.util.find_spec("minihack") is None,
    reason="nle and minihack are an optional extra")
SMALL = {"seed": 0, "worlds": 2, "tasks_per_world": 2, "level": "MazeWalk-9x9", "budget": 30}


def screen(rows: list[str], position: tuple[int, int]) -> Screen:
    """A hand-drawn map (NetHack's rows, padded to its 79 columns)."""
    return Screen([row.ljust(79) for row in rows] + [" " * 79] * (21 - len(rows)), position, "")


def test_the_scripted_agent_makes_the_plan_then_walks_to_the_staircase_it_is_told_of():
    corridor = screen(["", " .....", "", ""], (1, 1))
    told = read_hints({"plan": ["east"], "stairs": [6, 3],
                       "floor": [[6, 2], [6, 3]], "stood": [[5, 1]]})
    agent = ScriptedMazeAgent(told, "t")
    assert agent.act({}, corridor) == "east"  # the plan first
    walk = [agent.act({}, screen(["", " .....", "", ""], (x, 1))) for x in (2, 3, 4)]
    assert walk == ["east", "east", "east"]  # the shortest known way: east to (5, 1), then
    assert agent.act({}, screen(["", " .....", "", ""], (5, 1))) == "southeast"  # to (6, 2)


def test_malformed_hints_are_the_memorys_fault_naming_the_key():
    for retrieved, key in [({"plan": ["up"]}, r"plan\[0\]"), ({"stairs": [1]}, "stairs"),
                           ({"floor": [[90, 1]]}, r"floor\[0\]"), ({"stood": "x"}, "stood"),
                           ({"plan": ["north"] * 5000}, "plan")]:
        with pytest.raises(InvalidOutput, match=key):
            read_hints(retrieved)


def test_without_nle_the_task_loads_and_discover_eval_names_the_install(monkeypatch,
                                                                        tmp_path):
    monkeypatch.setattr(minihack_worlds, "_idle", {})
    monkeypatch.setitem(sys.modules, "minihack", None)
    task = load_task("minihack_memory")
    assert task.baselines and "Memory" in task.seed_code
    with pytest.raises(ValueError, match=r"nle and minihack packages: .*pip install -e "
                                         r"'\.\[minihack\]'"):
        task.scorer.prepare(task.config.stages)
    result = discover(tmp_path, "eval", "minihack_memory",
                      str(baseline("minihack_memory", "map_memory")))
    assert result.exit_code != 0
    said = [line for line in result.output.splitlines() if "nle and minihack" in line]
    assert len(said) == 1 and "pip install -e '.[minihack]'" in said[0]
    with pytest.raises(ValueError, match="MazeWalk-9x9, "):
        minihack_worlds.make_world("w0", "MazeWalk-99", 1)


@needs_minihack
def test_a_seed_is_one_maze_and_the_same_moves_go_the_same_way():
    case = SCORER.case(SMALL)
    task = SCORER.tasks(case)[0]
    moves = ["north", "east", "south", "west", "northeast", "southwest"] * 4

    class Replay:
        def __init__(self):
            self.made = 0

        def act(self, obs, shown):
            self.made += 1
            return moves[self.made - 1]

    def replay():
        return minihack_worlds.Episode(task, len(moves)).play(Replay()).plain()

    first = replay()
    assert first == replay()  # the level, its start and its moves' outcomes repeat
    opening = minihack_worlds.Episode(task, 30).opening().plain()["init"]["obs"]
    assert opening["position"] == first["init"]["obs"]["position"] and opening["world"] == "m0"
    assert len(opening["view"]) == 5 and all(len(row) == 5 for row in opening["view"])
    other = minihack_worlds.Episode(SCORER.tasks(case)[2], 30).opening().plain()
    assert other["init"]["obs"]["world"] == "m1"


@needs_minihack
def test_the_map_memory_beats_the_trajectory_memory_and_no_memory():
    """The README's order on a case of 15x15 mazes (in process, as the README's table)."""
    case = SCORER.case({"seed": 2, "worlds": 4})
    none = SCORER.no_memory(case).mean_and_se()[0]
    trajectory = play_in_process(SCORER.stream(case), memory_class(
        baseline("minihack_memory", "trajectory_memory"))).result
    mapped = play_in_process(SCORER.stream(case), memory_class(
        baseline("minihack_memory", "map_memory"))).result
    assert mapped.mean_and_se()[0] >= trajectory.mean_and_se()[0] > none
    assert max(mapped.steps) <= case.budget and all(
        r in (0.0, 1.0) for group in mapped.groups for r in group)


@needs_minihack
def test_the_seed_and_baselines_through_the_sandbox():
    stage, case = smoke("minihack_memory")
    programs = {"seed": TASK.seed_code,
                **{name: baseline("minihack_memory", name).read_text()
                   for name in ("trajectory_memory", "map_memory")}}
    with WorkerPool(size=1) as pool:
        results = {name: TASK.run_case(stage, case, code, pool)
                   for name, code in programs.items()}
    for name, result in results.items():
        assert result.status == "ok", (name, result.reason)
        assert result.metrics.public["memory_errors"] == 0
    assert results["seed"].metrics.public["gain"] == 0.0
    assert results["map_memory"].metrics.public["steps"] < results["seed"].metrics.public["steps"]


HOSTILE = {
    "raises": """
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        if recorder["init"]["obs"]["world"] == "m0":
            raise RuntimeError("no hints for m0")
        return {}
""",
    "huge": """
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"notes": "x" * 100_000}
""",
    "garbage": """
class Memory:
    def general_update(self, recorder):
        pass

    def general_retrieve(self, recorder):
        return {"stood": [["a", "b"]]}
""",
}


@needs_minihack
def test_hostile_memories_cost_their_episode_or_stop_with_the_reason():
    stage, probe = smoke("minihack_memory")
    case = Case(probe.name, probe.inputs, {**probe.secret, "probe": False})
    with WorkerPool(size=1) as pool:
        results = {name: TASK.run_case(stage, case, program("minihack_memory", code), pool)
                   for name, code in HOSTILE.items()}
        probed = TASK.run_case(stage, probe, program("minihack_memory", HOSTILE["raises"]), pool)
    assert probed.status != "ok" and "no hints for m0" in probed.reason  # the probe: it fails
    raised = results["raises"]
    assert raised.status == "ok", raised.reason
    public = raised.metrics.public
    deployed = [t for t in split(SCORER.tasks(SCORER.case(case.secret)), 0)[1]
                if t.world.name == "m0"]
    assert deployed and public["memory_errors"] == 3 * len(deployed)  # each repeat scored 0
    assert "no hints for m0" in public["episodes"]
    assert results["huge"].status != "ok" and "kB" in results["huge"].reason
    assert results["garbage"].status != "ok" and "stood[0]" in results["garbage"].reason


@needs_minihack
def test_the_llm_agent_plays_with_the_memory_and_the_map_in_its_prompt():
    echo = Echo()
    mapped = memory_class(baseline("minihack_memory", "map_memory"))
    llm = play_in_process(SCORER.stream(SCORER.case({**SMALL, "agent": "llm"}), echo), mapped,
                          echo).result
    scripted = play_in_process(SCORER.stream(SCORER.case(SMALL)), mapped).result
    assert llm == scripted  # the stand-in takes the scripted agent's move: the same episodes
    assert all("Memory: {" in p and "The map (its top-left character is [" in p
               for p in echo.prompts)
    assert any('"stood": [[' in p for p in echo.prompts)

    def mute(messages, *, temperature=None, reference=None):
        return "{}"

    def walker(messages, *, temperature=None, reference=None):
        return json.dumps({"answer": "northeast northeast west"})

    case = SCORER.case({**SMALL, "agent": "llm"})
    fallen = play_in_process(SCORER.stream(case, mute), NoMemory, mute).result
    assert fallen == play_in_process(SCORER.stream(SCORER.case(SMALL)), NoMemory).result
    walked = play_in_process(SCORER.stream(case, walker), NoMemory, walker).result
    assert walked.mean_and_se()[0] < fallen.mean_and_se()[0]  # its own moves, not the script's


@needs_minihack
@pytest.mark.slow
def test_discover_eval_with_the_embedded_model_on_a_tiny_stream(tmp_path):
    task = tmp_path / "minihack_tiny"
    task.mkdir()
    (task / "task.toml").write_text(
        f'extends = "{TASK.root / "task.toml"}"\nname = "minihack_tiny"\n[[stages]]\n'
        'name = "tiny"\nlimits = { wall_s = 600, cpu_s = 600, memory_mb = 2048 }\n'
        'cases = [{ name = "t", secret = { seed = 0, worlds = 1, tasks_per_world = 2, '
        'repeats = 1, level = "MazeWalk-9x9", budget = 2 } }]\n')
    result = discover(tmp_path, "eval", str(task),
                      str(baseline("minihack_memory", "map_memory")), "--agent-model",
                      "embedded", "--executor", "warm", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("["):])[0]["results"][-1]
    assert report["status"] == "ok", report["reason"]
    assert report["private_metrics"]["model_calls"] == 0  # the agent's calls, not the memory's
    assert 0 <= report["public_metrics"]["reward"] <= 1
