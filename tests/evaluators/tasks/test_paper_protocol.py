"""The seed paper's algorithms and protocol in the games tasks: VAD-CFR and SHOR-PSRO as
baselines, PSRO's separate evaluation-time meta-solver, the `paper` scoring protocol (final
exploitability as an uncapped log-ratio to the seed, floored at the game's float resolution)
and the tasks that run under it (`cfr_paper`, `psro_paper`, built with task.toml's
`extends`)."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyspiel")

from helpers import discover, load_module

from evaluators.sandbox import Sandbox
from evaluators.scoring import log_ratio
from evaluators.task import TASKS_DIR, Case, TaskError, load_task, task_folders

CFR_TASK, PSRO_TASK = task_folders()["cfr"], task_folders()["psro"]
sys.path[:0] = [str(CFR_TASK), str(PSRO_TASK), str(TASKS_DIR / "games" / "_shared")]
import cfr_games  # noqa: E402
import cfr_loop  # noqa: E402
import psro_loop  # noqa: E402
from cfr_games import flatten  # noqa: E402
from cfr_oracle import CFR  # noqa: E402
from protocols import paper_score, resolution  # noqa: E402
from psro_oracle import PSRO  # noqa: E402


def module(path: Path):
    return load_module(path, f"paper_{path.parent.name}_{path.stem}")


def cfr_run(game: str, rule: str, checkpoints: list[int]) -> CFR:
    cfr = CFR(flatten(game).game, checkpoints)
    step = module(CFR_TASK / ("seed.py" if rule == "cfr_plus" else f"baselines/{rule}.py")).step
    cfr_loop.run(step, lambda *args: cfr(list(args)))
    return cfr


def first_case(task, stage_index: int = 0):
    stage = task.config.stages[stage_index]
    return stage, Case(stage.cases[0].name, stage.cases[0].inputs, stage.cases[0].secret)


def test_log_ratio_is_capped_both_ways():
    assert log_ratio(1e-4, 1e-4, 3.0) == 0.0
    assert log_ratio(1e-5, 1e-4, 3.0) == pytest.approx(1.0)
    assert log_ratio(1e-2, 1e-4, 3.0) == pytest.approx(-2.0)
    assert log_ratio(0.0, 1e-4, 3.0) == 3.0  # an exact solve counts the cap, not 15
    assert log_ratio(10.0, 1e-4, 3.0) == -3.0


def test_vad_cfr_warm_starts_then_beats_cfr_plus_on_leduc():
    """VAD-CFR's average holds nothing before iteration 500 (so it is the uniform policy, as
    exploitable as at the start), and after 1000 iterations it beats CFR+ on Leduc more than
    fivefold; the checkpoint protocol ranks it below CFR+ for the warm start, the
    paper's protocol above: the first of the two measured problems of the checkpoint score."""
    leduc = flatten("leduc_poker").game
    uniform = leduc.nash_conv(leduc.uniform()) / leduc.num_players
    vad = cfr_run("leduc_poker", "vad_cfr", [100, 500, 1000])
    plus = cfr_run("leduc_poker", "cfr_plus", [100, 500, 1000])
    assert vad.exploitability[100] == vad.exploitability[500] == pytest.approx(uniform)
    assert vad.exploitability[1000] < plus.exploitability[1000] / 5
    checkpoints = [-np.log10(e) for e in vad.exploitability.values()]
    plus_checkpoints = [-np.log10(e) for e in plus.exploitability.values()]
    assert np.mean(checkpoints) < np.mean(plus_checkpoints)
    assert log_ratio(vad.exploitability[1000], plus.exploitability[1000], 3.0) > 0.7


def test_the_paper_tasks_extend_the_tasks_with_the_paper_protocol():
    for name, base in (("cfr_paper", "cfr"), ("psro_paper", "psro")):
        task, parent = load_task(name), load_task(base)
        assert task.seed_code == parent.seed_code and task.baselines == parent.baselines
        assert task.config.ideas == parent.config.ideas
        assert task.config.held_out.cases == [
            case.model_copy(update={"secret": {"protocol": "paper", **case.secret}})
            for case in parent.config.held_out.cases]
        assert all(case.secret["protocol"] == "paper" for stage in task.config.stages
                   for case in stage.cases)
        assert "float resolution" in task.description
        assert "resolution" not in parent.description
        assert task.version != parent.version
    assert len(load_task("cfr").config.held_out.cases) == 11  # the paper's sweep


def copy_games(root: Path) -> Path:
    shutil.copytree(TASKS_DIR / "games", root / "games",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root / "games"


def test_extends_hashes_the_base_folder_and_names_bad_bases(tmp_path):
    games = copy_games(tmp_path)
    before = load_task(games / "cfr_paper").version
    oracle = games / "cfr" / "cfr_oracle.py"  # in the base's folder, named nowhere in the child
    oracle.write_text(oracle.read_text() + "\n# changed\n")
    assert load_task(games / "cfr_paper").version != before
    toml = games / "cfr_paper" / "task.toml"
    toml.write_text(toml.read_text().replace('"../cfr/task.toml"', '"../nowhere/task.toml"'))
    with pytest.raises(TaskError, match=r"extends '\.\./nowhere/task\.toml', which is not another"):
        load_task(games / "cfr_paper")
    chained = games / "chained"
    chained.mkdir()
    (chained / "task.toml").write_text('extends = "../cfr_paper/task.toml"\n')
    toml.write_text(toml.read_text().replace('"../nowhere/task.toml"', '"../cfr/task.toml"'))
    with pytest.raises(TaskError, match="which extends another task in turn"):
        load_task(chained)


def test_a_bad_or_mixed_protocol_is_the_tasks_error(tmp_path):
    games = copy_games(tmp_path)
    toml = games / "cfr_paper" / "task.toml"
    text = toml.read_text()
    toml.write_text(text.replace('secret = { protocol = "paper" }',
                                 'secret = { protocol = "papers" }'))
    with pytest.raises(TaskError, match="protocol 'papers': use one of checkpoints, paper"):
        load_task(games / "cfr_paper").prepare()
    toml.write_text(text.replace('alternating = true } }]',
                                 'alternating = true } }, { name = "k2", secret = { game = '
                                 '"kuhn_poker", checkpoints = [600], alternating = true, '
                                 'protocol = "checkpoints" } }]'))
    with pytest.raises(TaskError, match="mixes the protocols"):
        load_task(games / "cfr_paper").prepare()


def test_the_paper_protocol_scores_the_last_iteration_against_the_seed(tmp_path, monkeypatch):
    """Through the sandbox: the seed scores exactly 0 against itself (the reference is the seed
    run in-process by the trusted scorer, cached on disk); VAD-CFR, which solves the smoke game
    to rounding, scores log10(CFR+'s / the game's resolution), far past the former cap of 3."""
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    task = load_task("cfr_paper")
    stage, case = first_case(task)
    seed = task.run_case(stage, case, task.seed_code, Sandbox())
    assert seed.status == "ok" and seed.metrics.score == 0.0
    assert seed.metrics.public["exploitability_600"] == \
        seed.metrics.public["cfr_plus_exploitability"]
    assert len(list((tmp_path / "figures").glob("*.json"))) == 1
    vad = task.run_case(stage, case, task.baselines["vad_cfr"], Sandbox())
    floor = resolution(flatten(case.secret["game"]).game)
    assert vad.status == "ok" and vad.metrics.public["exploitability_600"] < floor
    assert vad.metrics.score == pytest.approx(
        np.log10(vad.metrics.public["cfr_plus_exploitability"] / floor), abs=1e-12)
    assert vad.metrics.score > 10


def test_the_paper_score_floors_at_the_games_resolution_and_has_no_cap():
    """Below the game's float resolution an exploitability is rounding: it scores as the
    resolution (so 0, -1e-17 and 1e-17 tie), and above it nothing is capped either way."""
    kuhn = flatten("kuhn_poker").game
    floor = resolution(kuhn)
    assert 1e-15 < floor < 1e-14  # float64's epsilon x 7, the sum of |chance x utility|
    best = paper_score(0.0, 1e-4, floor)
    assert best == pytest.approx(np.log10(1e-4 / floor))
    assert paper_score(-1e-17, 1e-4, floor) == paper_score(1e-17, 1e-4, floor) == best
    assert paper_score(1e-10, 1e-4, floor) == pytest.approx(6.0)
    assert paper_score(10.0, 1e-4, floor) == pytest.approx(-5.0)


def test_strong_rules_stay_ordered_under_the_paper_protocol():
    """The former cap of 3 orders saturated: on the smoke game (2-player Kuhn, 600 iterations)
    DPCFR+ and VAD-CFR both beat CFR+ by more than 3 orders and tied at the cap; uncapped they
    are ordered (DPCFR+ ~2.4e-12, 7.5 orders; VAD-CFR at the resolution, 10.7)."""
    kuhn = flatten("kuhn_poker").game
    final = {rule: cfr_run("kuhn_poker", rule, [600]).exploitability[600]
             for rule in ("cfr_plus", "pdcfr_plus", "vad_cfr")}
    scores = {rule: paper_score(loss, final["cfr_plus"], resolution(kuhn))
              for rule, loss in final.items()}
    assert scores["cfr_plus"] == 0.0
    assert 3 < scores["pdcfr_plus"] < scores["vad_cfr"]
    assert scores["vad_cfr"] - scores["pdcfr_plus"] > 1
    assert min(log_ratio(final[r], final["cfr_plus"], 3.0) for r in ("pdcfr_plus", "vad_cfr")) \
        == 3.0  # what the former cap made of them: a tie


def test_the_paper_protocol_orders_the_rules_the_cap_tied_on_a_train_game():
    """4-card Goofspiel, a train game of `cfr_paper`: PCFR+, DPCFR+ and the listing's VAD-CFR
    were all 3.0 under the former cap (1.0e-7, 4.8e-12 and 3.1e-16 against CFR+'s 2.7e-4);
    now they score in that order, VAD-CFR at the game's resolution (1.0e-13)."""
    game = "goofspiel(num_cards=4,imp_info=True,points_order=descending)"
    final = {rule: cfr_run(game, rule, [1000]).exploitability[1000]
             for rule in ("cfr_plus", "pcfr_plus", "pdcfr_plus", "vad_cfr")}
    floor = resolution(flatten(game).game)
    scores = [paper_score(final[rule], final["cfr_plus"], floor)
              for rule in ("pcfr_plus", "pdcfr_plus", "vad_cfr")]
    assert 3 < scores[0] < scores[1] < scores[2]
    assert scores[2] == pytest.approx(np.log10(final["cfr_plus"] / floor))


def test_reference_figures_are_computed_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    source = tmp_path / "rule.py"
    source.write_text("# version 1\n")
    calls = []

    def compute() -> float:
        calls.append(1)
        return 0.25

    assert cfr_games.cached_figure("key", [source], compute) == 0.25
    monkeypatch.setattr(cfr_games, "_FIGURES", {})  # a new process: read from the disk
    assert cfr_games.cached_figure("key", [source], compute) == 0.25 and len(calls) == 1
    source.write_text("# version 2\n")  # changed code computes it again
    assert cfr_games.cached_figure("key", [source], compute) == 0.25 and len(calls) == 2
    stored = json.loads(next((tmp_path / "figures").glob("*.json")).read_text())
    assert stored["value"] == 0.25


def test_psro_measures_the_evaluation_meta_strategy_and_answers_the_training_one():
    """Two runs with the same training solver (Uniform): the populations and meta-games are
    the same whatever the evaluation solver says, and each iteration's exploitability is the
    evaluation meta-strategy's (here: all weight on the newest members)."""
    uniform = module(PSRO_TASK / "seed.py").meta_solver

    def newest(state, t, payoffs, train):
        return [np.eye(k)[-1] for k in payoffs.shape[1:]]

    runs = {}
    for name, eval_solver in (("train", None), ("newest", newest)):
        psro = PSRO(flatten("leduc_poker").game, 6)
        psro_loop.run(uniform, lambda *args, psro=psro: psro(list(args)), eval_solver)
        runs[name] = psro
    assert np.array_equal(runs["train"].payoffs, runs["newest"].payoffs)
    newest_policy = runs["newest"]
    newest_policy.t = 6
    joint = newest_policy.joint_policy([np.eye(k)[-1] for k in newest_policy.sizes])
    game = newest_policy.game
    assert runs["newest"].exploitability[6] == pytest.approx(
        game.nash_conv(joint) / game.num_players, abs=1e-12)
    assert runs["newest"].exploitability[6] != pytest.approx(runs["train"].exploitability[6])


def test_shor_psro_runs_as_a_baseline_under_both_protocols(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path))
    for name in ("psro", "psro_paper"):
        task = load_task(name)
        stage, case = first_case(task)
        result = task.run_case(stage, case, task.baselines["shor"], Sandbox())
        assert result.status == "ok", result.reason
        assert np.isfinite(result.metrics.score)
    seed = load_task("psro_paper")
    stage, case = first_case(seed)
    assert seed.run_case(stage, case, seed.seed_code, Sandbox()).metrics.score == 0.0


def test_a_campaign_under_the_paper_protocol_finds_vad_cfr(tmp_path, monkeypatch):
    """`discover run cfr_paper` with scripted answers (the VAD-CFR block): the warm start that
    the checkpoint protocol penalises wins here, and the campaign records it as the best."""
    from archive import ArchiveReader

    monkeypatch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path / "cache"))
    games = copy_games(tmp_path)
    toml = games / "cfr_paper" / "task.toml"
    text = toml.read_text()
    train = text[text.index('[[stages]]\nname = "train"'):]
    toml.write_text(text.replace(train, '[[stages]]\nname = "train"\ncases = [{ name = "leduc2", '
                                 'secret = { game = "leduc_poker", checkpoints = [1000], '
                                 'alternating = true } }]\n\n[held_out]\nname = "sweep"\n'
                                 'cases = [{ name = "kuhn3", secret = { game = '
                                 '"kuhn_poker(players=3)", checkpoints = [600], '
                                 'alternating = true } }]\n'))
    vad = (CFR_TASK / "baselines" / "vad_cfr.py").read_text()
    block = vad.split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0]
    script = tmp_path / "answers.jsonl"
    script.write_text(json.dumps({"text": f"```python\n{block}```"}) + "\n")
    result = discover(tmp_path, "run", str(games / "cfr_paper"), "--name", "v", "--iterations",
                      "2", "--progress", "quiet", "--set", "selection.islands=1",
                      "--set", f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0")
    assert result.exit_code == 0, result.stderr
    with ArchiveReader(tmp_path / "v" / "archive.sqlite") as reader:
        seed, best = reader.program(1), reader.best()
        assert seed.score == 0.0 and "WARM_START = 500" in best.code and best.score > 0.7
