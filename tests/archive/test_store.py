import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from helpers import add_scored, seed_code

from archive import (
    ArchiveError,
    ArchiveReader,
    ArchiveWriter,
    EvaluationResult,
    ModelCall,
    NewProgram,
)
from archive.sampling import parent_weights


def test_campaign_record_keeps_resolved_config_and_seed(writer):
    reader = ArchiveReader(writer.path)
    campaign = reader.campaign()
    assert (campaign.name, campaign.task, campaign.seed) == ("run", "toy", 7)
    assert campaign.config == {"task": "toy", "islands": 2}
    assert campaign.evaluator_version == "v1"
    mode = reader._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert writer._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_create_refuses_existing_archive(writer):
    with pytest.raises(ArchiveError, match="already exists"):
        ArchiveWriter.create(writer.path, name="x", task="t", config={}, seed=0,
                             evaluator_version="v")


def test_programs_keep_parents_inspirations_generation_and_diff(writer):
    a = add_scored(writer, 1.0, 0.5)
    b = add_scored(writer, 2.0, 0.6, parents=[a])
    c = writer.add_program(NewProgram(seed_code(3.0), parents=(b, a), inspirations=(a,),
                                      model="m", edit_kind="crossover", edit_text="raw edit"))
    prog = writer.program(c)
    assert prog.parents == (b, a) and prog.parent_id == b
    assert prog.inspirations == (a,)
    assert prog.generation == 2
    assert prog.status == "pending" and prog.score is None
    assert "-VALUE = 2.0\n+VALUE = 3.0" in prog.diff
    assert prog.edit_text == "raw edit"
    assert writer.program(a).n_children == 2 and writer.program(b).n_children == 1
    assert writer.children(a) == [b, c]
    assert writer.ancestry(c) == [a, b, c]
    assert writer.find_by_hash(seed_code(2.0) + "   \n") == [b]
    assert [p.id for p in writer.pending()] == [c]


def test_unknown_ids_are_clear_errors(writer):
    a = add_scored(writer, 1.0, 0.5)
    with pytest.raises(ArchiveError, match="no program 99"):
        writer.add_program(NewProgram("x = 1\n", parents=(99,)))
    with pytest.raises(ArchiveError, match=r"unknown program id among \[42\]"):
        writer.add_program(NewProgram("x = 1\n", parents=(a,), inspirations=(42,)))
    with pytest.raises(ArchiveError, match="unknown program id"):
        writer.record_evaluation(1234, EvaluationResult("full", "ok", score=1.0))
    # The failed writes left nothing behind.
    assert writer.count() == 1 and writer.program(a).n_children == 0


def test_staged_evaluation_sets_status_from_final_or_failed_stage(writer):
    pid = writer.add_program(NewProgram(seed_code(1.0)))
    writer.record_evaluation(pid, EvaluationResult("smoke", "ok"), final=False)
    assert writer.program(pid).status == "pending"
    writer.record_evaluation(pid, EvaluationResult(
        "full", "ok", score=0.7, public_metrics={"a": 1.0, "bad": math.nan},
        private_metrics={"held_out": 0.1}))
    prog = writer.program(pid)
    assert (prog.status, prog.score, prog.evaluator_version) == ("ok", 0.7, "v1")
    evals = writer.evaluations(pid)
    assert [e.stage for e in evals] == ["smoke", "full"]
    assert evals[1].public_metrics == {"a": 1.0, "bad": None}
    assert evals[1].private_metrics == {"held_out": 0.1}

    failed = writer.add_program(NewProgram(seed_code(2.0)))
    writer.record_evaluation(failed, EvaluationResult("smoke", "crashed", reason="ValueError"),
                             final=False)
    assert writer.program(failed).status == "crashed"


@pytest.mark.parametrize("score", [None, math.nan, math.inf])
def test_ok_final_evaluation_needs_finite_score(writer, score):
    pid = writer.add_program(NewProgram(seed_code(1.0)))
    with pytest.raises(ArchiveError, match="finite score"):
        writer.record_evaluation(pid, EvaluationResult("full", "ok", score=score))
    assert writer.program(pid).status == "pending"


def test_unknown_status_is_refused(writer):
    pid = writer.add_program(NewProgram(seed_code(1.0)))
    with pytest.raises(ArchiveError, match="unknown evaluation status 'great'"):
        writer.record_evaluation(pid, EvaluationResult("full", "great", score=1.0))


def test_batch_is_all_or_nothing(writer):
    with pytest.raises(RuntimeError), writer.batch():
        writer.add_program(NewProgram(seed_code(1.0)))
        writer.record_model_call(ModelCall("m", "propose", tokens_in=10))
        raise RuntimeError("crash mid-iteration")
    assert writer.count() == 0
    assert writer.summary().tokens_in == 0


def test_reports(writer):
    a = add_scored(writer, 1.0, 0.2)
    add_scored(writer, 2.0, 0.9, parents=[a])
    add_scored(writer, 3.0, 0.5, parents=[a])
    add_scored(writer, 4.0, None, parents=[a], status="crashed")
    writer.record_model_call(ModelCall("m1", "propose", tokens_in=100, tokens_out=10, cost=0.5,
                                       latency_s=2.0, program_id=a))
    writer.record_model_call(ModelCall("m1", "propose", tokens_in=50, latency_s=4.0,
                                       error="RateLimitError"))
    writer.record_model_call(ModelCall("m2", "repair", tokens_in=1, tokens_out=1, cost=0.1))
    summary = writer.summary()
    assert summary.counts["ok"] == 3 and summary.counts["crashed"] == 1
    assert summary.total == 4
    assert summary.best.score == 0.9
    assert (summary.tokens_in, summary.tokens_out) == (151, 11)
    assert summary.cost == pytest.approx(0.6)
    assert writer.score_history() == [0.2, 0.9, 0.9]
    assert writer.failures_by_reason() == [("crashed", "boom", 1)]
    usage = {u.model: u for u in writer.model_usage()}
    assert usage["m1"].calls == 2 and usage["m1"].errors == 1
    assert usage["m1"].mean_latency_s == pytest.approx(3.0)
    assert writer.purpose_totals("repair") == (1, 2, pytest.approx(0.1))
    assert writer.purpose_totals("propose", "repair") == (3, 162, pytest.approx(0.6))


def test_rankings_ignore_scores_from_another_evaluator_version(writer):
    add_scored(writer, 1.0, 0.9)
    writer.set_evaluator_version("v2")
    assert writer.best() is None and writer.top_k(5) == []
    b = add_scored(writer, 2.0, 0.1)
    assert writer.best().id == b
    assert writer.events("evaluator_changed")[0][2] == {"from": "v1", "to": "v2"}


def test_top_k_per_island_and_weighted_sampling(writer):
    ids = {}
    for i in range(40):
        ids[i] = add_scored(writer, float(i), i / 40, island=i % 2)
    top = writer.top_k(3, island=0)
    assert [p.score for p in top] == [38 / 40, 36 / 40, 34 / 40]
    assert all(p.island == 0 for p in top)
    draws = [writer.sample_parent(random.Random(5), island=1).id for _ in range(3)]
    assert len(set(draws)) == 1  # same seed, same draw
    rng = random.Random(0)
    counts = {}
    for _ in range(2000):
        pid = writer.sample_parent(rng, island=1).id
        counts[pid] = counts.get(pid, 0) + 1
    assert counts.get(ids[39], 0) > 5 * counts.get(ids[1], 0)
    assert writer.sample_parent(rng, island=7) is None


def test_parent_weights_follow_the_rule():
    w = parent_weights([0.0, 1.0, 2.0], [0, 0, 0], lam=1.0)
    assert w[1] == pytest.approx(0.5)
    assert w[2] == pytest.approx(1 / (1 + math.exp(-1)))
    assert parent_weights([1.0, 2.0], [0, 1], lam=1.0)[1] < parent_weights([1.0, 2.0], [0, 0],
                                                                         lam=1.0)[1]
    assert all(math.isfinite(x) for x in parent_weights([3.0, 3.0, 3.0], [0, 0, 0], lam=10))


def test_ranking_queries_use_the_index_not_a_scan(writer):
    add_scored(writer, 1.0, 0.5)
    for island in (None, 0):
        where = "status = 'ok' AND evaluator_version = 'v1'" + (
            " AND island = 0" if island is not None else "")
        plan = " ".join(r[3] for r in writer._conn.execute(
            f"EXPLAIN QUERY PLAN SELECT id, score, n_children FROM programs WHERE {where} "
            "ORDER BY score DESC, id LIMIT 10"))
        assert "USING INDEX programs_ranking" in plan, plan  # either ranking index
        assert "SCAN" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_reader_sees_commits_while_a_writer_is_mid_transaction(writer):
    add_scored(writer, 1.0, 0.5)
    reader = ArchiveReader(writer.path)
    with writer.batch():
        writer.add_program(NewProgram(seed_code(2.0)))
        assert reader.count() == 1  # snapshot: the open transaction is invisible, not blocking
    assert reader.count() == 2
    with pytest.raises(sqlite3.OperationalError):
        reader._conn.execute("DELETE FROM programs")


def _run_child(script: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)],
                            cwd=os.getcwd(), stdout=subprocess.PIPE, text=True)


def test_reader_inspects_a_campaign_written_by_another_process(tmp_path):
    path = tmp_path / "live" / "archive.sqlite"
    child = _run_child(f"""
        from discovery.doubles.synthetic import generate
        generate({str(path.parent)!r}, 1500, seed=1)
    """)
    seen = []
    while child.poll() is None:
        if path.exists():
            try:
                with ArchiveReader(path) as reader:
                    seen.append(reader.count())
            except ArchiveError:
                pass  # created but campaign row not committed yet
    assert child.returncode == 0
    assert seen == sorted(seen) and len(seen) > 2
    assert ArchiveReader(path).count() == 1500 + len(ArchiveReader(path).events("migration"))


def test_kill_minus_nine_loses_only_the_open_transaction(tmp_path):
    path = tmp_path / "k" / "archive.sqlite"
    child = _run_child(f"""
        import os, signal
        from archive import ArchiveWriter, EvaluationResult, NewProgram
        w = ArchiveWriter.create({str(path)!r}, name="k", task="t", config={{}}, seed=0,
                                 evaluator_version="v")
        for i in range(50):
            with w.batch():
                pid = w.add_program(NewProgram(f"x = {{i}}\\n"))
                w.record_evaluation(pid, EvaluationResult("full", "ok", score=float(i)))
        with w.batch():
            w.add_program(NewProgram("half = True\\n"))
            print("ready", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert child.stdout.readline().strip() == "ready"
    child.wait()
    assert child.returncode == -signal.SIGKILL
    with ArchiveReader(path) as reader:
        assert reader.count() == 50
        assert reader.status_counts()["pending"] == 0
        assert reader.best().score == 49.0
