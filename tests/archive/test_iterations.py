"""Iterations, model calls by iteration and call id, the held-out result, and failure reasons
grouped by meaning: the archive's side of `discover iteration` and `discover status`."""

import json
import sqlite3

import pytest
from helpers import add_scored, discover

from archive import ArchiveError, ArchiveReader, ModelCall, reason_key
from archive.schema import MIGRATIONS, migrate


def iteration_event(writer, n: int, program: int | None, **data) -> None:
    writer.log_event("iteration", {"n": n, "op": "llm", "island": 0, "model": "m",
                                   "program": program, "turns": 1, "evaluations": 0, **data},
                     program)


def test_iterations_with_and_without_programs_and_their_calls(writer):
    pid = add_scored(writer, 1.0, 0.5)
    writer.record_model_call(ModelCall("m", "propose", 10, 5, iteration=0, program_id=pid,
                                       call_id="a1"))
    iteration_event(writer, 0, pid, status="ok", score=0.5, valid_edit=True)
    for purpose in ("propose", "repair"):
        writer.record_model_call(ModelCall("m", purpose, 7, 3, cost=0.25, iteration=1))
    iteration_event(writer, 1, None, status="no program", valid_edit=False,
                    reason="the python code block is never closed")
    # a model problem stopped the campaign during iteration 2: calls, no event
    writer.record_model_call(ModelCall("m", "propose", error="AuthenticationError", iteration=2))

    found = writer.iterations()
    assert [i.n for i in found] == [0, 1, 2]
    done, refused, unfinished = found
    assert (done.program_id, done.status, done.calls, done.tokens) == (pid, "ok", 1, 15)
    assert refused.program_id is None and refused.valid_edit is False
    assert refused.reason == "the python code block is never closed"
    assert (refused.calls, refused.tokens, refused.cost) == (2, 20, 0.5)
    assert not unfinished.committed and unfinished.status == "unfinished"
    assert unfinished.calls == 1
    assert [i.n for i in writer.iterations(1, 1)] == [1] == [writer.iteration(1).n]
    assert [c.purpose for c in writer.model_calls(iteration=1)] == ["propose", "repair"]
    (call,) = writer.model_calls(program=pid)
    assert (call.call_id, call.iteration, call.tokens_in) == ("a1", 0, 10)
    assert writer.refusals_by_reason() == [("llm", "the python code block is never closed", 1)]
    with pytest.raises(ArchiveError, match=r"no iteration 7 .* iterations run from 0 to 1"):
        writer.iteration(7)


def test_no_iteration_yet_is_said(writer):
    with pytest.raises(ArchiveError, match=r"no iteration 0 .* no iteration yet"):
        writer.iteration(0)


def test_held_out_is_the_newest_measured_one_with_its_gap(writer):
    assert writer.held_out() is None
    pid = add_scored(writer, 1.0, 2.5)
    writer.log_event("campaign_stopped", {"reason": "budget: iterations", "program": pid,
                                          "held_out": {"held_out_score": 2.25,
                                                       "held_out_status": "ok",
                                                       "held_out_n": 32}}, pid)
    writer.log_event("campaign_stopped", {"reason": "interrupted", "held_out": None,
                                          "program": pid}, pid)
    held = writer.held_out()
    assert (held.program_id, held.search_score, held.score, held.status) == (pid, 2.5, 2.25, "ok")
    assert held.gap == pytest.approx(-0.25) and held.metrics["held_out_n"] == 32


def test_held_out_of_a_task_error_has_its_reason_and_no_gap(writer):
    pid = add_scored(writer, 1.0, 2.5)
    writer.log_event("campaign_stopped", {"reason": "r", "program": pid, "held_out": {
        "held_out_status": "task error", "held_out_reason": "scorer raised"}}, pid)
    held = writer.held_out()
    assert (held.status, held.reason, held.score, held.gap) == ("task error", "scorer raised",
                                                                None, None)


def test_reasons_group_by_their_words_not_their_numbers():
    assert reason_key("two circles overlap (circles 2 and 3, by 0.0123)") == \
        "two circles overlap (circles N and N, by N)"
    assert reason_key("construct_packing must return (centers, radii)") == \
        "construct_packing must return (centers, radii)"
    assert reason_key("x2 is not float64 at line 12.") == "x2 is not float64 at line N."
    assert reason_key(None) == reason_key("  ") == "(no reason given)"


def test_failures_keep_what_they_say(writer):
    for pair in ("1 and 2", "3 and 4"):
        add_scored(writer, 1.0, None, status="invalid")
        writer._conn.execute("UPDATE evaluations SET reason = ? WHERE id = (SELECT max(id) FROM "
                             "evaluations)", (f"two circles overlap (circles {pair})",))
    add_scored(writer, 2.0, None, status="invalid")
    writer._conn.execute("UPDATE evaluations SET reason = 'construct_packing must return "
                         "(centers, radii)' WHERE id = (SELECT max(id) FROM evaluations)")
    assert writer.failures_by_reason() == [
        ("invalid", "two circles overlap (circles N and N)", 2),
        ("invalid", "construct_packing must return (centers, radii)", 1)]


def v1_archive(path) -> None:
    """An archive as schema 1 wrote it: calls with no iteration, a refused edit's calls with no
    program, the iteration events, a stop with a held-out result."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:1])
    conn.execute("INSERT INTO campaign VALUES (1, 'old', 'toy', '{}', 0, 'v1', 0, 0)")
    conn.execute("INSERT INTO programs (id, code, code_hash, created_at, status, score, "
                 "evaluator_version) VALUES (1, 'x = 1', 'h', 1.0, 'ok', 0.5, 'v1')")
    calls = [(None, "propose", 2.0), (None, "repair", 2.1), (1, "propose", 3.0),
             (1, "agent", 9.0)]  # the last: the held-out run at the stop
    conn.executemany("INSERT INTO model_calls (program_id, model, purpose, created_at) "
                     "VALUES (?, 'm', ?, ?)", calls)
    for n, program, at in ((0, None, 2.5), (1, 1, 3.5)):
        conn.execute("INSERT INTO events (kind, program_id, data, created_at) VALUES "
                     "('iteration', ?, ?, ?)", (program, json.dumps(
                         {"n": n, "op": "llm", "program": program,
                          "status": "ok" if program else "no program",
                          "reason": None if program else "no code block"}), at))
    conn.execute("INSERT INTO events (kind, program_id, data, created_at) VALUES "
                 "('campaign_stopped', 1, ?, 10.0)",
                 (json.dumps({"reason": "budget", "held_out": {"held_out_score": 0.4}}),))
    conn.close()


def test_a_v1_archive_opens_and_shows_its_iterations(tmp_path):
    path = tmp_path / "archive.sqlite"
    v1_archive(path)
    with ArchiveReader(path) as reader:
        refused, made = reader.iterations()
        assert (refused.n, refused.program_id, refused.reason) == (0, None, "no code block")
        assert refused.calls == 0  # its calls named no program: nothing links them
        assert (made.n, made.program_id, made.calls) == (1, 1, 1)
        assert [c.purpose for c in reader.model_calls(iteration=1)] == ["propose"]
        assert all(c.call_id is None for c in reader.model_calls(program=1))
        held = reader.held_out()
        assert (held.program_id, held.score, held.status) == (1, 0.4, "ok")
        assert held.gap == pytest.approx(-0.1)


def test_the_cli_shows_a_v1_archives_iterations(tmp_path):
    (tmp_path / "old").mkdir()
    v1_archive(tmp_path / "old" / "archive.sqlite")
    refused = discover(tmp_path, "iteration", "old", "0")
    assert refused.exit_code == 0, refused.output
    assert "no code block" in refused.output and "model calls" in refused.output
    made = discover(tmp_path, "iteration", "old", "1")
    assert "call 1: propose" in made.output and "not in the transcript" in made.output
    status = discover(tmp_path, "status", "old")
    assert status.exit_code == 0, status.output
    assert "1 made no program" in status.output and "held-out 0.4" in status.output


def test_a_run_with_no_held_out_stage_shows_none(writer):
    pid = add_scored(writer, 1.0, 0.5)
    iteration_event(writer, 0, pid, status="ok", score=0.5)
    writer.log_event("campaign_stopped", {"reason": "budget: iterations", "held_out": None,
                                          "program": pid}, pid)
    runs = writer.path.parent.parent
    for command in (["status"], ["show", str(pid)], ["lineage"]):
        result = discover(runs, *command[:1], "run", *command[1:])
        assert result.exit_code == 0, result.output
        assert "held-out" not in result.output and "#1" in result.output
