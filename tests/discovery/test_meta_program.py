"""Proposers as programs (discovery/meta/program.py): the seed proposer program makes the same
archive as the built-in proposer; a proposer that breaks costs its own proposals, never the
campaign; `--proposer` takes an exported module or a run. Scripted answers (a test double)
stand in for the meta model."""

import sqlite3

import pytest
from helpers import SCRIPT, discover, run_scripted

from archive import ArchiveReader
from discovery.meta.program import SEED_FILE

MODEL = f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]'


def children(runs, name):
    """Each program's code and status, and each iteration's proposal failure, in order."""
    with ArchiveReader(runs / name / "archive.sqlite") as reader:
        programs = [(p.code, p.status, p.score) for p in reader.programs(range(1, 10**4))]
    with sqlite3.connect(runs / name / "archive.sqlite") as db:
        calls = db.execute("SELECT purpose, raw_response FROM model_calls ORDER BY id").fetchall()
    return programs, calls


def test_the_seed_proposer_program_makes_the_builtin_archive(tmp_path):
    run_scripted(tmp_path, "builtin", 6, MODEL, "executor='fresh'")
    run_scripted(tmp_path, "program", 6, MODEL, "executor='fresh'", "proposer.program='seed'")
    builtin, program = children(tmp_path, "builtin"), children(tmp_path, "program")
    assert len(builtin[0]) > 3 and builtin == program


def broken(tmp_path, body: str) -> str:
    path = tmp_path / "broken_proposer.py"
    path.write_text(SEED_FILE.read_text().replace(
        'return tools.model(request["messages"])', body))
    return str(path)


@pytest.mark.parametrize("body", [
    'raise RuntimeError("no idea")',
    "while True: pass",
    "return 42",
    "return [tools.model(request['messages']) for _ in range(100)][-1]",
    "import os; os._exit(3)",
])
def test_a_broken_proposer_costs_its_proposals_never_the_campaign(tmp_path, body):
    run_scripted(tmp_path, "b", 3, MODEL, "executor='fresh'", "proposer.wall_s=3",
                 "proposer.model_calls=2", f"proposer.program={broken(tmp_path, body)!r}")
    with ArchiveReader(tmp_path / "b" / "archive.sqlite") as reader:
        iterations = [d for _, _, d in reader.events("iteration", limit=10)]
        assert {p.edit_kind for p in reader.programs(range(1, 100))} == {"seed"}
        assert reader.best().score is not None
    proposals = [d["reason"] for d in iterations if d["op"] == "llm"]
    assert len(iterations) == 3 and proposals
    assert all(r.startswith("model call failed: the proposer program") for r in proposals), \
        proposals


def test_a_proposer_that_is_not_one_is_refused_in_one_line(tmp_path):
    path = tmp_path / "nothing.py"
    path.write_text("def main(oracle):\n    return 0\n")
    for spec, words in [(str(path), "defines no propose()"), ("nope", "no campaign 'nope'"),
                        (str(tmp_path / "gone.py"), "cannot read")]:
        result = discover(tmp_path, "run", "circle_packing", "--iterations", "1", "--progress",
                          "quiet", "--set", MODEL, "--set", f"proposer.program={spec!r}")
        assert result.exit_code != 0 and words in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir()) or [p.name for p in tmp_path.iterdir()] == [
        "nothing.py"]


def test_a_proposer_may_answer_a_whole_child_program_in_a_diff_campaign(tmp_path):
    """No model's answer is used: the program writes the child itself, from its parent."""
    body = ('return request["parent"]["code"].replace("aspect = 1.0", "aspect = 0.8")'
            ' if request["parent"] else ""')
    model = f'models=[{{name="scripted:{SCRIPT}", edit_mix={{diff=1.0}}}}]'
    run_scripted(tmp_path, "w", 3, model, "executor='fresh'", "selection.islands=1",
                 "edits.novelty_threshold=1.0",
                 f"proposer.program={broken(tmp_path, body)!r}")
    with ArchiveReader(tmp_path / "w" / "archive.sqlite") as reader:
        child = reader.program(2)
        assert child.edit_kind == "diff" and "aspect = 0.8" in child.code
        assert child.score > reader.program(1).score
