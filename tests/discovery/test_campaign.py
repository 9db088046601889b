"""Campaigns end to end: a scripted model (hand-written answers), real sandboxed evaluation,
the real archive; kill -9 and resume of a real subprocess; the embedded model for a few turns."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
from helpers import SCRIPT, SCRIPTED, discover, junk_model, run_scripted
from rich.console import Console

from archive import ArchiveError, ArchiveReader
from discovery.cli.campaigns import Output
from discovery.doubles.mock_server import MockServer
from discovery.loop.campaign import Campaign
from discovery.loop.liveness import Liveness
from discovery.views import CampaignProgress, iteration_counts
from evaluators.task import task_folders


def test_scripted_circle_packing_campaign_improves_on_its_seed(tmp_path):
    result = discover(tmp_path, "run", "circle_packing", "--name", "c", "--iterations", "8",
                      "--progress", "jsonl", *SCRIPTED)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    with ArchiveReader(tmp_path / "c" / "archive.sqlite") as reader:
        best = reader.best()
        seed_score = reader.program(1).score
        assert best.score > seed_score
        assert best.score == pytest.approx(2.5 + 0.1 * (2 ** 0.5 - 1))
        assert best.edit_kind == "rewrite" and best.parent_id is not None
        assert reader.ancestry(best.id)[0] in (1, 2)
        iterations = reader.events("iteration", limit=100)
        assert sorted(d["n"] for _, _, d in iterations) == list(range(8))
        _, valid, proposals = iteration_counts(reader)
        assert proposals > 0 and 0 < valid <= proposals
        repaired = [d for _, _, d in iterations if d["turns"] == 2]
        assert repaired, "the answer without code got a repair turn"
        failures = dict(((s, r), n) for s, r, n in reader.failures_by_reason())
        assert ("invalid", "two circles overlap (circles N and N, by N)") in failures
        config = reader.campaign().config
        assert config["budgets"]["iterations"] == 8 and config["edits"]["tune_share"] == 0
        operators = {kind: score for kind, score, _ in reader.best_by_operator()}
        assert operators["rewrite"] == best.score > operators["seed"] == seed_score
    assert events[-1]["event"] == "stopped" and events[-1]["held_out"]["held_out_status"] == "ok"
    exported = tmp_path / "c" / "best" / "best_program.py"
    check = subprocess.run([sys.executable, "-I", "-c",
                            f"import sys; sys.path.insert(0, {str(exported.parent)!r})\n"
                            "import best_program as b; print(b.__provenance__['score'])"],
                           capture_output=True, text=True, timeout=60)
    assert float(check.stdout) == pytest.approx(best.score)


def test_same_seed_same_campaign(tmp_path):
    for name in ("a", "b"):
        assert discover(tmp_path, "run", "circle_packing", "--name", name, "--iterations", "6",
                        "--progress", "quiet", *SCRIPTED).exit_code == 0
    runs = []
    for name in ("a", "b"):
        with ArchiveReader(tmp_path / name / "archive.sqlite") as reader:
            runs.append([(p.code, p.parents, p.status, p.score, p.island)
                         for p in reader.programs(range(1, reader.count() + 1))])
    assert runs[0] == runs[1]


def test_kill_minus_nine_then_resume_loses_and_duplicates_nothing(tmp_path):
    cmd = [sys.executable, "-m", "discovery", "--runs-dir", str(tmp_path), "run",
           "circle_packing", "--name", "k", "--iterations", "14", "--progress", "jsonl",
           *SCRIPTED]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    committed = 0
    for line in child.stdout:
        if line.startswith("{") and "n" in json.loads(line):
            committed += 1
        if committed == 5:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    with ArchiveReader(tmp_path / "k" / "archive.sqlite") as reader:
        before = reader.count()
        done = sorted(d["n"] for _, _, d in reader.events("iteration", limit=100))
    assert 5 <= len(done) < 14
    result = discover(tmp_path, "resume", "k", "--progress", "quiet")
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "k" / "archive.sqlite") as reader:
        numbers = sorted(d["n"] for _, _, d in reader.events("iteration", limit=100))
        assert numbers == list(range(14))  # every iteration exactly once
        assert reader.count() >= before
        programs = {d["program"] for _, _, d in reader.events("iteration", limit=100)} - {None}
        assert len(programs) == reader.count()  # each program belongs to one iteration
        assert reader.events("campaign_resumed")


def test_config_mistakes_are_one_line_errors(tmp_path):
    typo = discover(tmp_path, "run", "circle_packing", "--set", "selection.islnds=3")
    assert typo.exit_code == 1 and "did you mean 'islands'?" in typo.stderr
    unknown = discover(tmp_path, "run", "no_such_task")
    assert unknown.exit_code == 1 and "unknown task 'no_such_task'" in unknown.stderr
    garbage = tmp_path / "c.toml"
    garbage.write_text("this is = not [toml")
    bad = discover(tmp_path, "run", "circle_packing", "--config", str(garbage))
    assert bad.exit_code == 1 and "is not valid TOML" in bad.stderr
    unmarked = tmp_path / "unmarked"
    shutil.copytree(task_folders()["circle_packing"], unmarked)
    seed = unmarked / "seed.py"
    seed.write_text("".join(line for line in seed.read_text().splitlines(keepends=True)
                            if "EVOLVE-BLOCK" not in line))
    no_markers = discover(tmp_path, "run", str(unmarked))
    assert no_markers.exit_code == 1 and "seed.py: the program needs exactly one # EVOLVE-BLOCK" \
        "-START ... # EVOLVE-BLOCK-END region; mark the code" in no_markers.stderr
    assert not any(tmp_path.glob("*/archive.sqlite"))


def test_a_model_that_answers_only_garbage_keeps_the_campaign_going(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text(json.dumps({"text": "no code here, sorry"}) + "\n")
    run_scripted(tmp_path, "j", 5, junk_model(junk))
    status = discover(tmp_path, "status", "j")
    assert "valid edits 0/3 model proposals" in status.output
    assert "last stop          budget: iterations" in status.output
    with ArchiveReader(tmp_path / "j" / "archive.sqlite") as reader:
        assert iteration_counts(reader)[1:] == (0, 3)
        reasons = [d["reason"] for _, _, d in reader.events("iteration") if d["op"] == "llm"]
        assert all("no ```python code block" in r for r in reasons)


@pytest.mark.skipif(os.environ.get("DISCOVERY_SKIP_EMBEDDED") == "1", reason="opted out")
def test_embedded_model_short_campaign_records_its_valid_edit_rate(tmp_path):
    pytest.importorskip("xllamacpp")
    result = discover(tmp_path, "run", "function_minimisation", "--name", "e",
                      "--iterations", "4", "--progress", "quiet", "--set",
                      "selection.islands=1", "--set", "edits.tune_share=0", "--set",
                      "edits.restart_share=0", "--set", "edits.repair_turns=0")
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "e" / "archive.sqlite") as reader:
        _, valid, proposals = iteration_counts(reader)
        assert proposals == 3 and 0 <= valid <= 3
        assert reader.model_usage()[0].model == "embedded"
        assert reader.best() is not None


def test_a_stuck_island_is_reseeded_and_elites_migrate(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text(json.dumps({"text": "no code"}) + "\n")
    run_scripted(tmp_path, "s", 16, junk_model(junk), "selection.stagnation=3",
                 "selection.migration_every=10", "edits.repair_turns=0")
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        ops = {d["n"]: d["op"] for _, _, d in reader.events("iteration", limit=100)}
        copies = [reader.program(d["program"]) for _, _, d in reader.events("iteration", 100)
                  if d["op"] in ("reseed", "migration")]
    assert "reseed" in ops.values() and ops[10] == "migration"
    for copy in copies:
        assert copy.status == "ok" and copy.island != reader_island(tmp_path, copy.parent_id)


def reader_island(tmp_path, program_id):
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        return reader.program(program_id).island


def test_diff_and_crossover_formats_in_a_campaign(tmp_path):
    script = tmp_path / "mixed.jsonl"
    diff = ("<<<<<<< SEARCH\n    shift = 0.5  # every other row moves right by this share of "
            "a cell\n=======\n    shift = 0.5 - 1e-6\n>>>>>>> REPLACE")
    good = json.loads(SCRIPT.read_text().splitlines()[1])["text"]
    script.write_text(json.dumps({"text": diff}) + "\n" + json.dumps({"text": good}) + "\n")
    model = f'models=[{{name="scripted:{script}", edit_mix={{diff=1.0, crossover=1.0}}}}]'
    run_scripted(tmp_path, "m", 12, model, "selection.islands=1", "executor='fresh'")
    with ArchiveReader(tmp_path / "m" / "archive.sqlite") as reader:
        programs = reader.programs(range(1, reader.count() + 1))
    diffs = [p for p in programs if p.edit_kind == "diff"]
    crossovers = [p for p in programs if p.edit_kind == "crossover"]
    assert diffs and "shift = 0.5 - 1e-6" in diffs[0].code
    assert diffs[0].code.count("# EVOLVE-BLOCK-START") == 1
    assert crossovers and all(len(p.parents) == 2 for p in crossovers)


def test_scratchpad_insights_are_stored_and_reach_later_prompts(tmp_path):
    script = tmp_path / "insightful.jsonl"
    script.write_text(json.dumps({"text": "- grids waste space\n- try hexagons\nno code"}) + "\n")
    run_scripted(tmp_path, "p", 9, junk_model(script), "edits.scratchpad_every=4",
                 "edits.repair_turns=0")
    with ArchiveReader(tmp_path / "p" / "archive.sqlite") as reader:
        pads = reader.events("scratchpad")
        purposes = [r[0] for r in reader._conn.execute("SELECT purpose FROM model_calls")]
    assert pads and pads[0][2]["insights"] == "- grids waste space\n- try hexagons"
    assert "scratchpad" in purposes

    campaign = Campaign.resume(tmp_path / "p", lambda event: None)
    try:
        parent = campaign.writer.best()
        plan = campaign._plan(100)
        plan.parent, plan.edit_format, plan.inspirations = parent, "rewrite", []
        prompt = campaign.proposer.messages(plan)[1]["content"]
    finally:
        campaign.close()
    assert "Insights from the search so far:\n- grids waste space" in prompt


def test_whole_archive_strategy_puts_the_archive_in_the_prompt(tmp_path):
    model = f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]'
    run_scripted(tmp_path, "w", 8, model, "selection.strategy='whole_archive'",
                 "selection.archive_context=3", "executor='fresh'")
    campaign = Campaign.resume(tmp_path / "w", lambda event: None)
    try:
        best = campaign.writer.best()
        others = [p for p in campaign.writer.top_k(4) if p.id != best.id][:3]
        plan = campaign._plan(102 + best.island)  # on the best's island, not a migration turn
        assert plan.parent.id == best.id  # whole_archive builds on the best
        plan.edit_format = "rewrite"
        prompt = campaign.proposer.messages(plan)[1]["content"]
    finally:
        campaign.close()
    assert prompt.count("A program with score") == len(others) >= 2


def test_a_scorer_that_raises_stops_the_campaign_as_a_task_error(tmp_path):
    task = tmp_path / "broken_task"
    shutil.copytree(task_folders()["circle_packing"], task)
    scorer = task / "scorer.py"
    good = scorer.read_text()
    scorer.write_text(good + "\n\ndef score(stage, case, outputs, oracle):\n"
                             "    raise RuntimeError('scorer bug')\n")
    result = discover(tmp_path, "run", str(task), "--name", "b", "--iterations", "10",
                      "--progress", "quiet", *SCRIPTED)
    assert result.exit_code == 1
    assert f"{scorer}: score() raised RuntimeError: scorer bug for case n6 of stage " \
           "smoke" in result.stderr
    assert "discover resume" in result.stderr and len(result.stderr.splitlines()) == 1
    status = discover(tmp_path, "status", "b")
    assert "score() raised RuntimeError: scorer bug" in " ".join(status.output.split())
    with ArchiveReader(tmp_path / "b" / "archive.sqlite") as reader:
        # the seed is not blamed: no program recorded as failed, no iteration counted as done
        assert reader.count() == 0 and not reader.events("iteration")

    scorer.write_text(good)  # the task is mended: resume picks up under the new version
    result = discover(tmp_path, "resume", "b", "--progress", "quiet")
    assert result.exit_code == 0, result.stderr
    with ArchiveReader(tmp_path / "b" / "archive.sqlite") as reader:
        assert sorted(d["n"] for _, _, d in reader.events("iteration", 100)) == list(range(10))
        assert reader.best() is not None and reader.events("evaluator_changed")


def test_a_full_disk_stops_with_a_clear_error_and_resume_loses_nothing(tmp_path):
    run_scripted(tmp_path, "d", 3, f'models=[{{name="scripted:{SCRIPT}"}}]',
                 "executor='fresh'")
    campaign = Campaign.resume(tmp_path / "d", lambda event: None, ["budgets.iterations=8"])
    pages = campaign.writer._conn.execute("PRAGMA page_count").fetchone()[0]
    campaign.writer._conn.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow
    try:
        with pytest.raises(ArchiveError, match=r"the disk is full \(database or disk is full\)"
                                               r": every finished iteration is committed"):
            campaign.run()
    finally:
        campaign.close()
    with ArchiveReader(tmp_path / "d" / "archive.sqlite") as reader:
        done = sorted(d["n"] for _, _, d in reader.events("iteration"))
    assert done == list(range(len(done))) and 3 <= len(done) < 8  # the room left, then stop
    result = discover(tmp_path, "resume", "d", "--iterations", "8", "--progress", "quiet")
    assert result.exit_code == 0, result.stderr
    with ArchiveReader(tmp_path / "d" / "archive.sqlite") as reader:
        iterations = reader.events("iteration", 100)
        assert sorted(d["n"] for _, _, d in iterations) == list(range(8))
        assert len({d["program"] for _, _, d in iterations} - {None}) == reader.count()


def test_a_hosted_model_campaign_replays_from_its_transcript_to_the_same_archive(
        tmp_path, monkeypatch):
    answers = [json.loads(line)["text"] for line in SCRIPT.read_text().splitlines()]
    served = iter(range(10**6))

    def reply(messages):  # the scratchpad's prompt gets insights, proposals the script in turn
        if "short insights" in messages[-1]["content"]:
            return "- equal circles waste the corners\n- keep every circle inside"
        return answers[next(served) % len(answers)]

    monkeypatch.setenv("MOCK_KEY", "sk-test")
    settings = ("selection.islands=1", "executor='fresh'", "edits.scratchpad_every=3")
    with MockServer(reply=reply) as server:
        model = (f'models=[{{name="openai/mock-model", api_base="{server.base_url}", '
                 'api_key_env="MOCK_KEY", edit_mix={rewrite=1.0}}]')
        run_scripted(tmp_path, "hosted", 7, model, *settings)
    transcript = tmp_path / "hosted" / "transcript.jsonl"
    assert len(transcript.read_text().splitlines()) >= 6  # every exchange, scratchpad included
    run_scripted(tmp_path, "replayed", 7, model, *settings,  # the server is gone now
                 f"replay={json.dumps(str(transcript))}")
    archives = []
    for name in ("hosted", "replayed"):
        with ArchiveReader(tmp_path / name / "archive.sqlite") as reader:
            archives.append([(p.code, p.parents, p.status, p.score, p.edit_text)
                             for p in reader.programs(range(1, reader.count() + 1))])
            archives[-1].append([d["insights"] for _, _, d in reader.events("scratchpad")])
    assert archives[0] == archives[1]
    assert len(archives[0]) > 3 and archives[0][-1]  # programs, then the scratchpad insights


def test_live_view_shows_best_rate_failures_tokens_and_eta(tmp_path):
    now = [100.0]
    view = CampaignProgress(clock=lambda: now[0])
    view.update({"event": "started", "done": 2, "budgets": {"iterations": 12}, "best": 1.0})
    for n, (status, reason) in enumerate([("ok", None), ("invalid", "two circles overlap (0, 1)"),
                                          ("no program", "no ```python code block")], start=2):
        now[0] += 2.0
        view.update({"n": n, "op": "llm", "island": 0, "model": "m", "program": n if
                     status != "no program" else None, "status": status, "score": None,
                     "reason": reason, "valid_edit": status != "no program",
                     "evaluations": int(status != "no program"), "best": 2.5,
                     "tokens": 1234, "cost": 0.05})
    console = Console(record=True, width=120, force_terminal=False)
    console.print(view)
    text = console.export_text()
    assert "5 / 12" in text and "ETA" in text and "14 s" in text  # 7 left at 2 s each
    assert "2.5" in text and "0.33" in text  # best; 2 evaluations in 6 s
    assert "2/3 (67%)" in text and "1,234 / $0.0500" in text
    assert "invalid: two circles overlap" in text and "no program: no ```python" in text


def _exported_id(path) -> int:
    return int(re.search(r"'program_id': (\d+)", path.read_text()).group(1))


def test_resume_rewrites_a_missing_or_stale_best_export(tmp_path):
    run_scripted(tmp_path, "e", 4, f'models=[{{name="scripted:{SCRIPT}", '
                 'edit_mix={rewrite=1.0}}]')
    exported = tmp_path / "e" / "best" / "best_program.py"
    with ArchiveReader(tmp_path / "e" / "archive.sqlite") as reader:
        best = reader.best()
    assert best.id != 1 and _exported_id(exported) == best.id
    exported.unlink()  # killed between committing a new best and writing its file
    result = discover(tmp_path, "resume", "e", "--progress", "lines")
    assert result.exit_code == 1 and "--iterations 8" in result.stderr  # nothing more to run
    assert _exported_id(exported) == best.id  # but the export is mended
    exported.write_text(exported.read_text().replace(f"'program_id': {best.id}",
                                                     "'program_id': 1"))  # an older best's
    assert discover(tmp_path, "resume", "e", "--progress", "quiet").exit_code == 1
    assert _exported_id(exported) == best.id


def test_the_cli_never_claims_an_export_that_does_not_exist(tmp_path):
    task = tmp_path / "failing"
    shutil.copytree(task_folders()["circle_packing"], task)
    seed = task / "seed.py"
    seed.write_text(seed.read_text().replace(
        '    """Return (centers, radii) for n circles in the unit square."""\n',
        '    """Return (centers, radii) for n circles in the unit square."""\n'
        '    raise RuntimeError("no packing yet")\n'))
    result = discover(tmp_path, "run", str(task), "--name", "f", "--iterations", "2",
                      "--progress", "lines", *SCRIPTED)
    assert result.exit_code == 1
    assert "exported to" not in result.output
    assert "no program evaluated ok: nothing exported" in " ".join(result.output.split())
    assert not (tmp_path / "f" / "best").exists()


def test_the_seed_is_evaluated_once_and_tuning_needs_float_constants(tmp_path):
    """The other islands start from a copy of the seed's evaluation, and a tune plan on a
    parent with no float constants asks the model instead of spending a tuning iteration."""
    task = tmp_path / "no_floats"
    shutil.copytree(task_folders()["circle_packing"], task)
    (task / "seed.py").write_text(
        '"""Circles on a grid."""\nimport math\n\n\n# EVOLVE-BLOCK-START\n'
        "def construct_packing(n):\n    k = math.ceil(math.sqrt(n))\n"
        "    centers = [[(2 * (i % k) + 1) / (2 * k), (2 * (i // k) + 1) / (2 * k)] "
        "for i in range(n)]\n    return centers, [1 / (2 * k)] * n\n# EVOLVE-BLOCK-END\n")
    result = discover(tmp_path, "run", str(task), "--name", "s", "--iterations", "5",
                      "--progress", "quiet", "--set", "selection.islands=3",
                      "--set", f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", "edits.tune_share=1.0", "--set", "edits.restart_share=0",
                      "--set", 'executor="fresh"')
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        events = sorted((d for _, _, d in reader.events("iteration")), key=lambda d: d["n"])
        assert [d["op"] for d in events] == ["seed", "seed", "seed", "llm", "llm"]
        assert [d["evaluations"] for d in events[:3]] == [1, 0, 0]
        seeds = reader.programs([d["program"] for d in events[:3]])
        assert [p.score for p in seeds] == [seeds[0].score] * 3 and seeds[0].score > 0
        assert [p.island for p in seeds] == [0, 1, 2] and seeds[1].parents == (seeds[0].id,)


def test_a_revoked_key_mid_campaign_is_recorded_and_shown_by_status(tmp_path, monkeypatch):
    good = json.loads(SCRIPT.read_text().splitlines()[1])["text"]
    monkeypatch.setenv("MOCK_KEY", "sk-revoked-soon")
    with MockServer(script=["ok"] * 3 + ["401"] * 50, reply=lambda messages: good) as server:
        model = (f'models=[{{name="openai/mock-model", api_base="{server.base_url}", '
                 'api_key_env="MOCK_KEY", edit_mix={rewrite=1.0}}]')
        result = discover(tmp_path, "run", "circle_packing", "--name", "k", "--iterations", "12",
                          "--progress", "lines", "--set", model, "--set", "selection.islands=1",
                          "--set", "edits.tune_share=0", "--set", "edits.restart_share=0",
                          "--set", "executor='fresh'", "--set", "edits.scratchpad_every=0")
    assert result.exit_code == 1
    refused = "model openai/mock-model at " + server.base_url + " refused the key: check $MOCK_KEY"
    assert refused in result.stderr and "discover resume" in result.stderr
    with ArchiveReader(tmp_path / "k" / "archive.sqlite") as reader:
        (_, _, stopped), = reader.events("campaign_stopped")
        assert refused in stopped["reason"]
        errors = [row for row in reader._conn.execute(
            "SELECT purpose, error FROM model_calls WHERE error IS NOT NULL")]
        assert errors and all(e.startswith("AuthenticationError") for _, e in errors)
        done = sorted(d["n"] for _, _, d in reader.events("iteration", 100))
    assert done == list(range(len(done))) and len(done) < 12  # the refused one is redone later
    status = " ".join(discover(tmp_path, "status", "k").output.replace("│", " ").split())
    assert f"last stop {refused}" in status
    assert "latest failed model calls" in status
    assert "AuthenticationError" in status  # the failed attempt itself, not only a count


def test_a_crash_of_our_own_is_recorded_as_the_stop(tmp_path, monkeypatch):
    """A bug of ours (an unexpected exception in the loop) still propagates, but the archive
    says the campaign stopped and why, so `discover status` is not silent about it."""
    def broken_commit(self, outcome, ahead):
        raise RuntimeError("a bug in the commit step")

    monkeypatch.setattr(Campaign, "_commit", broken_commit)
    result = discover(tmp_path, "run", "circle_packing", "--name", "b", "--iterations", "2",
                      "--progress", "quiet", *SCRIPTED)
    assert isinstance(result.exception, RuntimeError)
    with ArchiveReader(tmp_path / "b" / "archive.sqlite") as reader:
        (_, _, stopped), = reader.events("campaign_stopped")
    assert stopped["reason"] == "crashed: RuntimeError: a bug in the commit step"
    status = " ".join(discover(tmp_path, "status", "b").output.replace("│", " ").split())
    assert "last stop crashed: RuntimeError: a bug in the commit step" in status


def test_ctrl_c_stops_at_once_keeping_what_is_committed(tmp_path, monkeypatch):
    """Ctrl-C ends the campaign after the iterations in flight: the committed ones stay, the
    stop is recorded, and the held-out stage (minutes for some tasks) is not started."""
    commit = Campaign._commit

    def commit_then_interrupt(self, outcome, ahead):
        commit(self, outcome, ahead)
        if len(self.done) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Campaign, "_commit", commit_then_interrupt)
    result = discover(tmp_path, "run", "circle_packing", "--name", "i", "--iterations", "6",
                      "--progress", "quiet", *SCRIPTED)
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "i" / "archive.sqlite") as reader:
        assert sorted(d["n"] for _, _, d in reader.events("iteration", 100)) == [0, 1]
        (_, _, stopped), = reader.events("campaign_stopped")
    assert stopped["reason"].startswith("interrupted (Ctrl-C)")
    assert stopped["held_out"] is None and stopped["state"] == "interrupted"


def test_a_finished_run_resumes_only_with_a_larger_budget(tmp_path):
    run_scripted(tmp_path, "f", 2, f'models=[{{name="scripted:{SCRIPT}"}}]', "executor='fresh'")
    with ArchiveReader(tmp_path / "f" / "archive.sqlite") as reader:
        before = len(reader.events(None, 10**6))
    result = discover(tmp_path, "resume", "f", "--progress", "quiet")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line == (f"error: {tmp_path / 'f'} has done its 2 iterations: pass a larger total, "
                    f"e.g. `discover resume {tmp_path / 'f'} --iterations 4`")
    with ArchiveReader(tmp_path / "f" / "archive.sqlite") as reader:
        assert len(reader.events(None, 10**6)) == before  # nothing recorded, no held-out rerun
    result = discover(tmp_path, "resume", "f", "--iterations", "3", "--progress", "lines")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"resumed {tmp_path / 'f'}: 2 of 3 iterations done, best ")
    with ArchiveReader(tmp_path / "f" / "archive.sqlite") as reader:
        assert sorted(d["n"] for _, _, d in reader.events("iteration", 100)) == [0, 1, 2]


def test_runs_shows_each_state_and_rm_spares_a_running_campaign(tmp_path):
    run_scripted(tmp_path, "s", 2, f'models=[{{name="scripted:{SCRIPT}"}}]', "executor='fresh'")
    listed = discover(tmp_path, "runs")
    assert listed.exit_code == 0 and "state" in listed.output
    assert re.search(r"\bs\b.*\bfinished\s*$", listed.output, re.MULTILINE), listed.output
    held = Liveness(tmp_path / "s")  # as a campaign process holds it
    try:
        assert re.search(r"\bs\b.*\brunning\s*$", discover(tmp_path, "runs").output,
                         re.MULTILINE)
        refused = discover(tmp_path, "rm", "s", "--yes")
        assert refused.exit_code == 1 and "is running (pid" in refused.stderr
        busy = discover(tmp_path, "resume", "s", "--iterations", "3")
        assert busy.exit_code == 1 and "is in use: campaign process" in busy.stderr
    finally:
        held.close()
    assert discover(tmp_path, "rm", "s", "--yes").exit_code == 0


@pytest.mark.parametrize("mode", ["lines", "jsonl"])
def test_progress_says_what_is_in_flight_while_nothing_commits(tmp_path, monkeypatch, mode):
    """A slow model call (the mock server holds it 4 s) shows as `waiting for` in plain lines
    and as a `waiting` event in JSON lines: a resume is never silent until its first commit."""
    good = json.loads(SCRIPT.read_text().splitlines()[1])["text"]
    monkeypatch.setenv("MOCK_KEY", "sk-good")
    monkeypatch.setattr(Output, "WAIT_S", 0.5)
    run_scripted(tmp_path, "w", 1, f'models=[{{name="scripted:{SCRIPT}"}}]', "executor='fresh'",
                 "selection.islands=1")
    with MockServer(script=["slow:4"], reply=lambda messages: good) as server:
        model = (f'models=[{{name="openai/mock-model", api_base="{server.base_url}", '
                 'api_key_env="MOCK_KEY", edit_mix={rewrite=1.0}}]')
        result = discover(tmp_path, "resume", "w", "--iterations", "2", "--progress", mode,
                          "--no-preflight", "--set", model, "--set", "edits.scratchpad_every=0")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    waiting = "model call for iteration 1 (openai/mock-model) (since "
    if mode == "lines":
        assert lines[0].startswith(f"resumed {tmp_path / 'w'}: 1 of 2 iterations done")
        assert any(line.startswith(f"waiting for {waiting}") for line in lines), result.output
    else:
        events = [json.loads(line) for line in lines if line.startswith("{")]
        assert events[0]["event"] == "started" and events[0]["resumed"]
        assert any(e["event"] == "waiting" and e["in_flight"][0].startswith(waiting)
                   for e in events if "event" in e), events


def test_the_live_panel_ends_with_what_is_in_flight(tmp_path):
    shown, held = Output("rich"), Liveness(tmp_path)
    try:
        console = Console(width=200, record=True)
        console.print(shown)
        assert console.export_text().strip() == "in flight: -"
        shown.watch(held)
        with held.doing("model call for iteration 3 (embedded)", 600):
            console.print(shown)
    finally:
        shown.unwatch()
        held.close()
    assert console.export_text().strip().startswith(
        "in flight: model call for iteration 3 (embedded) (since ")
