import json
import re
import shutil
import sqlite3
import subprocess
import sys

import networkx as nx
import pytest
from helpers import discover
from rich.console import Console

from archive import ArchiveReader, ArchiveWriter
from discovery.views import CampaignProgress, score_text, sparkline


@pytest.fixture(scope="module")
def demo(demo_runs):
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        return reader.best(), reader.summary()


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_runs_lists_campaigns_and_survives_a_corrupt_one(cli, demo_runs, demo, tmp_path):
    best, summary = demo
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs / "demo", runs / "good")
    (runs / "broken").mkdir()
    (runs / "broken" / "archive.sqlite").write_bytes(b"garbage" * 500)
    result = cli("runs", str(runs))
    assert result.exit_code == 0, result.output
    assert "good" in result.output and f"{best.score:.6g}" in result.output
    failed = summary.total - summary.counts["ok"] - summary.counts["pending"]
    assert f"{summary.counts['ok']}/{failed}/0" in result.output
    assert "broken" in result.output and "unreadable" in result.output


def test_runs_with_missing_directory(cli, tmp_path):
    one_line_error(cli("runs", str(tmp_path / "none")), "no runs directory")


def test_status(cli, demo):
    best, summary = demo
    result = cli("status", "demo")
    assert result.exit_code == 0, result.output
    assert f"#{best.id}" in result.output
    assert any(ch in result.output for ch in "▁▂▃▄▅▆▇█")
    assert "failures by reason" in result.output and "ZeroDivisionError" in result.output
    assert "model usage" in result.output
    assert f"${summary.cost:.4f}" in result.output


def test_status_accepts_a_directory_or_the_file(cli, demo_runs):
    for run in (demo_runs / "demo", demo_runs / "demo" / "archive.sqlite"):
        assert cli("status", str(run)).exit_code == 0


def test_lineage_tree_highlights_the_best(cli, demo):
    best, _ = demo
    result = cli("lineage", "demo")
    assert result.exit_code == 0, result.output
    assert f"#{best.id} " in result.output and "★ best" in result.output
    assert "stepping stones on this lineage" in result.output


def test_lineage_of_another_program_with_depth(cli, demo_runs):
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        # Crossover children are drawn under their primary parent only.
        primary = {p.id: [k for k in reader.children(p.id) if reader.program(k).parent_id == p.id]
                   for p in reader.top_k(300)}
        parent_id, kids = next((p, k) for p, k in primary.items() if len(k) >= 2)
    result = cli("lineage", "demo", "--program", str(parent_id), "--depth", "1", "--width", "50")
    assert result.exit_code == 0, result.output
    for kid in kids:
        assert f"#{kid} " in result.output


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json", "dot"])
def test_lineage_writes_graph_files(cli, demo, tmp_path, fmt):
    _, summary = demo
    out = tmp_path / f"lineage.{fmt}"
    result = cli("lineage", "demo", "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    if fmt == "graphml":
        assert nx.read_graphml(out).number_of_nodes() == summary.total
    elif fmt == "json":
        assert len(json.loads(out.read_text())["nodes"]) == summary.total
    else:
        assert out.stat().st_size > 0


def test_lineage_format_errors(cli, tmp_path):
    one_line_error(cli("lineage", "demo", "--format", "dot"), "--out")
    one_line_error(cli("lineage", "demo", "--out", str(tmp_path / "g.png")), "'png'")
    assert not (tmp_path / "g.png").exists()
    one_line_error(cli("lineage", "demo", "--program", "999999"), "no program 999999")


def test_show(cli, demo):
    best, _ = demo
    result = cli("show", "demo", str(best.id))
    assert result.exit_code == 0, result.output
    assert "def minimise" in result.output and "EVOLVE-BLOCK-START" in result.output
    assert f"#{best.parent_id}" in result.output and "restarts=" in result.output


def test_show_failed_program_has_error_tail(cli, demo_runs):
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        crashed = reader._conn.execute(
            "SELECT id FROM programs WHERE status = 'crashed' LIMIT 1").fetchone()[0]
    result = cli("show", "demo", str(crashed))
    assert "error tail" in result.output and "per_restart = budget // RESTARTS" in result.output


def test_diff_against_parent_and_between_two(cli, demo):
    best, _ = demo
    result = cli("diff", "demo", str(best.id))
    assert result.exit_code == 0, result.output
    assert f"--- program {best.parent_id}" in result.output
    assert f"+++ program {best.id}" in result.output
    result = cli("diff", "demo", "1", str(best.id))
    assert "--- program 1" in result.output and "-STEP = 1.0" in result.output
    assert "have the same code" in cli("diff", "demo", "1", "1").output


def test_diff_of_a_seed_needs_a_second_id(cli):
    one_line_error(cli("diff", "demo", "1"), "seed")


@pytest.mark.parametrize("command", [["status"], ["lineage"], ["show", "1"], ["diff", "2"],
                                     ["export", "--best", "--out", "x.py"]])
def test_unknown_run(cli, command):
    one_line_error(cli(command[0], "no-such-run", *command[1:]), "unknown run 'no-such-run'",
                   "discover runs")


def test_unknown_program(cli):
    one_line_error(cli("show", "demo", "424242"), "no program 424242", "ids run from 1")


def test_corrupt_and_newer_archives(cli, demo_runs, tmp_path):
    runs = tmp_path / "runs"
    (runs / "garbage").mkdir(parents=True)
    (runs / "garbage" / "archive.sqlite").write_bytes(b"\x00junk" * 1000)
    one_line_error(cli("status", "garbage", runs_dir=runs), "not a readable archive")

    shutil.copytree(demo_runs / "demo", runs / "future")
    conn = sqlite3.connect(runs / "future" / "archive.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    one_line_error(cli("status", "future", runs_dir=runs), "schema version 99", "upgrade")


def test_damaged_pages_are_a_one_line_error(cli, demo_runs, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(demo_runs / "demo", runs / "damaged")
    path = runs / "damaged" / "archive.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page * 3, len(data) - page, page * 2):  # keep page 1, wreck many others
        data[offset:offset + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    result = cli("lineage", "damaged", runs_dir=runs)
    one_line_error(result)


def test_a_campaign_with_no_ok_program_yet(cli, tmp_path):
    runs = tmp_path / "runs"
    ArchiveWriter.create(runs / "fresh" / "archive.sqlite", name="fresh", task="t", config={},
                         seed=1, evaluator_version="v").close()
    assert "fresh" in cli("runs", runs_dir=runs).output
    assert "none yet" in cli("status", "fresh", runs_dir=runs).output
    one_line_error(cli("lineage", "fresh", runs_dir=runs), "--program")
    one_line_error(cli("export", "fresh", "--best", "--out", str(tmp_path / "m.py"),
                       runs_dir=runs), "nothing to export")


def test_sparkline_tracks_the_series():
    line = sparkline([float(i) for i in range(500)], width=40)
    assert len(line) == 40 and line[0] == "▁" and line[-1] == "█"
    assert list(line) == sorted(line)
    assert sparkline([1.0, 1.0]) == "▄▄" and sparkline([]) == ""


def test_demo_force_replaces_a_demo_but_never_a_real_campaign(cli, tmp_path):
    runs = tmp_path / "runs"
    assert cli("demo", "d", "--programs", "5", runs_dir=runs).exit_code == 0
    assert cli("demo", "d", "--programs", "6", "--force", runs_dir=runs).exit_code == 0
    with ArchiveReader(runs / "d" / "archive.sqlite") as reader:
        assert reader.count() == 6
    ArchiveWriter.create(runs / "real" / "archive.sqlite", name="real", task="circle_packing",
                         config={"task": "circle_packing"}, seed=0, evaluator_version="v").close()
    one_line_error(cli("demo", "real", "--force", runs_dir=runs), "not a demo", "another name")
    assert (runs / "real" / "archive.sqlite").is_file()


def stuck_run(runs, name: str, model: str) -> None:
    """A run as a failed start used to leave it: its archive and config, no iteration."""
    from discovery.config import load_config

    config = load_config("circle_packing", None, [f"models=[{{name={json.dumps(model)}}}]",
                                                   f"name={json.dumps(name)}"])
    ArchiveWriter.create(runs / name / "archive.sqlite", name=name, task="circle_packing",
                         config=config.model_dump(mode="json"), seed=0,
                         evaluator_version="v").close()


def test_a_run_that_fails_to_start_leaves_nothing_behind(cli, tmp_path):
    runs = tmp_path / "runs"
    missing = tmp_path / "missing.jsonl"
    for setting in (f"replay={json.dumps(str(missing))}",
                    f"models=[{{name={json.dumps(f'scripted:{missing}')}}}]"):
        one_line_error(cli("run", "circle_packing", "--name", "x", "--set", setting,
                           runs_dir=runs), str(missing))
        assert not (runs / "x").exists()


def test_a_stuck_run_is_listed_resumed_with_overrides_or_removed(cli, tmp_path):
    from helpers import SCRIPT

    runs = tmp_path / "runs"
    missing = f"scripted:{tmp_path / 'missing.jsonl'}"
    stuck_run(runs, "stuck", missing)
    stuck_run(runs, "doomed", missing)
    listed = cli("runs", runs_dir=runs).output
    assert "not started" in listed and "0/0/0" not in listed
    one_line_error(cli("resume", "stuck", runs_dir=runs), "missing.jsonl")
    one_line_error(cli("resume", "stuck", "--set", "selection.islnds=3", runs_dir=runs),
                   "did you mean 'islands'?")
    one_line_error(cli("resume", "stuck", "--set", 'task="psro"', runs_dir=runs),
                   "keeps its task")
    scripted = f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]'
    resumed = cli("resume", "stuck", "--iterations", "3", "--set", scripted, "--set",
                  'executor="fresh"', "--progress", "quiet", runs_dir=runs)
    assert resumed.exit_code == 0, resumed.output
    again = cli("resume", "stuck", "--iterations", "4", "--progress", "quiet", runs_dir=runs)
    assert again.exit_code == 0, again.output  # the new model is kept
    stored = json.loads((runs / "stuck" / "campaign.json").read_text())
    assert stored["models"][0]["name"] == f"scripted:{SCRIPT}"
    assert stored["budgets"]["iterations"] == 4
    with ArchiveReader(runs / "stuck" / "archive.sqlite") as reader:
        assert len(reader.events("iteration")) == 4

    one_line_error(cli("rm", "stuck", runs_dir=runs), "4 programs", "--yes")
    assert (runs / "stuck").is_dir()
    assert cli("rm", "doomed", runs_dir=runs).exit_code == 0  # nothing in it to lose
    assert cli("rm", "stuck", "--yes", runs_dir=runs).exit_code == 0
    assert not (runs / "stuck").exists() and not (runs / "doomed").exists()
    one_line_error(cli("rm", "stuck", runs_dir=runs), "unknown run 'stuck'")


def test_runs_never_cuts_a_run_name(cli, demo_runs, tmp_path):
    runs = tmp_path / "runs"
    name = "circle_packing-a-rather-long-campaign-name-" + "x" * 60
    shutil.copytree(demo_runs / "demo", runs / name)
    assert name in cli("runs", runs_dir=runs).output


def test_help_shows_brackets_and_no_metavar_on_flags(cli):
    assert "[ray]" in cli("eval", "--help").output
    assert "[[models]]" in cli("models", "--help").output
    demo_help = cli("demo", "--help").output
    assert "--force" in demo_help and "<bool>" not in demo_help


# -- what a campaign learned, where a user looks (issue 27) ----------------------------------
# A real scripted campaign: seeds, constant tuning, and model proposals that all answer the
# same text (an unclosed code block returning nonsense): the first is evaluated and fails, the
# next are refused as duplicates. The circle-packing task has a held-out stage.


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    runs = tmp_path_factory.mktemp("learned")
    script = runs / "same.jsonl"
    script.write_text(json.dumps({"text": "```python\ndef construct_packing(n):\n    return 1"})
                      + "\n")
    result = discover(runs, "run", "circle_packing", "--name", "l", "--iterations", "7",
                      "--progress", "lines", "--set",
                      f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", 'executor="fresh"')
    assert result.exit_code == 0, result.output
    with ArchiveReader(runs / "l" / "archive.sqlite") as reader:
        return runs, result.output, reader.held_out(), reader.best(), reader.iterations()


def test_the_held_out_result_is_shown_wherever_the_best_is(learned):
    runs, closing, held, best, _ = learned
    assert held is not None and held.program_id == best.id and held.score is not None
    shown = f"held-out {score_text(held.score)}"
    gap = f"gap {held.gap:+.3g}"
    stopped = next(line for line in closing.splitlines() if line.startswith("stopped:"))
    assert f"best {score_text(best.score)}, {shown} ({gap})" in stopped
    status = discover(runs, "status", "l").output
    assert f"{shown} (search {score_text(best.score)}, {gap})" in status
    show = discover(runs, "show", "l", str(best.id)).output
    assert re.search(rf"held-out +{re.escape(score_text(held.score))} \(search", show)
    lineage = discover(runs, "lineage", "l").output
    assert re.search(rf"#{best.id} ★ best \S+ +{shown}", lineage)
    assert "held-out" not in discover(runs, "show", "l", "1").output  # not the measured one


def test_iterations_without_a_program_are_counted_and_reachable(learned):
    runs, _, _, _, iterations = learned
    barren = [it for it in iterations if it.program_id is None]
    assert barren and all("duplicate" in it.reason and it.calls for it in barren)
    status = discover(runs, "status", "l").output
    assert f"{len(barren)} made no program" in status
    # of an archived program, or (the lag) of one still being evaluated: a row each
    rows = re.findall(r"no program \(llm\) +│ the new code is an exact duplicate .*│ +(\d+) │",
                      status)
    assert rows and sum(map(int, rows)) == len(barren)
    assert "discover iteration l N" in status
    it = barren[-1]
    shown = discover(runs, "iteration", "l", str(it.n))
    assert shown.exit_code == 0, shown.output
    assert "refused" in shown.output and "exact duplicate" in shown.output
    assert "call 1: propose" in shown.output and "[user]" in shown.output
    assert "def construct_packing(n):\n" in shown.output.replace("│", "").replace("  ", "")


def test_each_call_shows_its_own_prompt_though_the_answers_are_identical(learned):
    """Every proposal answered the same text: a prompt matched by answer text would be the
    last one's everywhere; matched by call id, each is the one its iteration sent."""
    runs, _, _, _, iterations = learned
    proposals = [it for it in iterations if it.op == "llm"]
    with ArchiveReader(runs / "l" / "archive.sqlite") as reader:
        parents = {it.n: reader.program(it.parent_id).score for it in proposals}
    assert len(set(parents.values())) > 1, "the test needs proposals from different parents"
    for n, score in parents.items():
        prompt = discover(runs, "iteration", "l", str(n), "--no-prompts")
        assert "[user]" not in prompt.output
        output = discover(runs, "iteration", "l", str(n)).output
        own = f"Current code of the block (score {score_text(score)})"
        others = {f"Current code of the block (score {score_text(s)})"
                  for s in parents.values()} - {own}
        assert own in output and not any(other in output for other in others), n


def test_an_unknown_iteration_is_a_one_line_error(learned):
    runs, _, _, _, iterations = learned
    one_line_error(discover(runs, "iteration", "l", "99"), "no iteration 99",
                   f"iterations run from 0 to {iterations[-1].n}")


def test_a_copy_has_one_name_everywhere(learned):
    runs = learned[0]
    with ArchiveReader(runs / "l" / "archive.sqlite") as reader:
        copy = next(p for p in reader.programs(range(1, 20)) if p.copy_of is not None)
    name = f"copy of #{copy.copy_of} ({copy.edit_kind})"
    show = discover(runs, "show", "l", str(copy.id)).output
    assert re.search(rf"edit +{re.escape(name)}", show) and "migrated" not in show
    assert name in discover(runs, "lineage", "l", "--program", str(copy.id)).output


def test_show_rounds_metrics_and_lists_the_model_calls(learned):
    runs, _, _, _, iterations = learned
    made = next(it for it in iterations if it.op == "llm" and it.program_id is not None)
    show = discover(runs, "show", "l", str(made.program_id)).output
    assert "model calls" in show and "propose" in show
    assert f"discover iteration RUN {made.n}" in show
    best = learned[3]
    with ArchiveReader(runs / "l" / "archive.sqlite") as reader:
        metrics = reader.evaluations(best.id)[-1].public_metrics
    long = [v for v in metrics.values() if isinstance(v, float) and len(repr(v)) > 10]
    assert long, "the test needs metrics with more than 6 significant digits"
    table = discover(runs, "show", "l", str(best.id)).output.split("evaluations")[1]
    table = table.split("\n   1 ")[0]  # up to the code listing
    digits = [len(n.replace(".", "").lstrip("0")) for n in re.findall(r"\d+\.\d+", table)]
    assert digits and max(digits) <= 6 and not any(repr(v) in table for v in long)


def test_diff_to_a_file_applies_with_patch(learned, tmp_path):
    runs, _, _, best, _ = learned
    with ArchiveReader(runs / "l" / "archive.sqlite") as reader:
        old = reader.program(best.parent_id).code
    done = subprocess.run([sys.executable, "-m", "discovery", "--runs-dir", str(runs), "diff",
                           "l", str(best.id)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(len(line) < 80 or not line.endswith(" ") for line in done.stdout.splitlines())
    target = tmp_path / "program.py"
    target.write_text(old)
    (tmp_path / "x.patch").write_text(done.stdout)
    subprocess.run(["patch", str(target), str(tmp_path / "x.patch")], check=True,
                   capture_output=True, timeout=60)
    assert target.read_text() == best.code


def test_export_of_a_tuned_program_names_its_operators(learned, tmp_path):
    runs, _, _, best, _ = learned
    assert best.edit_kind == "tune"
    out = tmp_path / "best_program.py"
    assert discover(runs, "export", "l", "--best", "--out", str(out)).exit_code == 0
    text = out.read_text()
    assert "seed program" not in text and re.search(r"operators: +seed, tune", text)


def test_the_live_panel_closes_with_the_held_out_result():
    progress = CampaignProgress(clock=lambda: 0.0)
    progress.update({"event": "stopped", "reason": "budget: iterations", "best": 2.5,
                     "held_out": {"held_out_score": 2.25, "held_out_status": "ok"}})
    console = Console(width=200, record=True)
    console.print(progress)
    assert "stopped: budget: iterations; best 2.5, held-out 2.25 (gap -0.25)" in \
        console.export_text()
