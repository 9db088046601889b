"""`discover view` at 10k and 100k programs: what the page costs to build and to draw.

For each size, a generated campaign (`discover demo`'s generator; generating is not timed), with
the iteration events a real campaign logs (one per program, and a third as many iterations that
made no program, each with its refusal reason), and:
the payload's build time (queries + JSON, what the server spends when the archive changed), its
size, the static export's time (every program's details written), and, when chromium and
Playwright are here, the served page's time to first draw (navigation to a drawn tree: fetching
and parsing the payload, layout and drawing) and the time one full redraw of the tree takes.
Prints a Markdown table; asserts nothing. `--screenshot PNG` also saves the page, its best
program selected, at the first size (the README's picture: `--sizes 10000 --screenshot
docs/images/view.png`).

    .venv/bin/python bench/view_bench.py [--sizes 10000 100000]
    .venv/bin/python bench/view_bench.py --quick   # seconds: 1,000 programs
"""

import argparse
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

from archive import ArchiveWriter
from discovery.doubles.synthetic import generate
from discovery.web.data import ViewReader, campaign_data, dumps
from discovery.web.server import ViewServer
from discovery.web.static import write_static

CHROMIUM = shutil.which("chromium")


def browser_figures(archive: Path, screenshot: Path | None) -> tuple[str, str]:
    """(seconds to first draw, ms per redraw) of the served page, or dashes without a browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "-", "-"
    if CHROMIUM is None:
        return "-", "-"
    server = ViewServer(archive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']", timeout=120_000)
            first = page.evaluate("window.discoveryView.firstDrawMs()") / 1000
            redraws = []
            for _ in range(5):
                page.click("#fit")
                page.evaluate("new Promise(r => requestAnimationFrame(() => "
                              "requestAnimationFrame(r)))")
                redraws.append(page.evaluate("window.discoveryView.drawMs()"))
            if screenshot is not None:
                page.click("#tobest")
                page.wait_for_selector("#detail-code")
                page.screenshot(path=str(screenshot))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return f"{first:.2f}", f"{sorted(redraws)[len(redraws) // 2]:.0f}"


def log_iterations(archive: Path, seed: int = 0) -> None:
    """An iteration event per program, and n/3 refused proposals, as the campaign loop logs
    them: the generator writes programs only, and the view reads iterations too."""
    rng = random.Random(seed)
    with ArchiveWriter(archive) as writer, writer.batch():
        count = writer.count()
        for n in range(1, count + count // 3 + 1):
            program = n if n <= count else None
            refusal = f"no SEARCH block matches (line {rng.randrange(300)})"
            writer.log_event("iteration", {
                "n": n, "op": "llm", "island": n % 4, "model": "m", "program": program,
                "valid_edit": program is not None, "turns": 1, "evaluations": 1,
                "status": "ok" if program else "no program", "score": None,
                "reason": None if program else refusal},
                program)


def measure(run: Path, n: int, screenshot: Path | None = None) -> str:
    generate(run, n, seed=0, name="demo")
    archive = run / "archive.sqlite"
    log_iterations(archive)
    with ViewReader(archive) as reader:
        start = time.perf_counter()
        payload = dumps(campaign_data(reader)).encode()
        build = time.perf_counter() - start
        start = time.perf_counter()
        write_static(reader, run.parent / f"{run.name}-view")
        export = time.perf_counter() - start
        count = reader.count()
    first, redraw = browser_figures(archive, screenshot)
    return (f"| {count:,} | {build:.2f} | {len(payload) / 1e6:.2f} | {export:.1f} | {first} "
            f"| {redraw} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--quick", action="store_true", help="a few seconds: --sizes 1000")
    parser.add_argument("--screenshot", type=Path, help="save the page at the first size here")
    args = parser.parse_args()
    if args.quick:
        args.sizes = [1000]
    print("| programs | payload build (s) | payload (MB) | static export (s) "
          "| first draw (s) | redraw (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in enumerate(args.sizes):
            print(measure(Path(tmp) / f"n{n}", n, None if k else args.screenshot), flush=True)


if __name__ == "__main__":
    main()
