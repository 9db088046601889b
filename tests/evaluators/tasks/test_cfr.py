"""The CFR task against OpenSpiel: exact exploitability, OpenSpiel's CFR and CFR+ curves, update
rules that misbehave, bad game strings, and a scripted campaign that beats its CFR+ seed."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pyspiel = pytest.importorskip("pyspiel")

from helpers import discover, smoke_crash_reason  # noqa: E402
from open_spiel.python.algorithms import cfr as spiel_cfr  # noqa: E402
from open_spiel.python.algorithms import exploitability as spiel_exploitability  # noqa: E402

from archive import ArchiveReader  # noqa: E402
from evaluators.task import TASKS_DIR, TaskError, load_task, task_folders  # noqa: E402

TASK = task_folders()["cfr"]
sys.path.insert(0, str(TASKS_DIR / "games" / "_shared"))
import cfr_games  # noqa: E402
from cfr_engine import run  # noqa: E402
from cfr_games import GameError, flatten, spiel_policy  # noqa: E402

TRAIN = ["kuhn_poker(players=3)", "leduc_poker",
         "goofspiel(num_cards=4,imp_info=True,points_order=descending)",
         "liars_dice(dice_sides=5,numdice=1)"]


def rule(name: str):
    """The `step` of a baseline program (or of the seed, CFR+)."""
    path = TASK / "seed.py" if name == "cfr_plus" else TASK / "baselines" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"rule_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.step


def openspiel_exploitability(name: str, policy) -> float:
    flat = flatten(name)
    game, tabular = spiel_policy(flat, name, policy)
    return spiel_exploitability.nash_conv(game, tabular) / game.num_players()


FAMILIES = ["blotto(coins=5,fields=3,players=2)",
            "battleship(board_width=2,board_height=2,ship_sizes=[1],ship_values=[1],num_shots=2)",
            "tiny_hanabi", "first_sealed_auction"]
"""Other families given by load string: the paper's later Blotto and Battleship games, an
identical-interest game, a general-sum auction."""


@pytest.mark.parametrize("name", TRAIN + FAMILIES)
def test_exploitability_equals_openspiels_on_every_train_game(name):
    game = flatten(name).game
    rng = np.random.default_rng(7)
    random = rng.random(game.mask.shape) * game.mask
    cfr_plus = run(game.to_arrays(), rule("cfr_plus"), [20])["average_policies"]["20"]
    for policy in (game.uniform(), random / random.sum(axis=1, keepdims=True),
                   np.array(cfr_plus)):
        ours = game.nash_conv(policy) / game.num_players
        assert ours == pytest.approx(openspiel_exploitability(name, policy), abs=1e-12)


@pytest.mark.parametrize(("ours", "solver", "name"), [
    ("cfr", spiel_cfr.CFRSolver, "kuhn_poker"),
    ("cfr", spiel_cfr.CFRSolver, "leduc_poker"),
    ("cfr_plus", spiel_cfr.CFRPlusSolver, "kuhn_poker(players=3)"),
])
def test_cfr_and_cfr_plus_reproduce_openspiels_curves(ours, solver, name):
    checkpoints = [1, 2, 3, 5, 8, 12]
    game = flatten(name).game
    policies = run(game.to_arrays(), rule(ours), checkpoints)["average_policies"]
    spiel_game = pyspiel.load_game(name)
    reference = solver(spiel_game)
    for t in range(1, max(checkpoints) + 1):
        reference.evaluate_and_update_policy()
        if t in checkpoints:
            theirs = spiel_exploitability.nash_conv(spiel_game, reference.average_policy())
            mine = game.nash_conv(np.array(policies[str(t)]))
            assert mine == pytest.approx(theirs, abs=1e-12), t


BAD_RULES = {
    "negative": ("return policy - 1.0, 1.0", "negative probabilities"),
    "nan": ("return policy * np.nan, 1.0", "not finite"),
    "shape": ("return policy[:, :1], 1.0", "has shape"),
    "unnormalised": ("return policy * 2, 1.0", "does not sum to 1"),
    "mutates": ("regret[:] = 0\n    return policy, 1.0", "read-only"),
    "weight": ("return policy, -1.0", "non-negative number"),
}


@pytest.mark.parametrize("case", BAD_RULES)
def test_a_misbehaving_rule_is_rejected_with_the_reason(case):
    body, reason = BAD_RULES[case]
    assert reason in smoke_crash_reason("cfr", "def step(state, t, regret, policy, mask):", body)


def test_bad_game_strings_are_clear_errors_before_anything_runs(tmp_path):
    with pytest.raises(GameError, match="OpenSpiel cannot load game 'no_such_game'"):
        flatten("no_such_game")
    with pytest.raises(GameError, match="more than 100 histories: too large"):
        flatten("leduc_poker", max_histories=100)
    task = tmp_path / "cfr_bad"
    shutil.copytree(TASK, task)
    toml = task / "task.toml"
    toml.write_text(toml.read_text().replace('game = "kuhn_poker",', 'game = "kuhn_pokr",'))
    with pytest.raises(TaskError, match=r"scorer\.py: OpenSpiel cannot load game 'kuhn_pokr'"):
        load_task(task).prepare()
    result = discover(tmp_path, "run", str(task), "--iterations", "2")
    assert result.exit_code == 1 and "cannot load game 'kuhn_pokr'" in result.stderr
    assert not any(tmp_path.glob("*/archive.sqlite"))


def test_flattened_games_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    name = "kuhn_poker(players=3)"
    flatten.cache_clear()
    walked = flatten(name)
    files = list((tmp_path / "games").glob("*.npz"))
    assert len(files) == 1
    flatten.cache_clear()
    monkeypatch.setattr(cfr_games, "_walk", lambda *a: pytest.fail("walked the game again"))
    loaded = flatten(name)
    assert loaded.keys == walked.keys and loaded.actions == walked.actions
    for field in ("mask", "infoset_player", "parent_sequence", "terminal_last",
                  "terminal_payoff"):
        assert np.array_equal(getattr(loaded.game, field), getattr(walked.game, field))
    assert loaded.game.nash_conv(loaded.game.uniform()) == walked.game.nash_conv(
        walked.game.uniform())
    files[0].write_bytes(b"damaged")  # a damaged file is walked again, and rewritten
    monkeypatch.undo()
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    flatten.cache_clear()
    assert flatten(name).keys == walked.keys and files[0].stat().st_size > 1000
    flatten.cache_clear()


def small_cfr_task(root: Path) -> Path:
    """The CFR task with a train stage CI can afford: 3-player Kuhn and Leduc, 200 iterations."""
    task = root / "cfr_small"
    shutil.copytree(TASK, task, ignore=shutil.ignore_patterns("__pycache__"))
    toml = task / "task.toml"
    text = toml.read_text()
    start, end = text.index('[[stages]]\nname = "train"'), text.index("# Reported apart")
    train = ('[[stages]]\nname = "train"\nlimits = { wall_s = 120, cpu_s = 120 }\ncases = [\n'
             '  { name = "kuhn3", inputs = { game = "kuhn_poker(players=3)", checkpoints = '
             '[50, 100, 200], alternating = true } },\n'
             '  { name = "leduc2", inputs = { game = "leduc_poker", checkpoints = '
             '[50, 100, 200], alternating = true } },\n]\n\n')
    text = text[:start] + train + text[end:]
    toml.write_text(text[:text.index("[held_out]")])
    return task


def test_scripted_cfr_campaign_beats_its_cfr_plus_seed(tmp_path):
    task = small_cfr_task(tmp_path)
    dcfr = (TASK / "baselines" / "dcfr.py").read_text()
    block = dcfr.split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0]
    script = tmp_path / "answers.jsonl"
    script.write_text(json.dumps({"text": f"```python\n{block}```"}) + "\n")
    result = discover(tmp_path, "run", str(task), "--name", "c", "--iterations", "3",
                      "--progress", "quiet", "--set", "selection.islands=1",
                      "--set", f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0")
    assert result.exit_code == 0, result.stderr
    with ArchiveReader(tmp_path / "c" / "archive.sqlite") as reader:
        seed, best = reader.program(1), reader.best()
        assert best.id != seed.id and "ALPHA, BETA, GAMMA = 1.5, 0.0, 2.0" in best.code
        assert best.score > seed.score
        final = next(e for e in reader.evaluations(best.id) if e.final)
        assert final.public_metrics["leduc2_exploitability_200"] < next(
            e for e in reader.evaluations(seed.id) if e.final
        ).public_metrics["leduc2_exploitability_200"]
