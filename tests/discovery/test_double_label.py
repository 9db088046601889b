"""A campaign whose agent model (or meta model) is a test double says so in every result a user
sees: run progress, `status`, `show`, `lineage`, `runs`, report.md and its plots' titles, the
exported module, the view's payload, `discover eval`'s agent-model line. A campaign whose models
are real-named (a replay of litellm's exchanges with the mock server) says nothing of the
kind."""

import os
import re
from pathlib import Path

import pytest

from archive import ArchiveReader
from discovery import double_label, models, report
from discovery.double_label import campaign_label, label
from discovery.doubles.mock_server import MockServer
from discovery.export import exported_provenance
from discovery.web.data import ViewReader, campaign_data
from evaluators.executors import open_executor
from tests.helpers import discover

SIMULATED = ("simulated agent model (discovery's test double): scores test plumbing, not "
             "designs; scripted meta model (discovery's test double): programs are canned "
             "answers, not a model's proposals")
FLAGS = ["--set", "edits.tune_share=0", "--set", "edits.restart_share=0", "--set",
         "selection.islands=1"]


def flat(text: str) -> str:
    """Terminal output as one line: panel borders gone and wrapped lines joined."""
    return " ".join(re.sub("[│┃]", " ", text).split())


def small_arithmetic(root: Path) -> Path:
    """The arithmetic agent task with 3 questions to search on and 3 held out."""
    from evaluators.task import load_task

    folder = root / "arithmetic_small"
    folder.mkdir()
    secret = '{{ dataset = "arithmetic", seed = {}, count = 3, threads = 3 }}'
    (folder / "task.toml").write_text(
        f'extends = "{load_task("arithmetic").root / "task.toml"}"\nname = "arithmetic_small"\n'
        f'[[stages]]\nname = "validation"\ncases = [{{ name = "v", secret = {secret.format(1)} '
        f'}}]\n[held_out]\nname = "test"\n'
        f'cases = [{{ name = "t", secret = {secret.format(2)} }}]\n')
    return folder


REAL = '{name="openai/mock-model", price_in_per_mtok=0.0, price_out_per_mtok=0.0'
"""A litellm name, priced so that nothing asks litellm's price table (no import on replay)."""
TRANSCRIPT = Path(__file__).parents[1] / "data" / "mock_model_transcript.jsonl"
"""What `record_real_transcript` recorded: the `real` campaign's calls through litellm to the
mock server (a real client's exchanges, model names as a hosted model's)."""


def real_campaign(runs: Path, task: str, *settings: str):
    return discover(runs, "run", task, "--name", "real", "--iterations", "1", "--no-preflight",
                    "--progress", "lines", *FLAGS, "--set",
                    f"models=[{REAL}, edit_mix={{rewrite=1.0}}}}]", *settings)


def record_real_transcript(root: Path) -> None:
    """Run the `real` campaign against the mock server through litellm and keep its transcript
    in TRANSCRIPT (run by hand when the task's prompts change: `python -c "from pathlib import
    Path; from tests.discovery.test_double_label import *; record_real_transcript(Path(
    '/tmp/record'))"`)."""
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as patch, MockServer() as server:
        patch.setenv("OPENAI_API_KEY", "sk-test")
        base = f', api_base="{server.base_url}"}}'
        done = real_campaign(runs, str(small_arithmetic(root)), "--set",
                             f"models=[{REAL}{base[:-1]}, edit_mix={{rewrite=1.0}}}}]",
                             "--set", f"agent_model={REAL}{base}")
    assert done.exit_code == 0, done.output
    TRANSCRIPT.write_bytes((runs / "real" / "transcript.jsonl").read_bytes())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """`sim`: a scripted meta model and the simulated agent model; `real`: both models a
    litellm name, replayed from the mock server's recorded answers (TRANSCRIPT)."""
    runs = tmp_path_factory.mktemp("runs")
    task = str(small_arithmetic(runs.parent))
    sim = discover(runs, "run", task, "--name", "sim", "--iterations", "2", "--progress",
                   "lines", *FLAGS, "--set",
                   'models=[{name="scripted:tests/data/agent_script.jsonl", '
                   'edit_mix={rewrite=1.0}}]', "--set", 'agent_model={name="simulator"}')
    assert sim.exit_code == 0, sim.output
    (runs / "sim.out").write_text(sim.output)
    real = real_campaign(runs, task, "--set", f"agent_model={REAL}}}", "--set",
                         f'replay="{TRANSCRIPT}"')
    assert real.exit_code == 0, real.output
    (runs / "real.out").write_text(real.output)
    return runs


def test_the_label_is_decided_from_the_models_names():
    assert label([{"agent_model": {"name": "simulator"}, "models": [{"name": "embedded"}]}]) \
        == "simulated agent model (discovery's test double): scores test plumbing, not designs"
    assert "scripted agent model" in label([{"agent_model": {"name": "scripted:x.jsonl"}}])
    assert label([{"agent_model": {"name": "openai/gpt-4o"}, "models": [{"name": "embedded"}]},
                  {"agent_model": None}]) is None
    # a resume onto the simulator labels the campaign, whatever it started with
    assert "simulated" in label([{"agent_model": {"name": "openai/gpt-4o"}},
                                 {"agent_model": {"name": "simulator"}}])
    assert double_label.SIMULATOR == models.SIMULATOR  # the one name, spelled twice


def test_run_progress_status_show_lineage_and_runs_say_it(runs):
    with ArchiveReader(runs / "sim" / "archive.sqlite") as reader:
        assert campaign_label(reader) == SIMULATED
    with ArchiveReader(runs / "real" / "archive.sqlite") as reader:
        assert campaign_label(reader) is None
    closing = {name: flat((runs / f"{name}.out").read_text()) for name in ("sim", "real")}
    # the start line, the stop line, the closing status
    assert closing["sim"].count(SIMULATED) == 3 and "test double" not in closing["real"]
    for command, *more in (["status"], ["show", "1"], ["lineage"]):
        shown = {name: flat(discover(runs, command, name, *more).output)
                 for name in ("sim", "real")}
        assert SIMULATED in shown["sim"], (command, shown["sim"])
        assert "test double" not in shown["real"], (command, shown["real"])
    rows = {line.split()[0]: line for line in discover(runs, "runs").output.splitlines()
            if line.strip()}
    assert "simulated agent model, scripted meta model" in rows["sim"]
    assert "test double" not in rows["real"] and "simulated" not in rows["real"]


def test_report_and_its_plot_titles_say_it(runs, monkeypatch):
    titles: list[str] = []
    for name in ("plot_scores", "plot_failures"):
        original = getattr(report, name)
        monkeypatch.setattr(report, name, lambda title, *rest, _f=original: (
            titles.append(title), _f(title, *rest))[1])
    # the scores against the baselines re-evaluate every baseline: not what this test is about
    monkeypatch.setattr(report, "metrics_section", lambda *args: report.Section())
    for name in ("sim", "real"):
        with ArchiveReader(runs / name / "archive.sqlite") as reader:
            report.write_report(reader, runs / name / "report",
                                lambda: open_executor("fresh", size=1), say=lambda _: None)
    sim, real = ((runs / name / "report" / "report.md").read_text() for name in ("sim", "real"))
    plain = flat(report.plain_text(sim))
    assert plain.count(SIMULATED) == 2  # the line under the heading, the summary table's row
    assert "test double" not in real
    assert titles and all(part in flat(t) for t in titles if t.startswith("sim")
                          for part in SIMULATED.split("; "))
    assert not any("test double" in t for t in titles if t.startswith("real"))


def test_the_exported_module_and_the_view_say_it(runs, tmp_path):
    for name, expected in (("sim", SIMULATED), ("real", None)):
        out = tmp_path / f"{name}_best.py"
        assert discover(runs, "export", name, "--out", str(out)).exit_code == 0
        header = " ".join(out.read_text().split('"""')[1].split())
        assert (f"caveat: {SIMULATED}" in header) == (expected is not None), header
        assert exported_provenance(out).get("test_doubles") == expected
        with ViewReader(runs / name / "archive.sqlite") as reader:
            assert campaign_data(reader)["campaign"]["test_doubles"] == expected


def test_the_live_panel_and_the_stop_line_show_the_started_events_label():
    from rich.console import Console

    from discovery.views import CampaignProgress, stopped_text

    view = CampaignProgress(clock=lambda: 0.0)
    view.update({"event": "started", "done": 0, "budgets": {}, "best": None,
                 "test_doubles": SIMULATED})
    console = Console(width=400, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(view)
    assert SIMULATED in console.export_text()
    stop = {"reason": "budget: iterations", "best": 0.5, "test_doubles": SIMULATED}
    assert stopped_text(stop).endswith(f"({SIMULATED})")
    assert "test double" not in stopped_text({"reason": "budget: iterations", "best": 0.5})


def test_discover_evals_agent_model_line_uses_the_same_label():
    from discovery.views import agent_calls_line

    assert label([{"agent_model": {"name": "simulator"}}]) in agent_calls_line("simulator", [])
    assert "test double" not in agent_calls_line("openai/gpt-4o-mini", [])
