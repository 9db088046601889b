"""`discover view` in a real headless browser: Debian's chromium driven by Playwright (the
system browser's executable; `playwright install` is never needed).

On a generated 10k-program campaign: the page loads with no console error, the tree holds every
program, clicking the best program shows its code and its diff (and shift-clicking a second
one diffs the two), a running campaign's new iteration appears, and the static export works
from file://. A failing test leaves a screenshot in pytest's tmp folder (its path is printed).

Without chromium or Playwright the tests skip, saying which is missing, unless
CI_REQUIRE_BROWSER=1 (.ci/run sets it): there they fail, because CI must never skip them.
"""

import contextlib
import difflib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import ArchiveReader, ArchiveWriter, EvaluationResult, NewProgram
from discovery.doubles.synthetic import generate
from discovery.web.data import ViewReader
from discovery.web.server import ViewServer
from discovery.web.static import write_static
from tests.helpers import add_scored, seed_code

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:
    sync_playwright = None

PROGRAMS = 10_000


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser's executable; every test here needs it, so a missing one skips them all, or
    fails them all under CI_REQUIRE_BROWSER=1."""
    missing = ("no chromium on PATH (apt-get install chromium)" if CHROMIUM is None
               else "no playwright (pip install -e '.[dev]')" if sync_playwright is None
               else None)
    if missing is None:
        return CHROMIUM
    if os.environ.get("CI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CI_REQUIRE_BROWSER=1 but {missing}", pytrace=False)
    pytest.skip(f"browser test: {missing}")


@pytest.fixture(scope="module")
def big_run(chromium, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("view") / "big"
    generate(run, PROGRAMS, seed=5)
    return run


@pytest.fixture(scope="module")
def browser(chromium) -> Iterator["Browser"]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request, tmp_path_factory) -> Iterator["Page"]:
    """A fresh page that collects console errors (`page.errors`) and leaves a screenshot when
    the test failed."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        shot = tmp_path_factory.mktemp("view-screenshots") / f"{request.node.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    page.close()


@contextlib.contextmanager
def serving(archive: Path) -> Iterator[ViewServer]:
    server = ViewServer(archive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def big_server(big_run):
    with serving(big_run / "archive.sqlite") as server:
        yield server


def wait_ready(page: "Page") -> None:
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)


def wait_for(page: "Page", expression: str, timeout_ms: int = 30_000) -> None:
    """Wait until `expression` is true in the page. Playwright's wait_for_function evaluates
    its predicate with eval(), which the served page's content security policy forbids (as it
    should); page.evaluate goes through the DevTools protocol, which the policy does not bind."""
    for _ in range(timeout_ms // 50):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"still false after {timeout_ms} ms: {expression}")


def click_program(page: "Page", program_id: int, shift: bool = False) -> None:
    """Click where the page drew the program (it exposes its own layout for this)."""
    x, y = page.evaluate(f"window.discoveryView.at({program_id})")
    box = page.locator("#tree").bounding_box()
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(box["x"] + x, box["y"] + y)
    if shift:
        page.keyboard.up("Shift")


def check_best_program(page: "Page", reader: ArchiveReader) -> None:
    best = reader.best()
    click_program(page, best.id)
    wait_for(page, f"document.querySelector('#detail h2')?.textContent.startsWith("
                   f"'#{best.id}')")
    assert page.locator("#detail-code").text_content() == best.code
    diff = page.locator("#detail-diff").text_content()
    if best.diff:
        assert all(line in diff for line in best.diff.splitlines()[:12])
    else:
        assert diff == "same code as the parent"
    # shift-click the seed of its lineage: the two programs' diff, as difflib makes it
    seed = reader.program(reader.ancestry(best.id)[0])
    click_program(page, seed.id, shift=True)
    page.wait_for_selector("#detail-compare")
    compare = page.locator("#detail-compare").text_content()
    expected = [line.rstrip("\n") for line in difflib.unified_diff(
        best.code.splitlines(), seed.code.splitlines(), lineterm="")][2:]
    changed = [line for line in expected if line[:1] in "+-"]
    assert changed and all(line in compare for line in changed)


def test_served_page_shows_every_program_and_the_best_ones_code_and_diff(big_server, big_run,
                                                                         page):
    page.goto(big_server.url)
    wait_ready(page)
    with ArchiveReader(big_run / "archive.sqlite") as reader:
        total = reader.count()
        assert total >= PROGRAMS
        assert page.evaluate("window.discoveryView.count") == total
        assert page.get_attribute("#count", "data-nodes") == str(total)
        check_best_program(page, reader)
        failures = reader.failures_by_reason(limit=1)
    page.click("nav button[data-tab=campaign]")
    assert failures[0][1] in page.locator("#failures").text_content()
    assert "anthropic/claude-sonnet-4-5" in page.locator("#usage").text_content()
    assert page.errors == []


def test_a_running_campaigns_new_iteration_appears(demo_runs, tmp_path, page):
    shutil.copytree(demo_runs / "demo", tmp_path / "live")
    archive = tmp_path / "live" / "archive.sqlite"
    with serving(archive) as server:
        page.goto(server.url + "?poll=0.3")
        wait_ready(page)
        shown = page.evaluate("window.discoveryView.count")
        with ArchiveWriter(archive) as writer, writer.batch():
            best = writer.best()
            new = add_scored(writer, 0.5, best.score + 1, parents=(best.id,))
            writer.log_event("scratchpad", {"after": 7, "insights": "crossover pays off"})
        wait_for(page, f"window.discoveryView.count === {shown + 1}", timeout_ms=10_000)
        assert page.evaluate("window.discoveryView.best") == new
        click_program(page, new)
        code = json.dumps(seed_code(0.5))
        wait_for(page, f"document.querySelector('#detail-code')?.textContent === {code}")
        page.reload()  # and after a refresh, from the archive as it is now
        wait_ready(page)
        assert page.evaluate("window.discoveryView.count") == shown + 1
        page.click("nav button[data-tab=campaign]")
        assert "crossover pays off" in page.locator("#insights").text_content()
    assert page.errors == []


def test_static_export_works_from_disk(big_run, tmp_path, page):
    with ViewReader(big_run / "archive.sqlite") as reader:
        write_static(reader, tmp_path / "view")
        page.goto((tmp_path / "view" / "index.html").as_uri())
        wait_ready(page)
        assert page.evaluate("window.discoveryView.count") == reader.count()
        check_best_program(page, reader)
    assert "static export" in page.locator("#live").text_content()
    assert page.errors == []


def test_a_candidates_html_and_markup_show_as_text(tmp_path, page):
    """What a candidate wrote (code, reason, error tail) is text on the page: its <img> tag and
    Markdown image are shown, never loaded, and no request leaves for its host."""
    hostile = "<img src=http://evil.example/x.png> ![x](http://evil.example/y.png) [bold]x[/]"
    with ArchiveWriter.create(tmp_path / "r" / "archive.sqlite", name="r", task="toy",
                              config={"task": "toy"}, seed=0, evaluator_version="v1") as writer:
        seed = add_scored(writer, 0.5, 1.0)
        crashed = writer.add_program(NewProgram(f"# {hostile}\nx = {hostile!r}\n",
                                                parents=(seed,)))
        writer.record_evaluation(crashed, EvaluationResult("full", "crashed", reason=hostile,
                                                           error_tail=hostile))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    with serving(tmp_path / "r" / "archive.sqlite") as server:
        page.goto(server.url)
        wait_ready(page)
        click_program(page, crashed)
        wait_for(page, f"document.querySelector('#detail h2')?.textContent.startsWith("
                       f"'#{crashed}')")
        assert page.locator("#detail").text_content().count(hostile) >= 2  # code, reason, tail
        assert page.evaluate("document.querySelectorAll('[src*=evil], [href*=evil]').length") == 0
    assert not [url for url in requests if "evil" in url]
    assert page.errors == []
