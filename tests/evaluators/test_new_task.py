"""`discover new-task`: the folder it writes is a working task at once (eval and a campaign)."""

import json
from pathlib import Path

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
