"""A candidate that writes markup, escape sequences, mathtext and HTML into everything it can
(its code, design name, output, failure reasons and error tails) is shown as literal text by
every sink: the terminal (`eval`, `status`, `show`, `lineage`, `diff`, `run`, `report`), Rich,
matplotlib and report.md; nothing it wrote is parsed, executed by the terminal or fetched."""

import html
import json
import re
from pathlib import Path

import pytest
from helpers import discover
from markdown_it import MarkdownIt

from archive import ArchiveWriter, EvaluationResult, NewProgram, archive_path
from discovery import sanitize, views
from discovery.cli.common import Progress, console

MINIMAL = str(Path(__file__).resolve().parents[2] / "examples" / "minimal_task")

MARKUP = "[bold red]x[/]"
CLOSE = "[/]"
TITLE = "\x1b]0;pwned\x07"
ERASE = "\x1b[2K"
MATH = "$\\frac{$"
IMAGE = "![x](http://evil/x.png)"
HTML = "<img src=http://evil>"
HOSTILE = " ".join((MARKUP, CLOSE, TITLE, ERASE, MATH, IMAGE, HTML))
LITERAL = (MARKUP, CLOSE, MATH, IMAGE, HTML)
"""What a sink must show as it is written (control sequences are dropped whole)."""

HOSTILE_CODE = f'''"""{MARKUP} {TITLE}"""

# EVOLVE-BLOCK-START
def place_points(n):
    """{MARKUP} {MATH} {IMAGE}

    {HTML} {ERASE} {CLOSE}
    """
    print({HOSTILE!r})
    raise ValueError({HOSTILE!r})
# EVOLVE-BLOCK-END
'''


def shows_literally(output: str, *pieces: str) -> None:
    """No escape or control character reached the output, and each piece is there as written."""
    assert not any(ch in output for ch in "\x1b\x07\x9b"), repr(output)
    for piece in pieces:
        assert piece in output, (piece, output)


@pytest.fixture
def wide(monkeypatch):
    """The CLI's console wide enough that no cell wraps a piece being looked for."""
    monkeypatch.setattr(console, "_width", 400)


@pytest.fixture
def hostile_run(tmp_path) -> Path:
    """A runs directory with `hostile`: an ok seed and a crashed child whose code, design
    notes, reason, error tail and iteration event carry every hostile piece."""
    runs = tmp_path / "runs"
    with ArchiveWriter.create(archive_path(runs / "hostile"), name="hostile",
                              task="minimal_task", config={"task": MINIMAL}, seed=0,
                              evaluator_version="v1") as writer:
        seed = writer.add_program(NewProgram(HOSTILE_CODE.replace("raise", "return []  #"),
                                             edit_kind="seed"))
        writer.record_evaluation(seed, EvaluationResult("full", "ok", score=0.5,
                                                        public_metrics={"note": HOSTILE}))
        child = writer.add_program(NewProgram(HOSTILE_CODE, parents=(seed,), model=HOSTILE,
                                              edit_kind="rewrite"))
        writer.record_evaluation(child, EvaluationResult(
            "smoke", "crashed", reason=f"ValueError: {HOSTILE}", error_tail=HOSTILE))
        for n, (program, status, reason) in enumerate(
                [(seed, "ok", None), (child, "crashed", HOSTILE), (None, "no program", HOSTILE)]):
            writer.log_event("iteration", {"n": n, "island": 0, "op": "llm", "program": program,
                                           "status": status, "reason": reason}, program)
        writer.log_event("warning", {"message": HOSTILE})
        writer.log_event("campaign_stopped", {"reason": HOSTILE, "held_out": None})
    return runs


@pytest.mark.parametrize("command", [("status", "hostile"), ("show", "hostile", "1"),
                                     ("show", "hostile", "2"), ("lineage", "hostile"),
                                     ("diff", "hostile", "2"), ("runs",)])
def test_inspecting_a_hostile_campaign_shows_its_text_literally(hostile_run, wide, command):
    result = discover(hostile_run, *command)
    assert result.exit_code == 0, (result.output, result.exception)
    shows_literally(result.output, *LITERAL if command[0] in ("show", "status") else ())


def test_report_of_a_hostile_campaign_is_literal_markdown(hostile_run, wide):
    result = discover(hostile_run, "report", "hostile")
    assert result.exit_code == 0, (result.output, result.exception)
    shows_literally(result.output)
    page = (hostile_run / "hostile" / "report" / "report.md").read_text()
    assert "\x1b" not in page and "\x07" not in page
    for piece in (IMAGE, HTML, MARKUP, MATH):  # every piece there, none of it as syntax
        assert piece not in page and sanitize.markdown(piece) in page
    rendered = MarkdownIt("commonmark").enable("table").render(page)  # as a viewer shows it
    assert "<a " not in rendered and "<em>" not in rendered and "<strong>" not in rendered
    assert all(src.endswith(".png") and "/" not in src  # only the report's own plots
               for src in re.findall(r'<img src="([^"]*)"', rendered))
    for piece in LITERAL:
        assert html.escape(piece, quote=False) in rendered
    assert (hostile_run / "hostile" / "report" / "failures.png").is_file()


def test_eval_of_a_hostile_program_reports_its_failure_literally(tmp_path, wide):
    program = tmp_path / "hostile.py"
    program.write_text(HOSTILE_CODE)
    result = discover(tmp_path, "eval", MINIMAL, str(program))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    shows_literally(result.output, "crashed", MARKUP, CLOSE, MATH, IMAGE, HTML)


def test_a_campaign_that_meets_a_hostile_program_runs_to_its_end(tmp_path, wide):
    answer = f"```python\n{HOSTILE_CODE}```"
    script = tmp_path / "script.jsonl"
    script.write_text("\n".join(f'{{"text": {json.dumps(answer)}}}'
                                for _ in range(3)) + "\n")
    result = discover(tmp_path / "runs", "run", MINIMAL, "--name", "met",
                      "--iterations", "3", "--progress", "lines",
                      "--set", f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
                      "--set", "edits.tune_share=0", "--set", "edits.restart_share=0",
                      "--set", 'executor="fresh"')
    assert result.exit_code == 0, (result.output, result.exception)
    shows_literally(result.output, "failures by reason", MARKUP)


@pytest.mark.parametrize("sink", [sanitize.terminal, sanitize.mathtext,
                                  sanitize.markdown, lambda s: sanitize.text(s).plain])
def test_every_sink_drops_control_characters_but_newline_and_tab(sink):
    nasty = "a\x1b]8;;http://evil\x1b\\b\x1bc\x9b31mc\rd\x00e\u202ef\x7fg\x1bP1;2q\x1b\\h"
    assert not any(ch in sink(nasty) for ch in "\x1b\x9b\r\x00\u202e\x7f")
    assert "\n" in sanitize.terminal("a\n\tb") and "\t" in sanitize.terminal("a\n\tb")


def test_what_run_prints_per_iteration_is_literal(capsys, wide):
    """The lines `run` prints as iterations land, its live panel, its stop and its warnings."""
    event = {"n": 1, "island": 0, "op": "llm", "model": HOSTILE, "program": None,
             "status": "no program", "reason": HOSTILE, "score": None, "best": None,
             "valid_edit": False, "tokens": 0, "cost": 0.0}
    stopped = {"event": "stopped", "reason": HOSTILE, "best": None}
    lines = Progress("lines")
    for shown in (event, stopped, {"event": "warning", "message": HOSTILE}):
        lines(shown)
    panel = views.CampaignProgress()
    panel.update(event)
    panel.update(stopped)
    console.print(panel)
    out = capsys.readouterr()
    shows_literally(out.out + out.err, MARKUP, CLOSE, MATH, IMAGE, HTML)
