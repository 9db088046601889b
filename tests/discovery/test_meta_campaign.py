"""`discover run meta_proposer` end to end, and proposers found there used by other campaigns.
Every model here is a TEST DOUBLE (scripted answers): the outer model proposes proposer
programs, the agent model answers the inner campaigns. They show the loop and its plumbing;
what a real model's proposer achieves is for a real run (docs/meta.md)."""


import pytest
from helpers import discover
from meta_doubles import CRASH_1, CRASH_2, GOOD, meta_task, script

from archive import ArchiveReader
from evaluators.catalog import TASKS_DIR

BEST_OF_TWO = (TASKS_DIR / "meta" / "meta_proposer" / "baselines" / "best_of_two.py").read_text()
BLOCK = BEST_OF_TWO.split("# EVOLVE-BLOCK-START\n")[1].split("# EVOLVE-BLOCK-END")[0]


def meta_run(tmp_path, name, iterations, *settings):
    """A meta_proposer campaign on one inner circle-packing problem: the outer model always
    proposes the best-of-two proposer; the inner answers crash twice, then beat the seed."""
    task = meta_task(tmp_path, [{"task": "circle_packing", "iterations": 3, "seed": 1}])
    outer = script(tmp_path / "outer.jsonl", [f"```python\n{BLOCK}```"])
    inner = script(tmp_path / "inner.jsonl", [CRASH_1, CRASH_2, GOOD])
    extra = [arg for setting in settings for arg in ("--set", setting)]
    result = discover(tmp_path / "runs", "run", str(task), "--name", name, "--iterations",
                      str(iterations), "--progress", "quiet",
                      "--set", f'models=[{{name="scripted:{outer}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", f'agent_model={{name="scripted:{inner}"}}',
                      "--set", "selection.islands=1", "--set", "edits.tune_share=0",
                      "--set", "edits.restart_share=0", "--set", "executor='fresh'", *extra)
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / name


@pytest.mark.slow  # about 20 s: a meta campaign, an export and two campaigns that use it
def test_a_meta_campaign_finds_a_proposer_that_beats_the_seed_proposer(tmp_path):
    run = meta_run(tmp_path, "meta", 2)
    with ArchiveReader(run / "archive.sqlite") as reader:
        seed, best = reader.program(1), reader.best()
        assert seed.score == 0.0 and best.id == 2 and best.score > 0.01
        assert "tools.evaluate(draft)" in best.code and best.edit_kind == "rewrite"
    exported = tmp_path / "best_proposer.py"
    assert discover(tmp_path / "runs", "export", "meta", "--out", str(exported)).exit_code == 0
    assert "discover run TASK --proposer THIS_FILE.py" in exported.read_text()
    # the exported proposer drives an ordinary campaign, as do the run's name and a program id
    for spec in (str(exported), "meta:2"):
        result = discover(tmp_path / "runs", "run", "circle_packing", "--iterations", "3",
                          "--progress", "quiet", "--proposer", spec, "--set",
                          f'models=[{{name="scripted:{tmp_path / "inner.jsonl"}", '
                          'edit_mix={rewrite=1.0}}]', "--set", "selection.islands=1",
                          "--set", "edits.tune_share=0", "--set", "edits.restart_share=0",
                          "--set", "executor='fresh'", "--name", f"use-{len(spec)}")
        assert result.exit_code == 0, result.output
        with ArchiveReader(tmp_path / "runs" / f"use-{len(spec)}" / "archive.sqlite") as reader:
            calls = reader.model_calls(iteration=1)
            assert [c.purpose for c in calls] == ["propose", "propose"]  # best of two
            assert reader.best().score > reader.program(1).score


def test_self_reference_the_best_proposer_so_far_proposes_the_next(tmp_path):
    run = meta_run(tmp_path, "self", 4, "proposer.program='self'", "proposer.evaluations=0",
                   "parallel.lag=1")  # plan 3 sees commits 0 and 1
    with ArchiveReader(run / "archive.sqlite") as reader:
        first = [c.purpose for c in reader.model_calls(iteration=1)]
        last = [c.purpose for c in reader.model_calls(iteration=3)]  # after 1 is committed
        assert reader.best().id == 2
    assert first[0] == "propose" and first.count("propose") == 1  # the seed proposer: one call
    assert last[:2] == ["propose", "propose"]  # program 2, best of two, proposed this one


@pytest.mark.parametrize("task", ["heilbronn_triangle", "arithmetic"])
def test_proposer_works_on_representative_shipped_tasks(tmp_path, task):
    """The seed proposer program on a math task and an agent task (whose programs call the
    agent model themselves): their proposals go through the program (a scripted answer the
    task refuses is still a proposal made, repaired and recorded). A proposer sees only text
    and plain data, the same on every task; the other rooms' seeds take minutes to evaluate."""
    answers = script(tmp_path / "any.jsonl", ["I would change the idea."])
    result = discover(tmp_path, "run", task, "--iterations", "3", "--progress", "quiet",
                      "--proposer", "seed", "--name", "p", "--no-preflight", "--set",
                      f'models=[{{name="scripted:{answers}"}}]', "--set", "edits.tune_share=0",
                      "--set", "edits.restart_share=0", "--set", "selection.islands=1",
                      "--set", "agent_model={name=\"simulator\"}")
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "p" / "archive.sqlite") as reader:
        calls = reader.model_calls(iteration=1) + reader.model_calls(iteration=2)
        assert {c.purpose for c in calls} >= {"propose", "repair"}
        assert all(c.raw_response == "I would change the idea." for c in calls
                   if c.purpose in ("propose", "repair"))


@pytest.mark.slow  # minutes: the embedded model answers every call on the CPU
def test_a_meta_campaign_runs_offline_with_the_embedded_model(tmp_path):
    task = meta_task(tmp_path, [{"task": "circle_packing", "iterations": 2}])
    result = discover(tmp_path / "runs", "run", str(task), "--name", "e", "--iterations", "2",
                      "--progress", "quiet", "--set", "selection.islands=1",
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0")
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "runs" / "e" / "archive.sqlite") as reader:
        seed = reader.program(1)
        assert seed.status == "ok" and seed.score is not None
        inner = reader.model_calls(program=1)
        assert inner and {c.model for c in inner} == {"embedded"}
        assert len(reader.events("iteration", limit=10)) == 2
