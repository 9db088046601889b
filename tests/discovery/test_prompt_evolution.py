"""Prompt co-evolution: the UCB maths, the mutation every N iterations with a scripted meta
model, refusal of garbage mutations, the choice per iteration reproduced, the schema 3
migration from a schema 2 file."""

import json
import math
import sqlite3

import pytest
from helpers import add_scored

from archive import ArchiveReader, ArchiveWriter, ModelCall, PromptUse, PromptVariant
from archive.prompt_archive import FAILED, VariantStats, improvement, mutations, variant_stats
from archive.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version
from discovery.config import PromptEvolution
from discovery.doubles.scripted import Scripted
from discovery.models.base import CallFailed, ModelSpec
from discovery.search.prompt_evolution import (
    PURPOSE,
    MutationRefused,
    PromptArchive,
    parse_mutation,
    ucb_pick,
)
from prompts import render

GOOD = ("<NAME>small steps</NAME>\n<SYSTEM>\nYou improve Python code one careful step at a time. "
        "Reply with exactly one ```python code block holding the whole new block.\n</SYSTEM>\n"
        "<INSTRUCTION>Change one idea at a time.</INSTRUCTION>")


def _variant(vid: int, kind: str = "rewrite") -> PromptVariant:
    return PromptVariant(vid, kind, None, f"system {vid}", "", "", None, None, 0.0)


def test_improvement_is_normalised_clipped_and_failures_count_minus_one():
    assert improvement(PromptUse(3, 1, "ok", 0.7, 0.5), 0.4) == pytest.approx(0.5)
    assert improvement(PromptUse(3, 1, "ok", 0.1, 0.9), 0.4) == -1.0  # clipped
    assert improvement(PromptUse(3, 1, "ok", 0.6, 0.5), 0.0) == 1.0  # no spread: the sign
    assert improvement(PromptUse(3, 1, "crashed", None, 0.5), 0.4) == FAILED
    assert improvement(PromptUse(3, 1, "no program", None, 0.5), 0.4) == FAILED
    assert improvement(PromptUse(3, 1, None, None, None), 0.4) is None  # in flight


def test_ucb_tries_the_newest_untried_first_then_mean_plus_bonus():
    tried = [VariantStats(_variant(1), 8, 0.10), VariantStats(_variant(2), 2, 0.05)]
    assert ucb_pick([*tried, VariantStats(_variant(3), 0, 0.0),
                     VariantStats(_variant(4), 0, 0.0)], 1.0).variant.id == 4
    bonus = math.sqrt(math.log(10))
    # 0.10 + sqrt(ln 10 / 8) = 0.636 < 0.05 + sqrt(ln 10 / 2) = 1.123: the rarely tried one
    assert ucb_pick(tried, 1.0).variant.id == 2
    assert 0.10 + bonus / math.sqrt(8) < 0.05 + bonus / math.sqrt(2)
    assert ucb_pick(tried, 0.0).variant.id == 1  # no exploration: the best mean
    assert ucb_pick([VariantStats(_variant(5), 3, 0.2), VariantStats(_variant(6), 3, 0.2)],
                    1.0).variant.id == 5  # a tie goes to the oldest


@pytest.mark.parametrize(("answer", "reason"), [
    ("", "no <SYSTEM>"),
    ("I think the prompt is fine as it is.", "no <SYSTEM>"),
    ("<SYSTEM>   </SYSTEM>", "is empty"),
    ("<SYSTEM>Write better code, please.</SYSTEM>", "leaves out '```python'"),
    (f"<SYSTEM>```python {'x' * 5000}</SYSTEM>", "over the 4000 allowed"),
    ("<SYSTEM>\nsystem 1\n</SYSTEM>", "leaves out"),
])
def test_a_garbage_mutation_is_refused_with_its_reason(answer, reason):
    with pytest.raises(MutationRefused, match=reason):
        parse_mutation(answer, "rewrite", [_variant(1)], 4000)


def test_a_mutation_keeps_the_diff_markers_and_never_repeats_a_variant():
    diff = render("diff/system.md")
    with pytest.raises(MutationRefused, match="'>>>>>>> REPLACE'"):
        parse_mutation(f"<SYSTEM>{diff.replace('>>>>>>> REPLACE', 'END')}</SYSTEM>", "diff",
                       [], 4000)
    shipped = PromptVariant(1, "diff", None, diff, "", "", None, None, 0.0)
    with pytest.raises(MutationRefused, match="repeats variant #1"):
        parse_mutation(f"<SYSTEM>\n{diff}\n</SYSTEM>", "diff", [shipped], 4000)
    name, system, instruction = parse_mutation(GOOD, "rewrite", [shipped], 4000)
    assert (name, instruction) == ("small steps", "Change one idea at a time.")
    assert system.startswith("You improve Python code one careful step")


def _meta(tmp_path, *answers: str) -> dict[str, Scripted]:
    script = tmp_path / "meta.jsonl"
    script.write_text("".join(json.dumps({"text": a}) + "\n" for a in answers))
    return {"meta": Scripted(ModelSpec(name=f"scripted:{script}"), script)}


def _archive(writer, tmp_path, *answers: str, every: int = 2) -> PromptArchive:
    config = PromptEvolution(enabled=True, every=every)
    return PromptArchive(config, writer.path, _meta(tmp_path, *answers), "pack circles")


def _commit(writer: ArchiveWriter, n: int, parent: int, score: float | None) -> int:
    """Iteration n's child of `parent` and its iteration event, as the campaign commits them."""
    with writer.batch():
        child = add_scored(writer, float(n), score, parents=(parent,),
                           status="ok" if score is not None else "crashed")
        writer.log_event("iteration", {"n": n, "parent": parent, "program": child,
                                       "status": "ok" if score is not None else "crashed",
                                       "score": score}, child)
    return child


def test_off_by_default_and_on_by_the_setting(writer, tmp_path):
    assert PromptArchive.open(PromptEvolution(), writer.path, {}, "t") is None
    assert PromptArchive.open(PromptEvolution(enabled=True), writer.path, {}, "t") is not None


def test_mutation_every_n_iterations_with_a_scripted_meta_model(writer, tmp_path):
    seed = add_scored(writer, 0.0, 0.5)
    prompts = _archive(writer, tmp_path, "no tags at all", GOOD)
    spent = []  # what a running campaign's budget is told, as each call is recorded
    prompts.spent = spent.append
    shipped = prompts.choose(1, "rewrite", "meta")  # the first use: the shipped prompt
    assert (shipped.system, shipped.parent_id) == (render("rewrite/system.md"), None)
    _commit(writer, 1, seed, 0.6)
    assert prompts.choose(2, "rewrite", "meta").id == shipped.id  # not due yet: no call
    _commit(writer, 2, seed, 0.4)
    assert prompts.choose(3, "rewrite", "meta").id == shipped.id  # due: refused, nothing lost
    _commit(writer, 3, seed, 0.7)
    assert prompts.choose(4, "rewrite", "meta").id == shipped.id  # 1 since the refusal
    _commit(writer, 4, seed, None)
    fresh = prompts.choose(5, "rewrite", "meta")  # due: a new variant, tried at once
    assert (fresh.parent_id, fresh.iteration, fresh.name) == (shipped.id, 5, "small steps")
    assert fresh.instruction == "Change one idea at a time."
    events = mutations(writer)
    assert [(d["n"], d["variant"]) for d in events] == [(3, None), (5, fresh.id)]
    assert "no <SYSTEM>" in events[0]["refused"]
    calls = [c for n in (3, 5) for c in writer.model_calls(iteration=n)]
    assert [c.purpose for c in calls] == [PURPOSE, PURPOSE]  # both calls are counted
    assert [(c.purpose, c.tokens_in) for c in spent] == [(c.purpose, c.tokens_in) for c in calls]
    child = _commit(writer, 5, seed, 0.8)
    assert writer.program(child).prompt_variant == fresh.id  # stamped at commit
    stats = {s.variant.id: s for s in variant_stats(writer, "rewrite")}
    assert stats[shipped.id].uses == 4 and stats[fresh.id].uses == 1
    spread = 0.8 - 0.4  # the archive's ok scores run from 0.4 to 0.8
    rewards = [0.1 / spread, -0.1 / spread, 0.2 / spread, FAILED]
    assert stats[shipped.id].mean == pytest.approx(sum(rewards) / 4)
    assert stats[fresh.id].mean == pytest.approx(0.3 / spread)


def test_an_iteration_redone_is_asked_with_the_same_variant_and_no_new_call(writer, tmp_path):
    seed = add_scored(writer, 0.0, 0.5)
    prompts = _archive(writer, tmp_path, GOOD, GOOD, every=1)
    prompts.choose(1, "rewrite", "meta")
    _commit(writer, 1, seed, 0.6)
    first = prompts.choose(2, "rewrite", "meta")  # a mutation, then it is tried
    calls = len(writer.model_calls(iteration=2))
    # iteration 2 never committed (a kill): resume asks it again
    again = PromptArchive(prompts.config, writer.path, prompts.clients, "pack circles")
    assert again.choose(2, "rewrite", "meta") == first
    assert len(writer.model_calls(iteration=2)) == calls == 1
    assert len(writer.prompt_variants("rewrite")) == 2


def test_a_failed_meta_call_is_refused_and_the_iteration_goes_on(writer, tmp_path):
    seed = add_scored(writer, 0.0, 0.5)
    prompts = _archive(writer, tmp_path, "x", every=1)
    prompts.choose(1, "diff", "meta")
    _commit(writer, 1, seed, 0.6)
    prompts.clients = {"meta": _Failing()}
    assert prompts.choose(2, "diff", "meta").kind == "diff"
    (event,) = mutations(writer)
    assert event["refused"].startswith("the model call failed: the server is down")


class _Failing:
    def complete(self, messages, **kwargs):
        raise CallFailed("the server is down", [ModelCall("meta", PURPOSE, error="503")])


def test_a_schema_2_archive_migrates_keeping_its_programs(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])
    conn.execute("INSERT INTO campaign VALUES (1, 'old', 'toy', '{}', 0, 'v1', 0, 0)")
    conn.execute("INSERT INTO programs (code, code_hash, created_at, status, score) "
                 "VALUES ('x = 1', 'h', 0, 'ok', 0.5)")
    conn.execute("INSERT INTO events (kind, program_id, data, created_at) "
                 "VALUES ('iteration', 1, '{\"n\": 0, \"program\": 1}', 0)")
    assert schema_version(conn) == 2
    conn.close()
    with ArchiveWriter(path) as writer:  # opening it migrates
        assert schema_version(writer._conn) == SCHEMA_VERSION == 3
        program = writer.program(1)
        assert (program.code, program.score, program.prompt_variant) == ("x = 1", 0.5, None)
        assert writer.prompt_variants() == [] and writer.prompt_uses() == []
    with ArchiveReader(path) as reader:
        assert reader.program(1).status == "ok"
