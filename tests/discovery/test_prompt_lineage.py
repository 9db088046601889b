"""The parent's lineage in the proposal prompt: what a scripted campaign's prompts carry, that
`discover lineage` shows the same facts, the token bound on a deep lineage, and the option that
turns it off."""

import json
import re

import pytest
from helpers import SCRIPT, add_scored, discover, junk_model, run_scripted

from archive import ArchiveReader
from archive.lineage_facts import lineage_facts
from discovery.loop.campaign import Campaign
from discovery.loop.proposer import estimate_tokens, lineage_text
from discovery.search.edits import design_notes

HEADING = "How this code came to be, newest step first"
_STEP = re.compile(r"- #(\d+) (\S+): (.*?) -> (.*)")


def _steps(block: str) -> list[tuple[int, str, str, str]]:
    """(id, edit kind, what changed, outcome) of each step line, in order."""
    return [(int(m[1]), m[2], m[3], m[4]) for m in map(_STEP.fullmatch, block.splitlines()) if m]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A scripted circle-packing campaign whose good answer names its design."""
    runs = tmp_path_factory.mktemp("runs")
    answers = [json.loads(line) for line in SCRIPT.read_text().splitlines()]
    answers[1]["text"] = answers[1]["text"].replace(
        '"""A k x k grid', '"""Grid with holes\n\n    A k x k grid')
    script = runs / "named.jsonl"
    script.write_text("".join(json.dumps(a) + "\n" for a in answers))
    run_scripted(runs, "l", 12, junk_model(script), "selection.islands=1", "executor='fresh'",
                 "parallel.lag=0")  # every prompt sees the commit before it: the script's order
    return runs


def test_later_prompts_carry_the_parents_lineage(campaign):
    records = [json.loads(line) for line in
               (campaign / "l" / "transcript.jsonl").read_text().splitlines()]
    prompts = [r["messages"][1]["content"] for r in records if len(r["messages"]) == 2
               and r["messages"][1]["content"].startswith("Task:")]
    with_lineage = [p for p in prompts if HEADING in p]
    assert with_lineage == prompts  # on by default, in every proposal prompt
    deep = [p for p in prompts if len(_steps(p.split("Changes to this code")[0])) >= 2]
    assert deep, "a later prompt builds on a child of the seed"
    prompt = deep[-1]
    ancestry = _steps(prompt.split("Changes to this code")[0])
    with ArchiveReader(campaign / "l" / "archive.sqlite") as reader:
        ids = [step[0] for step in ancestry]
        assert ids == reader.ancestry(ids[0])[::-1]  # the parent first, back to the seed
        for (pid, kind, change, outcome), parent in zip(ancestry, ids[1:], strict=False):
            program = reader.program(pid)
            delta = program.score - reader.program(parent).score
            assert kind == program.edit_kind == "rewrite"
            assert outcome.startswith(f"{program.score:.6g} ({delta:+.4g})")
            notes = design_notes(program.code)
            if notes:
                assert change == f'"{notes.name}"'
            else:
                assert re.fullmatch(r"changed construct_packing \(\+\d+ -\d+ lines\)", change)
        assert ancestry[-1][1:3] == ("seed", "the starting program")
    assert any('"Grid with holes"' in p for p in prompts)
    failed = [p for p in prompts if "failed; the newest that did not help:" in p]
    assert any("-> invalid: two circles overlap" in p for p in failed), failed


def test_discover_lineage_shows_the_facts_of_the_prompt(campaign, monkeypatch):
    with ArchiveReader(campaign / "l" / "archive.sqlite") as reader:
        best = reader.best()
        parent = next(p for p in reader.programs(range(1, reader.count() + 1))
                      if p.parent_id is not None and reader.children(p.id))
        facts = {pid: lineage_facts(reader, pid, 8, notes=design_notes)
                 for pid in (best.id, parent.id)}
    monkeypatch.setenv("COLUMNS", "400")  # one table row a line
    for pid, fact in facts.items():
        result = discover(campaign, "lineage", "l", "--program", str(pid))
        assert result.exit_code == 0, result.output
        rows = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
        for step in (*fact.steps, *fact.setbacks):
            row = f"#{step.id} {step.edit_kind} {step.change} {step.outcome()}"
            assert any(r.startswith(row) for r in rows), (row, result.output)
        text = lineage_text(fact, 500)
        assert all(f"#{s[0]} " in result.output for s in _steps(text))


def test_the_prompt_is_the_lineage_text_and_depth_zero_removes_it(campaign):
    def prompt(*overrides: str) -> str:
        run = Campaign.resume(campaign / "l", lambda event: None, list(overrides))
        try:
            plan = run._plan(100)
            plan.parent, plan.edit_format, plan.inspirations = parent, "rewrite", []
            return run.proposer.messages(plan)[1]["content"]
        finally:
            run.close()

    with ArchiveReader(campaign / "l" / "archive.sqlite") as reader:
        parent = next(p for p in reader.programs(range(1, reader.count() + 1))
                      if reader.child_failures(p.id))
        expected = lineage_text(lineage_facts(reader, parent.id, 8, notes=design_notes), 500)
        failures = reader.child_failures(parent.id, 3)
    assert failures and "Changes to this code so far" in expected
    assert expected in prompt()
    off = prompt("prompts.lineage_depth=0")
    assert HEADING not in off and "Changes to this code" not in off
    assert "Recent changes to this code failed: " + "; ".join(failures) in off
    shown = discover(campaign, "lineage", "l").output  # as the campaign now prompts: none
    assert "★ best" in shown and "newest step first" not in shown


def test_a_deep_lineage_stays_within_its_token_bound(writer):
    ids = [add_scored(writer, 0.0, 0.0)]
    for i in range(1, 500):  # every odd step a dip that the next step recovers from
        ids.append(add_scored(writer, float(i), i / 1000 - (i % 2) * 0.0015,
                              parents=[ids[-1]], edit_kind="diff"))
    reader = ArchiveReader(writer.path)
    facts = lineage_facts(reader, ids[-1], 500)
    assert len(facts.steps) == 500 and facts.older == 0
    assert all(s.change == "changed VALUE (+1 -1 lines)" for s in facts.steps[:-1])
    assert [s.stepping_stone for s in facts.steps[:4]] == [False, False, True, False]
    for bound in (100, 300, 2000):
        text = lineage_text(facts, bound)
        assert estimate_tokens(text) <= bound
        steps = _steps(text)
        assert [s[0] for s in steps] == ids[::-1][:len(steps)]  # the newest kept
        omitted = int(re.search(r"\((\d+) older steps, back to the first program #1, left out",
                                text)[1])
        assert omitted == 500 - len(steps)
    assert len(_steps(lineage_text(facts, 2000))) > len(_steps(lineage_text(facts, 300))) >= 1
    everything = lineage_text(facts, 10**6)
    assert len(_steps(everything)) == 500 and "left out" not in everything
