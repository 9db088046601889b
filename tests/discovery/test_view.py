"""`discover view` without a browser: the payload, a program's details, the server's routes while
a writer adds programs, the static export's files, and the CLI's one-line errors. The page
itself is driven in a real browser in test_view_browser.py."""

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from archive import ArchiveReader, ArchiveWriter, EvaluationResult, ModelCall, NewProgram
from discovery.models.transcripts import TranscriptIndex
from discovery.web.data import (
    NO_PROGRAM,
    NODE_CHUNK,
    ViewReader,
    campaign_data,
    iteration_details,
    node_details,
    report_images,
    transcripts,
)
from discovery.web.server import ViewServer
from discovery.web.static import MARKER
from tests.helpers import SCRIPT, junk_model, run_scripted


@pytest.fixture
def run(demo_runs, tmp_path) -> Path:
    """A private copy of the 300-program demo campaign, free to write to."""
    shutil.copytree(demo_runs / "demo", tmp_path / "demo")
    return tmp_path / "demo"


@pytest.fixture
def server(run):
    srv = ViewServer(run / "archive.sqlite")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(url: str, host: str | None = None, **headers: str) -> tuple[int, bytes]:
    return fetch(url, host, **headers)[:2]


def fetch(url: str, host: str | None = None, **headers: str) -> tuple[int, bytes, dict]:
    """A GET as a browser would send it: `headers` by their HTTP names with - as _."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    request = urllib.request.Request(url, headers={**sent, **({"Host": host} if host else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def one_line_error(result, fragment: str) -> None:
    """The CLI's way with a problem the user can fix: one `error:` line, exit 1, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("error: ") and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output


def add_program(writer: ArchiveWriter, parent: int, score: float) -> int:
    """One iteration as the campaign loop commits it: program, model call, final evaluation."""
    with writer.batch():
        pid = writer.add_program(NewProgram(f"x = {score!r}\n", parents=(parent,), island=1,
                                            model="m", edit_kind="diff"))
        writer.record_model_call(ModelCall("m", "propose", 10, 5, 0.01, 1.0,
                                           raw_response=f"```python\nx = {score!r}\n```",
                                           program_id=pid))
        writer.record_evaluation(pid, EvaluationResult(
            "full", "ok", score=score, public_metrics={"score": score},
            private_metrics={"held_out": score / 2}))
    return pid


def test_payload_holds_every_program_and_the_campaign_series(demo_runs):
    with ViewReader(demo_runs / "demo" / "archive.sqlite") as reader:
        data = campaign_data(reader)
        best = reader.best()
        programs = reader.programs(range(1, reader.count() + 1))
        lineage = reader.ancestry(best.id)
        failures = reader.failures_by_reason(limit=12)
        usage = reader.model_usage()
    nodes = data["nodes"]
    assert nodes["id"] == [p.id for p in programs]
    assert all(len(column) == len(programs) for column in nodes.values())
    for p in programs[::37]:
        i = nodes["id"].index(p.id)
        assert nodes["parent"][i] == (p.parent_id if p.parent_id is not None else -1)
        assert data["statuses"][nodes["status"][i]] == p.status
        assert nodes["island"][i] == p.island
        if p.score is None:
            assert nodes["score"][i] is None
        else:
            assert nodes["score"][i] == pytest.approx(p.score, rel=1e-6)
    assert [[c, p] for c, p in data["crossovers"]] == sorted(
        [p.id, p.parents[1]] for p in programs if len(p.parents) > 1)
    assert data["best"] == best.id and data["best_lineage"] == lineage
    assert [tuple(f) for f in data["failures"]] == failures
    assert {u["model"]: u["calls"] for u in data["usage"]} == {u.model: u.calls for u in usage}
    for model, points in data["spending"].items():  # cumulative, to the micro-dollar
        assert points[-1][2] == pytest.approx(next(u.cost for u in usage if u.model == model),
                                              abs=1e-6)
    json.dumps(data, allow_nan=False)  # what the browser's parser accepts


def test_payload_carries_the_scratchpads_insights_and_the_report_plots(writer):
    writer.log_event("scratchpad", {"after": 5, "insights": "small steps help"})
    writer.log_event("scratchpad", {"after": 9, "insights": "restarts help more"})
    report = writer.path.parent / "report"
    report.mkdir()
    (report / "failures.png").write_bytes(b"png")
    (report / "report.md").write_text("not a plot")
    with ViewReader(writer.path) as reader:
        data = campaign_data(reader, report_images(writer.path.parent))
    assert [(i["after"], i["insights"]) for i in data["insights"]] == [
        (5, "small steps help"), (9, "restarts help more")]  # oldest first
    assert data["reports"] == ["report/failures.png"]
    assert data["best"] is None and data["nodes"]["id"] == []


def exchange(call_id: str, answer: str, prompt: str) -> str:
    """A transcript line as the recorder writes it: its call id first."""
    return json.dumps({"call": call_id, "key": call_id, "model": "m", "seed": None,
                       "messages": [{"role": "user", "content": prompt}], "text": answer,
                       "tokens_in": 10, "tokens_out": 5, "cost": 0.0, "latency_s": 1.0}) + "\n"


def test_calls_come_with_their_own_prompts_by_call_id(writer):
    """Two calls that answered alike keep their own prompts (found by call id, never by the
    answer's text), and an iteration that made no program is reached with its calls."""
    seed = writer.add_program(NewProgram("x = 0\n", edit_kind="seed"))
    same = "```python\nx = 1\n```"
    (writer.path.parent / "transcript.jsonl").write_text(
        exchange("first", same, "first prompt") + exchange("second", same, "second prompt")
        + exchange("refused", "```python\nx = (", "third prompt"))
    ids = []
    for n, call_id in ((1, "first"), (2, "second")):
        with writer.batch():
            pid = writer.add_program(NewProgram("x = 1\n", parents=(seed,), model="m",
                                                edit_kind="rewrite", edit_text=same))
            writer.record_model_call(ModelCall("m", "propose", 10, 5, raw_response=same,
                                               program_id=pid, iteration=n, call_id=call_id))
            writer.log_event("iteration", {"n": n, "op": "llm", "program": pid,
                                           "status": "pending", "reason": None}, pid)
        ids.append(pid)
    with writer.batch():
        writer.record_model_call(ModelCall("m", "propose", 10, 5, raw_response="```python\nx = (",
                                           iteration=3, call_id="refused"))
        writer.log_event("iteration", {"n": 3, "op": "llm", "island": 0, "model": "m",
                                       "program": None, "valid_edit": False, "turns": 1,
                                       "status": NO_PROGRAM,
                                       "reason": "the python code block is never closed"})
    # iteration 4's calls were recorded, then a broken model stopped the campaign there
    writer.record_model_call(ModelCall("m", "propose", 10, 0, error="401", iteration=4))
    with ViewReader(writer.path) as reader:
        index = transcripts(reader)
        details = node_details(reader, ids, index)
        data = campaign_data(reader)
        refused = iteration_details(reader, [3], index)[3]
        idle = [(i.n, i.status, i.reason, i.calls) for i in reader.iterations()
                if i.program_id is None]
    prompts = [details[pid]["calls"][0]["prompt"][0]["content"] for pid in ids]
    assert prompts == ["first prompt", "second prompt"]
    assert [details[pid]["iteration"] for pid in ids] == [1, 2]
    assert details[ids[0]]["edit_text"] is None  # the call's answer already shows the edit
    listed = data["no_program"]
    assert [(n, data["statuses"][status], -1 if reason < 0 else listed["reasons"][reason], calls)
            for n, status, reason, calls in zip(listed["n"], listed["status"], listed["reason"],
                                                listed["calls"], strict=True)] == [
        (n, status, -1 if reason is None else reason, calls) for n, status, reason, calls in idle]
    assert [n for n, *_ in idle] == [3, 4] and idle[1][1] == "unfinished"
    assert [NO_PROGRAM, "the python code block is never closed", 1] in [
        list(f) for f in data["failures"]]
    assert (refused["status"], refused["valid_edit"], refused["program_id"]) == (
        NO_PROGRAM, False, None)
    call = refused["calls"][0]
    assert call["answer"] == "```python\nx = (" and call["prompt"][0]["content"] == "third prompt"


def test_node_details_carry_code_diff_metrics_and_calls(run):
    with ViewReader(run / "archive.sqlite") as reader:
        best = reader.best()
        details = node_details(reader, [best.id], transcripts(reader))[best.id]
        evaluations = reader.evaluations(best.id)
        children = reader.children(best.id)
        calls = reader.model_calls(program=best.id)
    assert details["code"] == best.code and details["diff"] == best.diff
    assert details["parents"] == list(best.parents) and details["children"] == children
    final = details["evaluations"][-1]
    assert final["public"] == evaluations[-1].public_metrics
    assert final["private"] == evaluations[-1].private_metrics and final["private"]
    assert [c["answer"] for c in details["calls"]] == [c.raw_response for c in calls] != []
    assert details["calls"][0]["prompt"] is None  # the demo recorded no transcript


def test_a_recorded_campaigns_calls_come_with_their_prompts(tmp_path):
    run_scripted(tmp_path, "sc", 4, junk_model(SCRIPT))
    run = tmp_path / "sc"
    records = [json.loads(line) for line in (run / "transcript.jsonl").read_text().splitlines()]
    with ViewReader(run / "archive.sqlite") as reader:
        proposals = [p.id for p in reader.programs(range(1, reader.count() + 1))
                     if p.edit_kind == "rewrite"]
        details = node_details(reader, proposals, transcripts(reader))
    calls = [call for d in details.values() for call in d["calls"]]
    assert calls and all(call["prompt"] is not None for call in calls)
    for call in calls:
        assert call["prompt"] == next(r["messages"] for r in records
                                      if r["call"] == call["call_id"])


def test_node_details_of_a_failure_and_a_design(writer):
    code = ('# EVOLVE-BLOCK-START\ndef f(x):\n    """Halving\n\n    Smaller steps converge."""\n'
            "    return x / 2\n# EVOLVE-BLOCK-END\n")
    seed = writer.add_program(NewProgram(code, edit_kind="seed"))
    broken = writer.add_program(NewProgram(code.replace("/ 2", "/ 0"), parents=(seed,)))
    writer.record_evaluation(broken, EvaluationResult(
        "smoke", "crashed", reason="ZeroDivisionError", error_tail="Traceback ...\nZeroDiv"))
    with ViewReader(writer.path) as reader:
        details = node_details(reader, [seed, broken],
                               TranscriptIndex(writer.path.parent / "none"))
    assert (details[seed]["name"], details[seed]["thought"]) == ("Halving",
                                                                 "Smaller steps converge.")
    failed = details[broken]["evaluations"][0]
    assert (failed["status"], failed["reason"], failed["error_tail"]) == (
        "crashed", "ZeroDivisionError", "Traceback ...\nZeroDiv")
    assert "-    return x / 2" in details[broken]["diff"]
    assert details[broken]["calls"] == []


def test_server_routes(server, run):
    status, page = get(server.url)
    assert status == 200 and b'<script src="view.js">' in page
    for asset in ("view.js", "view.css"):
        assert get(server.url + asset)[0] == 200
    status, body = get(server.url + "api/data")
    assert status == 200
    data = json.loads(body)
    with ArchiveReader(run / "archive.sqlite") as reader:
        assert data["static"] is False and len(data["nodes"]["id"]) == reader.count()
    status, body = get(f"{server.url}api/node/{data['best']}")
    assert status == 200 and json.loads(body)["id"] == data["best"]
    status, body = get(f"{server.url}api/node/99999")
    assert status == 404 and "no program 99999" in json.loads(body)["error"]
    status, body = get(f"{server.url}api/iteration/99999")
    assert status == 404 and "no iteration 99999" in json.loads(body)["error"]
    assert get(server.url + "nothing")[0] == 404
    assert get(server.url + "report/../archive.sqlite")[0] == 404
    (run / "report").mkdir()
    (run / "report" / "scores.png").write_bytes(b"\x89PNG fake")
    assert get(server.url + "report/scores.png") == (200, b"\x89PNG fake")
    port = server.server_address[1]
    assert get(server.url, host=f"attacker.example:{port}")[0] == 403  # DNS rebinding


def test_the_data_is_for_the_page_only(server):
    """Another origin (a page on another local port included, which is same-site) cannot read
    the archive: not by a <script> tag, not without the key in the printed URL, not through a
    DNS name bound to 127.0.0.1; the page's own requests are served."""
    port = server.server_address[1]
    root = f"http://127.0.0.1:{port}/"
    status, body, headers = fetch(server.url + "api/data", Sec_Fetch_Site="same-origin")
    assert status == 200 and json.loads(body)["nodes"]["id"]  # the page's own fetch
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert get(server.url, Sec_Fetch_Site="none")[0] == 200  # the user opens the URL
    assert get(server.url.rstrip("/"))[0] == 200  # typed without its last slash: redirected
    status, script = get(server.url + "data.js", Sec_Fetch_Site="same-origin")
    assert status == 200 and b"nodes" not in script  # no payload a <script> tag could read
    for path in ("", "data.js", "api/data", "api/stamp", "api/node/1"):
        assert get(root + path)[0] == 403, path  # no key
        assert get(f"{root}not-the-key/{path}")[0] == 403, path
    refused = [get(server.url + "api/data", Sec_Fetch_Site="cross-site"),
               get(server.url + "api/data", Sec_Fetch_Site="same-site"),  # another local port
               get(server.url + "data.js", Sec_Fetch_Site="same-site", Sec_Fetch_Dest="script"),
               get(server.url + "api/data", Origin="http://127.0.0.1:8000"),
               get(server.url + "api/data", host=f"attacker.example:{port}"),  # DNS rebinding
               get(server.url + "api/data", host=f"127.0.0.1:{port + 1}")]
    assert [status for status, _ in refused] == [403] * len(refused)
    assert all(b"nodes" not in body for _, body in refused)


def test_server_follows_a_running_campaign_and_never_holds_its_writer(server, run):
    stamp = json.loads(get(server.url + "api/stamp")[1])["stamp"]
    with ArchiveWriter(run / "archive.sqlite") as writer:
        best = writer.best()
        stop = threading.Event()

        def poll() -> None:  # a page polling and reloading as hard as it can
            while not stop.is_set():
                get(server.url + "api/data")

        pollers = [threading.Thread(target=poll) for _ in range(2)]
        for thread in pollers:
            thread.start()
        try:
            slowest, new = 0.0, []
            for k in range(10):
                start = time.perf_counter()
                new.append(add_program(writer, best.id, best.score + 1 + k))
                slowest = max(slowest, time.perf_counter() - start)
        finally:
            stop.set()
            for thread in pollers:
                thread.join()
    assert slowest < 1.0, f"a commit waited {slowest:.2f} s for the viewer"
    assert json.loads(get(server.url + "api/stamp")[1])["stamp"] != stamp
    data = json.loads(get(server.url + "api/data")[1])
    assert data["nodes"]["id"][-10:] == new and data["best"] == new[-1]
    assert data["best_lineage"][-2:] == [best.id, new[-1]]
    details = json.loads(get(f"{server.url}api/node/{new[-1]}")[1])
    assert details["evaluations"][0]["private"] == {"held_out": (best.score + 10) / 2}


def test_static_export_writes_the_page_data_and_node_files(cli, demo_runs, tmp_path):
    out = tmp_path / "view"
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        count = reader.count()
    result = cli("view", "demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote the view of {count} programs" in result.output
    for name in ("index.html", "view.js", "view.css", "data.js", MARKER):
        assert (out / name).is_file(), name
    prefix = "window.VIEW_DATA = "
    data = json.loads((out / "data.js").read_text()[len(prefix):].rstrip().rstrip(";"))
    assert data["static"] is True and len(data["nodes"]["id"]) == count
    best = data["best"]
    chunk = (out / "nodes" / f"{best // NODE_CHUNK}.js").read_text()
    assert chunk.startswith("window.viewNodes(")
    nodes = json.loads(chunk[len("window.viewNodes("):].rstrip().rstrip(");"))
    with ArchiveReader(demo_runs / "demo" / "archive.sqlite") as reader:
        assert nodes[str(best)]["code"] == reader.program(best).code
    assert sorted(int(p.stem) for p in (out / "nodes").glob("*.js")) == list(
        range(count // NODE_CHUNK + 1))
    # a static export says nothing of where the archive lies on this machine
    for path in out.rglob("*"):
        assert not path.is_file() or str(demo_runs) not in path.read_text(), path
    again = cli("view", "demo", "--out", str(out))  # an earlier view is replaced
    assert again.exit_code == 0, again.output


def test_view_errors_are_one_line(cli, tmp_path):
    one_line_error(cli("view", "nope"), "unknown run 'nope'")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    one_line_error(cli("view", "demo", "--out", str(busy)), "not a view")
    assert (busy / "notes.txt").read_text() == "mine"
    one_line_error(cli("view", "demo", "--out", str(busy / "notes.txt")), "is a file")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(cli("view", "demo", "--port", str(port)), f"port {port} is busy")


def test_view_serves_on_a_free_port_and_prints_it(demo_runs):
    process = subprocess.Popen(
        [sys.executable, "-m", "discovery", "--runs-dir", str(demo_runs), "view", "demo"],
        stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        status, page = get(url)
        assert status == 200 and b"view.js" in page
    finally:
        process.terminate()
        process.wait(timeout=10)
