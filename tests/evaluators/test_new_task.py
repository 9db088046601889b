"""`discover new-task`: the folder it writes is a working task at once (eval and a campaign)."""

import json
from pathlib import Path

import pytest
from helpers import discover

from archive import ArchiveReader
from discovery.cli.tasks import TEMPLATE
from evaluators.task import load_task

SCRIPT = Path(__file__).parents[1] / "data" / "minimal_task_script.jsonl"


def test_new_task_evaluates_and_runs_a_campaign_at_once(tmp_path):
    folder = tmp_path / "spread"
    made = discover(tmp_path, "new-task", "spread", "--out", str(folder))
    assert made.exit_code == 0, made.output
    assert f"discover eval {folder}" in made.output
    assert {p.name for p in folder.iterdir()} == {
        "task.toml", "seed.py", "scorer.py", "description.md", "README.md"}
    assert load_task(folder).name == "spread"

    evaluated = discover(tmp_path, "eval", str(folder), "--held-out", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    [report] = json.loads(evaluated.output)
    final = report["results"][-1]
    assert final["score"] == 0.25 and final["public_metrics"]["n16_min_distance"] == 0.25
    assert final["private_metrics"]["held_out_status"] == "ok"

    run = discover(tmp_path, "run", str(folder), "--name", "s", "--iterations", "5",
                   "--progress", "quiet", "--set",
                   f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]',
                   "--set", "edits.tune_share=0", "--set", "edits.restart_share=0",
                   "--set", 'executor="fresh"')
    assert run.exit_code == 0, run.output
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        assert len(reader.events("iteration")) == 5
        assert reader.best().score > 0.25  # the scripted rewrite beats the seed grid
        assert reader.failures_by_reason(5)  # and the invalid one is recorded as such


def test_new_task_refuses_to_overwrite_and_bad_names(tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    refused = discover(tmp_path, "new-task", "taken", "--out", str(folder))
    assert refused.exit_code == 1 and f"{folder} already exists" in refused.stderr
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    bad = discover(tmp_path, "new-task", "Bad-Name", "--out", str(tmp_path / "x"))
    assert bad.exit_code == 1 and "'Bad-Name' is not a task name" in bad.stderr
    assert not (tmp_path / "x").exists()


def test_the_template_is_the_shipped_example():
    assert TEMPLATE.relative_to(Path(__file__).parents[2]) == Path("examples/minimal_task")
    assert load_task(TEMPLATE).name == "minimal_task"


PEERS = Path(__file__).parents[1] / "data" / "peers"


@pytest.mark.parametrize(("flag", "example"), [("--from-openevolve", "openevolve/circle_packing"),
                                               ("--from-shinka", "shinka/circle_packing")])
def test_new_task_from_a_peer_folder_scores_its_seed_as_their_evaluator(tmp_path, flag, example):
    """The scaffold is `discover convert`'s native folder under the given name: its seed runs
    alone in the sandbox and their evaluator, replayed in the trusted process, gives the score
    their folder run unchanged gives."""
    folder = tmp_path / "packing"
    made = discover(tmp_path, "new-task", "packing", "--out", str(folder), flag,
                    str(PEERS / example))
    assert made.exit_code == 0, made.output
    assert "converted: scorer.py:" in made.output and f"discover eval {folder}" in made.output
    task = load_task(folder)
    assert (task.name, task.config.entry) == ("packing", "run_packing")
    assert (folder / "campaign.toml").is_file()

    native = discover(tmp_path, "eval", str(folder), "--json")
    assert native.exit_code == 0, native.output
    unchanged = discover(tmp_path, "eval", str(PEERS / example), "--json")
    assert unchanged.exit_code == 0, unchanged.output
    [mine], [theirs] = json.loads(native.output), json.loads(unchanged.output)
    assert mine["results"][-1]["score"] == pytest.approx(theirs["results"][-1]["score"],
                                                         rel=1e-12)
    assert mine["results"][-1]["private_metrics"]["evaluator_trust"].startswith("converted")


def test_new_task_refuses_a_peer_folder_of_the_other_format_naming_the_flag(tmp_path):
    out = tmp_path / "x"
    cases = [
        (("--from-openevolve", str(PEERS / "shinka/circle_packing")),
         "is a ShinkaEvolve folder (evaluate.py), not an OpenEvolve one: use --from-shinka"),
        (("--from-shinka", str(PEERS / "openevolve/circle_packing")),
         "is an OpenEvolve folder (evaluator.py), not a ShinkaEvolve one: use --from-openevolve"),
        (("--from-shinka", str(tmp_path)),
         f"{tmp_path} is not a ShinkaEvolve folder: it has no evaluate.py"),
        (("--from-shinka", str(PEERS / "shinka/circle_packing"), "--from-openevolve",
          str(PEERS / "openevolve/circle_packing")),
         "give one of --from-openevolve and --from-shinka, not both"),
    ]
    for args, line in cases:
        refused = discover(tmp_path, "new-task", "x", "--out", str(out), *args)
        assert refused.exit_code == 1 and line in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert not out.exists()
