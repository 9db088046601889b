"""`discover report` for any task: the score and failure plots, report.md, and the data the
figures are drawn from checked against the archive."""

import contextlib
import re

import pytest
from helpers import SCRIPT, add_scored, discover, run_scripted

from archive import ArchiveReader
from discovery import report, sanitize

PLOTS = ("score_by_iterations.png", "score_by_wall_time.png", "score_by_cost.png",
         "failures.png")


def no_sandbox() -> contextlib.AbstractContextManager:
    raise AssertionError("a task without curves needs no sandbox")


def assert_plots(folder, names=PLOTS) -> str:
    """Every named plot is a real PNG, report.md embeds each; returns report.md."""
    text = (folder / "report.md").read_text()
    for name in names:
        png = (folder / name).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, name
        assert f"]({name})" in text, name
    return text


def program_failures(past: report.History) -> dict[str, int]:
    """The history's failed programs by reason (iterations that made no program left out)."""
    return {failure: n for failure, n in past.failures().items()
            if not failure.startswith(f"{report.NO_PROGRAM}: ")}


def archive_failures(reader: ArchiveReader) -> dict[str, int]:
    return {f"{status}: {reason}": n for status, reason, n in reader.failures_by_reason(100)}


def assert_best_so_far(past: report.History, best: float) -> None:
    """On every x-axis the black line only rises and ends at the archive's best, at the end."""
    axes, _ = report.score_axes(past.steps)
    for axis in axes:
        line = report.best_so_far(axis.values, past.steps)
        ys = [y for _, y in line]
        assert ys == sorted(ys) and ys[-1] == best, axis.name
        assert line[-1][0] == axis.values[-1] == max(axis.values), axis.name


def test_report_of_a_scripted_circle_packing_campaign(tmp_path):
    run_scripted(tmp_path, "c", 12, f'models=[{{name="scripted:{SCRIPT}", '
                 'edit_mix={rewrite=1.0}}]', "executor='fresh'")
    result = discover(tmp_path, "report", "c")
    assert result.exit_code == 0, result.stderr
    text = assert_plots(tmp_path / "c" / "report")
    with ArchiveReader(tmp_path / "c" / "archive.sqlite") as reader:
        best, summary = reader.best(), reader.summary()
        events = [d for _, _, d in reader.events("iteration", 100)]
        past = report.history(reader)
        held = reader.held_out()
        assert past.from_events and len(past.steps) == len(events) == 12
        assert_best_so_far(past, best.score)
        # the scripted model is free: the cost plot spends tokens instead
        axes, missing = report.score_axes(past.steps)
        assert not missing and "tokens" in axes[-1].label
        assert 0 < axes[-1].values[-1] <= summary.tokens_in + summary.tokens_out
        assert axes[-1].values == sorted(axes[-1].values)
        assert {s.island for s in past.steps} == {0, 1}
        assert program_failures(past) == archive_failures(reader) != {}
        refused = sum(n for f, n in past.failures().items()
                      if f.startswith(f"{report.NO_PROGRAM}: "))
        assert refused == sum(d["program"] is None for d in events) > 0
        windows = report.failure_windows(past)
        assert windows.window == 1 and sum(map(sum, windows.counts.values())) == \
            sum(past.failures().values())
    assert f"| best program | #{best.id}, score {best.score:.6g} " in text
    assert "| iterations | 12 |" in text and "valid edits" in text
    assert "| state | finished because budget\\: iterations |" in text
    assert re.search(r"^state +finished because budget: iterations$", report.plain_text(text),
                     re.MULTILINE)
    assert "| invalid | two circles overlap \\(circles N and N\\, by N\\) | 1 |" in text
    # refusals counted beside failed programs, in the table and the summary
    for failure, n in past.failures().items():
        status, reason = failure.split(": ", 1)
        assert f"| {status} | {sanitize.markdown(reason)} | {n} |" in text
    assert f"; {refused} iterations made no program" in text
    assert f"{refused} made no program (an edit refused" in text
    # the held-out result beside the search score, with the gap
    assert held is not None and held.program_id == best.id and held.score is not None
    assert (f"| held-out score | {held.score:.6g} (search {best.score:.6g}, gap "
            f"{held.score - best.score:+.6g}; #{best.id}, measured when the campaign "
            "stopped) |") in text
    # the terminal gets the same report as plain text: no Markdown escapes, no table pipes
    plain = report.plain_text(text)
    assert "\\" not in plain and "|" not in plain
    assert "c: circle_packing" in result.output and "\\" not in result.output  # what it printed
    assert f"held-out score  {held.score:.6g} (search {best.score:.6g}, gap" in plain
    assert "Not shown" not in text  # circle_packing names no curve: nothing is missing
    assert discover(tmp_path, "report", "nope").exit_code == 1


def test_report_of_the_demo_archive(cli, demo_runs, tmp_path):
    """A synthetic campaign has no iteration events and an unknown task: a step per program."""
    result = cli("report", "demo", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    text = assert_plots(tmp_path)
    assert "no iteration events" in text and "unknown task 'synthetic_minimise'" in text
    assert "| held-out score | not measured: the campaign scores its best" in text
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        past = report.history(reader)
        summary = reader.summary()
        assert not past.from_events and len(past.steps) == summary.total
        assert_best_so_far(past, summary.best.score)
        assert past.failures() == archive_failures(reader)
        assert past.steps[-1].cost == pytest.approx(summary.cost) and summary.cost > 0
        windows = report.failure_windows(past)
        assert sum(map(sum, windows.counts.values())) == sum(past.failures().values())
        assert len(next(iter(windows.counts.values()))) <= report.FAILURE_BARS


def test_report_of_a_run_with_no_valid_program_says_what_is_missing(writer, tmp_path):
    out = tmp_path / "empty"
    assert report.write_report(writer, out, no_sandbox) == [out / "report.md"]
    assert "the run has no committed iteration yet" in (out / "report.md").read_text()
    for value in (1.0, 2.0, 3.0):
        add_scored(writer, value, None, status="crashed")
    written = report.write_report(writer, out, no_sandbox)
    assert [p.name for p in written] == ["failures.png", "report.md"]
    text = assert_plots(out, ("failures.png",))
    assert "none: no program evaluated ok yet" in text
    assert "- scores: no program evaluated ok yet" in text
    assert "| crashed | boom | 3 |" in text
