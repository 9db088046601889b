"""`discover view` in a real headless browser: Debian's chromium driven by Playwright (the
system browser's executable; `playwright install` is never needed).

On a generated 10k-program campaign: the page loads with no console error, the tree holds every
program, clicking the best program shows its code and its diff (and shift-clicking a second
one diffs the two, line for line as difflib does), a running campaign's new iteration appears,
and the static export works from file://. On a small hand-made campaign: the held-out result
beside the search score, a refused proposal reached with its prompt and answer, two identical
answers each with its own prompt, refusals counted among the failures, islands drawn apart.
A failing test leaves a screenshot in pytest's tmp folder (its path is printed).

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

from archive import ArchiveReader, ArchiveWriter, EvaluationResult, ModelCall, NewProgram
from discovery.doubles.synthetic import generate
from discovery.loop.liveness import Liveness
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
    """Click where the page drew the program (it exposes its own layout for this), the whole
    tree fitted to the screen and then zoomed in around it, as a user would: 10k programs
    fitted to a screen share pixels."""
    page.click("#fit")
    box = page.locator("#tree").bounding_box()
    x, y = page.evaluate(f"window.discoveryView.at({program_id})")
    page.mouse.move(box["x"] + x, box["y"] + y)
    for _ in range(6):
        page.mouse.wheel(0, -300)
    page.wait_for_timeout(100)
    x, y = page.evaluate(f"window.discoveryView.at({program_id})")
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(box["x"] + x, box["y"] + y)
    if shift:
        page.keyboard.up("Shift")


def diff_lines(page: "Page", selector: str) -> list[str]:
    """The lines of a diff as the page shows them (one element a line)."""
    return page.evaluate(f"[...document.querySelectorAll('{selector} > span')]"
                         ".map((s) => s.textContent)")


def select_program(page: "Page", program_id: int, shift: bool = False) -> None:
    click_program(page, program_id, shift)
    if shift:
        page.wait_for_selector("#detail-compare")
    else:
        wait_for(page, f"document.querySelector('#detail h2')?.textContent.startsWith("
                       f"'#{program_id}')")


def check_best_program(page: "Page", reader: ArchiveReader) -> None:
    best = reader.best()
    select_program(page, best.id)
    assert page.locator("#detail-code").text_content() == best.code
    if best.diff:
        assert diff_lines(page, "#detail-diff") == best.diff.splitlines()
    else:
        assert page.locator("#detail-diff").text_content() == "same code as the parent"
    # shift-click the seed of its lineage: the two programs' diff, exactly as difflib makes it
    seed = reader.program(reader.ancestry(best.id)[0])
    select_program(page, seed.id, shift=True)
    expected = list(difflib.unified_diff(best.code.splitlines(), seed.code.splitlines(),
                                         f"program {best.id}", f"program {seed.id}",
                                         lineterm=""))
    assert expected and diff_lines(page, "#detail-compare") == expected


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


REFUSED = "the python code block is never closed"
ANSWER = "```python\ndef f():\n    a = 3\n    b = 4\n    return a + b\n```"


def exchange(call_id: str, prompt: str, answer: str) -> str:
    """A transcript line as the recorder writes it: its call id first."""
    return json.dumps({"call": call_id, "key": call_id, "model": "m", "seed": None,
                       "messages": [{"role": "user", "content": prompt}], "text": answer,
                       "tokens_in": 10, "tokens_out": 5, "cost": 0.0, "latency_s": 1.0}) + "\n"


def proposal(writer: ArchiveWriter, n: int, code: str, parent: int, island: int,
             score: float, call_id: str | None) -> int:
    """One committed model proposal: program, its call (by call id), evaluation, event."""
    with writer.batch():
        pid = writer.add_program(NewProgram(code, parents=(parent,), island=island, model="m",
                                            edit_kind="rewrite"))
        writer.record_model_call(ModelCall("m", "propose", 10, 5, raw_response=ANSWER,
                                           program_id=pid, iteration=n, call_id=call_id))
        writer.record_evaluation(pid, EvaluationResult("full", "ok", score=score))
        writer.log_event("iteration", {"n": n, "op": "llm", "island": island, "model": "m",
                                       "program": pid, "valid_edit": True, "status": "ok",
                                       "score": score, "reason": None}, pid)
    return pid


@pytest.fixture(scope="module")
def small_run(chromium, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """What a real campaign has and the generated one lacks: island 1 starting from a copy of
    the seed, an edit that replaces lines, two proposals that answered alike from different
    prompts, a refused proposal with its call, and the held-out result recorded at the stop."""
    run = tmp_path_factory.mktemp("small") / "small"
    old = "def f():\n    a = 1\n    b = 2\n    return a + b\n"
    with ArchiveWriter.create(run / "archive.sqlite", name="small", task="toy",
                              config={"task": "toy"}, seed=0, evaluator_version="v1") as writer:
        seed = add_scored(writer, 0.5, 1.0, edit_kind="seed")
        with writer.batch():
            parent = writer.add_program(NewProgram(old, parents=(seed,), edit_kind="tune"))
            writer.record_evaluation(parent, EvaluationResult("full", "ok", score=1.5))
        copy = add_scored(writer, 0.5, 1.0, parents=(seed,), island=1, edit_kind="migration")
        ids = {"seed": seed, "parent": parent, "copy": copy,
               "first": proposal(writer, 3, ANSWER[10:-3], parent, 0, 2.0, "c-first"),
               "second": proposal(writer, 4, ANSWER[10:-3], copy, 1, 2.5, "c-second")}
        with writer.batch():
            writer.record_model_call(ModelCall("m", "propose", 12, 7,
                                               raw_response="```python\nx = (",
                                               iteration=5, call_id="c-refused"))
            writer.log_event("iteration", {"n": 5, "op": "llm", "island": 1, "model": "m",
                                           "parent": copy, "inspirations": [],
                                           "program": None, "valid_edit": False, "turns": 1,
                                           "status": "no program", "reason": REFUSED})
        writer.log_event("campaign_stopped", {
            "reason": "budget: iterations", "program": ids["second"],
            "held_out": {"held_out_status": "ok", "held_out_score": 2.25, "held_out_n": 32}},
            ids["second"])
    (run / "transcript.jsonl").write_text(
        exchange("c-first", "prompt of the first", ANSWER)
        + exchange("c-second", "prompt of the second", ANSWER)
        + exchange("c-refused", "prompt of the refused one", "```python\nx = ("))
    return run, ids


@pytest.mark.parametrize("how", ["served", "static"])
def test_held_out_refusals_and_each_calls_own_prompt(small_run, how, tmp_path, page):
    run, ids = small_run
    with contextlib.ExitStack() as stack:
        if how == "served":
            page.goto(stack.enter_context(serving(run / "archive.sqlite")).url)
        else:
            with ViewReader(run / "archive.sqlite") as reader:
                write_static(reader, tmp_path / "view")
            page.goto((tmp_path / "view" / "index.html").as_uri())
        wait_ready(page)
        assert page.locator("#state").text_content() == "finished"
        # the held-out result beside the best's search score, with the gap
        assert page.locator("#heldout").text_content() == \
            "held-out: 2.25 (search 2.5, gap -0.25)"
        select_program(page, ids["second"])
        assert page.locator("#detail-held-out").text_content().startswith(
            "2.25 (search 2.5, gap -0.25)")
        held = page.locator("#detail tr", has_text="held-out (at the stop)").text_content()
        assert "held_out_n" in held and "32" in held
        # two identical answers, each with the prompt it was given
        for name in ("second", "first"):
            select_program(page, ids[name])
            calls = page.locator("#detail details.call")
            assert calls.count() == 1
            assert calls.locator("pre.prompt").text_content() == f"prompt of the {name}"
            assert calls.locator("pre.answer").text_content() == ANSWER
        # the refused proposal: counted among the failures, listed, reached with its call
        page.click("nav button[data-tab=campaign]")
        assert f"1 no program: {REFUSED}" in page.locator("#failures").text_content()
        page.locator("#idle a", has_text="iteration 5").click()
        page.wait_for_selector("#detail-iteration")
        detail = page.locator("#detail")
        assert REFUSED in detail.text_content() and "valid edit" in detail.text_content()
        detail.locator("details.call summary").click()
        assert detail.locator("pre.prompt").inner_text() == "prompt of the refused one"
        assert detail.locator("pre.answer").inner_text() == "```python\nx = ("
        # and from the program it started from, in the tree
        detail.locator("tr", has_text="parent").locator("a").click()
        wait_for(page, f"document.querySelector('#detail h2')?.textContent.startsWith("
                       f"'#{ids['copy']}')")
        page.locator("#detail tr", has_text="made no program from it").locator(
            "a", has_text="iteration 5").click()
        page.wait_for_selector("#detail-iteration")
    assert page.errors == []


def test_islands_are_drawn_apart_and_a_chosen_diff_reads_as_the_parents(small_run, page):
    run, ids = small_run
    with serving(run / "archive.sqlite") as server:
        page.goto(server.url)
        wait_ready(page)
        x = {name: page.evaluate(f"window.discoveryView.at({pid})")[0]
             for name, pid in ids.items()}
        # island 1 starts from a copy of the seed: its own band, right of island 0's
        assert page.evaluate("window.discoveryView.bands()") == [0, 1]
        assert max(x["seed"], x["parent"], x["first"]) < min(x["copy"], x["second"])
        # the parent, then shift-click its child: the diff the archive stored, line for line
        select_program(page, ids["parent"])
        select_program(page, ids["first"], shift=True)
        with ArchiveReader(run / "archive.sqlite") as reader:
            stored = reader.program(ids["first"]).diff.splitlines()
        shown = diff_lines(page, "#detail-compare")
        assert shown[2:] == stored[2:] and "-    a = 1" in shown  # removed lines first
        assert shown[:2] == [f"--- program {ids['parent']}", f"+++ program {ids['first']}"]
    assert page.errors == []


def test_the_header_says_whether_the_campaign_runs_and_what_is_in_flight(small_run, tmp_path,
                                                                         page):
    run = tmp_path / "live"
    shutil.copytree(small_run[0], run)
    state = "document.querySelector('#state').textContent"
    with serving(run / "archive.sqlite") as server:
        page.goto(server.url + "?poll=0.3")
        wait_ready(page)
        assert page.evaluate(state) == "finished"
        assert "budget: iterations" in page.locator("#statewhy").text_content()
        live = Liveness(run)  # what a campaign process holds while it runs
        try:
            with live.doing("model call for iteration 6", limit_s=600):
                wait_for(page, f"{state} === 'running'", timeout_ms=10_000)
                wait_for(page, "document.querySelector('#statewhy').textContent"
                               ".includes('in flight: model call for iteration 6 (since')")
        finally:
            live.close()
        wait_for(page, f"{state} === 'finished'", timeout_ms=10_000)
    assert page.errors == []


def test_the_header_and_program_panel_say_when_the_agent_model_is_a_test_double(tmp_path, page):
    """A simulator campaign's label (double_label) beside the campaign's name and in a
    program's panel; a campaign whose agent model is real-named shows neither."""
    from discovery.double_label import label

    for name, agent in (("sim", "simulator"), ("real", "openai/gpt-4o-mini")):
        config = {"task": "toy", "models": [{"name": "openai/gpt-4o-mini"}],
                  "agent_model": {"name": agent}}
        with ArchiveWriter.create(tmp_path / name / "archive.sqlite", name=name, task="toy",
                                  config=config, seed=0, evaluator_version="v1") as writer:
            add_scored(writer, 0.5, 1.0)
        with serving(tmp_path / name / "archive.sqlite") as server:
            page.goto(server.url)
            wait_ready(page)
            header = page.locator("#doubles")
            click_program(page, 1)
            wait_for(page, "document.querySelector('#detail h2')?.textContent.startsWith('#1')")
            if agent == "simulator":
                assert header.is_visible()
                assert header.text_content() == f"caveat: {label([config])}"
                assert page.locator("#detail-doubles").text_content() == label([config])
            else:
                assert not header.is_visible() and page.locator("#detail-doubles").count() == 0
    assert page.errors == []


def test_the_prompts_tab_draws_the_prompt_variants_tree_and_their_texts(tmp_path, page):
    """Prompt co-evolution's archive as a second tree: each variant under its parent with its
    uses and mean improvement, the most helpful in bold, a click shows its texts (a model wrote
    them: HTML in them is text), and the mutations tried with the refusals' reasons."""
    hostile = "<img src=http://evil.example/p.png> Reply with one ```python block."
    with ArchiveWriter.create(tmp_path / "p" / "archive.sqlite", name="p", task="toy",
                              config={"task": "toy"}, seed=0, evaluator_version="v1") as writer:
        seed = add_scored(writer, 0.5, 1.0, edit_kind="seed")
        shipped = writer.add_prompt_variant("rewrite", "the shipped ```python prompt",
                                            name="shipped")
        made = writer.add_prompt_variant("rewrite", hostile, "Change one idea.",
                                         parent_id=shipped, name="careful", iteration=2)
        for n, variant, score in ((1, shipped, 0.5), (2, made, 2.0)):
            writer.record_prompt_use(n, variant)
            child = add_scored(writer, float(n), score, parents=(seed,), edit_kind="rewrite")
            writer.log_event("iteration", {"n": n, "op": "llm", "parent": seed, "program": child,
                                           "status": "ok", "score": score}, child)
        writer.log_event("prompt_mutation", {"n": 2, "kind": "rewrite", "parent": shipped,
                                             "variant": made, "refused": None})
        writer.log_event("prompt_mutation", {"n": 4, "kind": "rewrite", "parent": made,
                                             "variant": None, "refused": "no <SYSTEM> block"})
    with serving(tmp_path / "p" / "archive.sqlite") as server:
        page.goto(server.url)
        wait_ready(page)
        page.click("nav button[data-tab='prompts']")
        tree = page.locator("#prompttree")
        assert tree.locator("h3").text_content() == "rewrite prompts"
        child = tree.locator(f"li li button[data-variant='{made}']")  # nested under #shipped
        # scores 1 (the seed, both children's parent), 0.5 and 2: a spread of 1.5
        assert child.text_content().startswith(f"#{made} careful · uses 1 · mean +0.667")
        assert "best" in child.get_attribute("class")
        assert "mean -0.333" in tree.locator(f"button[data-variant='{shipped}']").text_content()
        child.click()
        detail = page.locator("#promptdetail")
        assert hostile in detail.text_content() and "Change one idea." in detail.text_content()
        assert page.evaluate("document.querySelectorAll('[src*=evil]').length") == 0
        mutations = page.locator("#mutations").text_content()
        assert f"made #{made}" in mutations and "refused: no <SYSTEM> block" in mutations
    assert page.errors == []
