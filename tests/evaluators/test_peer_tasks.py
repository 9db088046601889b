"""OpenEvolve and ShinkaEvolve task folders, run unchanged (their own shipped examples, copied
into tests/data/peers): `discover eval`, a short scripted campaign, the mapping of their
settings, `discover convert`, and the weaker trust their evaluators carry, shown working."""

import json
import tempfile
from pathlib import Path

import pytest
from helpers import discover

from archive import ArchiveReader
from discovery.config import load_config
from discovery.peer_settings import peer_settings
from evaluators.peers.driver import call_evaluator
from evaluators.peers.formats import PeerFolder, read_folder
from evaluators.peers.scorer import METRICS_LIMIT, score
from evaluators.scoring import InvalidOutput
from evaluators.task import TaskError, load_task

PEERS = Path(__file__).parents[1] / "data" / "peers"
EXAMPLES = ["openevolve/circle_packing", "openevolve/function_minimization",
            "shinka/circle_packing", "shinka/sine_approx_headless"]


def campaign(tmp_path, example: str, iterations: int, script: str) -> ArchiveReader:
    """A short campaign on the example with scripted model answers, its archive opened; one
    island, one proposal and one evaluation at a time over their settings, so the script's
    answers land in order."""
    run = discover(tmp_path, "run", str(PEERS / example), "--name", "c", "--iterations",
                   str(iterations), "--progress", "quiet", "--set",
                   f'models=[{{name="scripted:{PEERS / script}", edit_mix={{rewrite=1.0}}}}]',
                   "--set", "edits.tune_share=0", "--set", "edits.restart_share=0",
                   "--set", 'executor="fresh"', "--set", "selection.islands=1",
                   "--set", "parallel.proposals=1", "--set", "parallel.evaluations=1")
    assert run.exit_code == 0, run.output
    return ArchiveReader(tmp_path / "c" / "archive.sqlite")


def evaluate_json(tmp_path, *args: str) -> dict:
    result = discover(tmp_path, "eval", *args, "--json")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    return report


def direct(folder: Path, function: str) -> dict:
    """The peer's evaluator called on its initial program here, outside any sandbox: what the
    peer system itself would compute."""
    layout = read_folder(folder)
    with tempfile.TemporaryDirectory() as scratch:
        return call_evaluator(str(folder / layout.evaluator), function, layout.kind,
                              str(folder / layout.program), str(Path(scratch) / "results"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_their_examples_evaluate_unchanged_in_the_sandbox(tmp_path, example):
    folder = PEERS / example
    task = load_task(folder)
    report = evaluate_json(tmp_path, str(folder))
    final = report["results"][-1]
    assert final["status"] == "ok", final
    assert "runs the candidate in its own process" in report["peer"]["trust"]
    assert "could change its score" in final["private_metrics"]["evaluator_trust"]
    assert report["task"] == task.name and task.name.startswith(example.split("/")[0])
    if "function_minimization" in example:  # random search: only the cascade's shape is fixed
        assert final["stage"] in ("evaluate_stage1", "evaluate_stage2")
        assert any(k.startswith("artifact_") for k in final["public_metrics"])
        return
    expected = direct(folder, final["stage"])["metrics"]
    assert final["score"] == pytest.approx(expected["combined_score"], rel=1e-12)
    assert final["public_metrics"]["combined_score"] == final["score"]


def test_the_plain_eval_says_the_trust_level_before_the_scores(tmp_path):
    result = discover(tmp_path, "eval", str(PEERS / "shinka/sine_approx_headless"))
    assert result.exit_code == 0, result.output
    trust = result.output.index("trust: peer evaluator (shinka)")
    assert trust < result.output.index("combined_score")
    assert "ignored: run_evo.py: db_config.db_path" in result.output
    assert "settings: --set selection.islands=2" in result.output


def test_an_openevolve_campaign_climbs_the_cascade(tmp_path):
    with campaign(tmp_path, "openevolve/function_minimization", 3,
                  "function_minimization_script.jsonl") as reader:
        best, seed = reader.best(), reader.program(1)
        assert best.id != seed.id and best.score > seed.score
        stages = [e.stage for e in reader.evaluations(best.id)]
        assert stages == ["evaluate_stage1", "evaluate_stage2"]  # passed the 1.3 threshold
        final = reader.evaluations(best.id)[-1]
        assert final.public_metrics["reliability_score"] == 1.0
        assert "artifact_best_position" in final.public_metrics
        config = reader.campaign().config  # their config.yaml's settings (3 islands, a pool
        assert (config["selection"]["islands"], config["selection"]["pool"]) == (1, 50)  # of
        # 50), and ours where given: --set and --iterations win
        assert config["budgets"]["iterations"] == 3 and config["executor"] == "fresh"


def test_a_shinka_campaign_improves_and_records_incorrect_programs(tmp_path):
    with campaign(tmp_path, "shinka/sine_approx_headless", 4, "sine_script.jsonl") as reader:
        best, seed = reader.best(), reader.program(1)
        assert best.score > 0.99 > 0.2 > seed.score
        failures = {reason: n for _, reason, n in reader.failures_by_reason()}
        assert failures == {"incorrect: blocked direct sine implementation: math.sin": 1}


def test_their_settings_become_ours_and_the_rest_is_listed():
    folder = read_folder(PEERS / "openevolve/function_minimization")
    settings = peer_settings(folder)
    config = load_config(str(folder.root), None, settings.search + settings.models)
    assert (config.selection.islands, config.selection.pool) == (3, 50)
    assert config.budgets.iterations == 10 and config.parallel.evaluations == 3
    assert [m.name for m in config.models] == ["openai/gemini-2.5-flash-lite",
                                               "openai/gemini-2.5-flash"]
    assert all(m.edit_mix == {"diff": 1.0} for m in config.models)  # diff_based_evolution
    assert "config.yaml: database.archive_size = 20: no equivalent here, ignored" \
        in settings.ignored
    shinka = peer_settings(read_folder(PEERS / "shinka/circle_packing"))
    assert 'selection.strategy="weighted"' in shinka.search
    assert "shinka_small.yaml" in shinka.mapped[0]
    [models] = shinka.models
    assert "edit_mix = {diff = 0.6, rewrite = 0.3, crossover = 0.1}" in models


def test_convert_writes_a_native_task_with_the_same_score(tmp_path):
    folder = PEERS / "shinka/circle_packing"
    out = tmp_path / "native"
    made = discover(tmp_path, "convert", str(folder), str(out))
    assert made.exit_code == 0, made.output
    assert "converted: scorer.py: evaluate.py scores the outputs of run_packing()" in made.output
    assert load_task(out).config.entry == "run_packing"
    native = evaluate_json(tmp_path, str(out))["results"][-1]
    unchanged = evaluate_json(tmp_path, str(folder))["results"][-1]
    assert native["score"] == pytest.approx(unchanged["score"], rel=1e-12)
    assert native["private_metrics"]["evaluator_trust"].startswith("converted")
    assert "peer" not in evaluate_json(tmp_path, str(out))


def test_convert_says_what_it_could_not_convert(tmp_path):
    out = tmp_path / "sine"
    made = discover(tmp_path, "convert", str(PEERS / "shinka/sine_approx_headless"), str(out))
    assert made.exit_code == 0, made.output
    assert "NOT converted: the scorer: evaluate.py calls approximate() with arguments" \
        in made.output
    refused = discover(tmp_path, "eval", str(out), "--json")
    assert refused.exit_code == 1
    again = discover(tmp_path, "convert", str(PEERS / "shinka/sine_approx_headless"), str(out))
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_a_candidate_can_change_a_peer_score_which_is_why_it_is_labelled(tmp_path):
    """The evaluator computes sin(x) with math.sin in the candidate's process: a candidate that
    replaces it scores perfectly with a wrong answer. Native tasks score outside the sandbox."""
    cheat = tmp_path / "cheat.py"
    cheat.write_text("setattr(__import__('ma' + 'th'), 's' + 'in', lambda x: x)\n\n"
                     "# EVOLVE-BLOCK-START\ndef approximate(x: float) -> float:\n"
                     "    return x\n# EVOLVE-BLOCK-END\n")
    report = evaluate_json(tmp_path, str(PEERS / "shinka/sine_approx_headless"), str(cheat))
    final = report["results"][-1]
    assert final["score"] == 1.0 and final["public_metrics"]["max_abs_error"] == 0.0
    assert "could change its score" in final["private_metrics"]["evaluator_trust"]


def test_broken_peer_folders_get_one_line(tmp_path):
    (tmp_path / "oe").mkdir()
    (tmp_path / "oe" / "evaluator.py").write_text("def score(path):\n    return {}\n")
    (tmp_path / "oe" / "initial_program.py").write_text("X = 1\n")
    with pytest.raises(TaskError, match=r"evaluator.py defines no evaluate\(\)"):
        load_task(tmp_path / "oe")
    (tmp_path / "go").mkdir()
    (tmp_path / "go" / "evaluate.py").write_text("def main(p, r):\n    pass\n")
    (tmp_path / "go" / "initial.go").write_text("package main\n")
    with pytest.raises(TaskError, match="only Python candidates run here"):
        load_task(tmp_path / "go")
    broken = tmp_path / "broken.py"
    broken.write_text("def approximate(x:\n")
    report = discover(tmp_path, "eval", str(PEERS / "shinka/sine_approx_headless"),
                      str(broken), "--json")
    assert report.exit_code == 1
    assert json.loads(report.output)[0]["results"][-1]["status"] == "invalid"


def test_the_description_is_their_system_message_else_their_readme():
    packing = load_task(PEERS / "openevolve/circle_packing").description
    assert packing.startswith("You are an expert mathematician specializing in circle packing")
    assert "## Our Approach" not in packing  # their README's account of their runs stays out
    sine = load_task(PEERS / "shinka/sine_approx_headless").description
    assert sine.startswith("# Headless Math Approximation Example")
    assert "keep the names and return values of the code outside the EVOLVE-BLOCK" in sine


def test_the_trusted_side_checks_the_shape_of_a_peer_answer():
    ok = score("evaluate", None, {"metrics": {"combined_score": 2, "error": "x" * 5000,
                                              "nan": float("nan"), "rows": [1, 2]},
                                  "artifacts": {"log": "see"}}, None)
    assert ok.score == 2.0 and ok.public["combined_score"] == 2.0
    assert len(ok.public["error"]) == 2000 and ok.public["artifact_log"] == "see"
    assert "nan" not in ok.public and "rows" not in ok.public
    assert score("e", None, {"metrics": {"a": 1.0, "b": 3.0}}, None).score == 2.0  # OE's mean
    for bad, reason in [
            ({"metrics": None}, "returned no metrics"),
            ({"metrics": {"combined_score": float("inf")}}, "not finite"),
            ({"metrics": {"combined_score": 1.0}, "correct": False, "error": "overlap"},
             "incorrect: overlap"),
            ({"metrics": {"x": 1.0}, "correct": True}, "no combined_score"),
            ({"metrics": {f"m{i}": 1.0 for i in range(METRICS_LIMIT + 1)}}, "over 200")]:
        with pytest.raises(InvalidOutput, match=reason):
            score("evaluate", None, bad, None)


def test_a_selection_strategy_with_no_equivalent_is_listed_as_ignored():
    """Shinka's beam_search has no counterpart here: it is named, not silently dropped, and
    their patience and meta-recommendation interval map to ours."""
    def shinka(config: dict) -> PeerFolder:
        return PeerFolder("shinka", PEERS, "initial.py", "evaluate.py", ["main"], config,
                          "run_evo.py")

    settings = peer_settings(shinka({"db_config": {"parent_selection_strategy": "beam_search"},
                                     "evo_config": {"meta_rec_interval": 10}}))
    assert "selection.strategy" not in " ".join(settings.search)
    assert 'run_evo.py: db_config.parent_selection_strategy = "beam_search": no equivalent ' \
        "here, ignored" in settings.ignored
    assert "edits.scratchpad_every=10" in settings.search
    weighted = peer_settings(shinka({"db_config": {"parent_selection_strategy": "weighted"}}))
    assert weighted.search == ['selection.strategy="weighted"'] and not weighted.ignored


def test_a_peer_campaigns_outputs_say_its_evaluator_shares_the_candidates_process(tmp_path):
    """Every output that shows a peer campaign's scores carries the weaker trust (the same line
    as test doubles: `status`, `show`, the view's data, exports, report.md use one label)."""
    from discovery.double_label import campaign_label
    from evaluators.peers.scorer import TRUST

    with campaign(tmp_path, "shinka/sine_approx_headless", 2, "sine_script.jsonl") as reader:
        assert campaign_label(reader).endswith(f"; {TRUST}")  # after the scripted model's
        best = reader.best().id
    status = discover(tmp_path, "status", "c")
    assert status.exit_code == 0 and "candidate's process" in " ".join(status.output.split())
    shown = discover(tmp_path, "show", "c", str(best))
    assert "candidate's process" in " ".join(shown.output.split())
    native = tmp_path / "native"
    assert discover(tmp_path, "convert", str(PEERS / "shinka/circle_packing"),
                    str(native)).exit_code == 0
    run = discover(tmp_path, "run", str(native), "--name", "n", "--iterations", "1",
                   "--progress", "quiet", "--set", 'models=[{name="scripted:'
                   f'{PEERS / "sine_script.jsonl"}"}}]', "--set", 'executor="fresh"')
    assert run.exit_code == 0, run.output
    with ArchiveReader(tmp_path / "n" / "archive.sqlite") as reader:
        assert TRUST not in campaign_label(reader)  # converted: its evaluator runs trusted
