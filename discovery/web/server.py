"""`discover view RUN`: the page served from 127.0.0.1 by the standard library's threading HTTP
server, reading the archive while its campaign may still be writing it.

Routes: `/` and the page's assets; `/data.js` (the payload as a script, as the static export
writes it, so one page serves both); `/api/stamp` (cheap: the page polls it); `/api/data` (the
payload, rebuilt only when the stamp changed); `/api/node/ID` (one program's details);
`/report/NAME.png` (the plots `discover report` wrote). Each request opens its own read-only
reader and closes it: SQLite connections stay in their thread, and no read transaction
outlives a request, so the campaign's writer (WAL) is never held up.
"""

import errno
import http.server
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive import ArchiveError
from discovery.web.data import (
    REPORT_DIR,
    Transcripts,
    ViewReader,
    campaign_data,
    dumps,
    node_details,
    report_images,
)

ASSETS = ("index.html", "view.js", "view.css")
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
          ".json": "application/json", ".png": "image/png"}


class ViewError(ArchiveError):
    """A view that cannot start or be written (port busy, --out not a view folder): an
    ArchiveError, so that the CLI's `friendly` prints it as one line."""


def asset(name: str) -> bytes:
    """One of the page's files, shipped as package data."""
    return resources.files("discovery.web").joinpath("assets", name).read_bytes()


class ViewServer(http.server.ThreadingHTTPServer):
    """Serves one campaign's view; `payload` caches the last built payload by stamp, so that
    any number of polling tabs cost one rebuild per change of the archive."""

    daemon_threads = True

    def __init__(self, archive: Path, port: int = 0):
        self.archive = archive
        self.run_dir = archive.parent
        self.transcripts = Transcripts(self.run_dir / "transcript.jsonl")
        self._cache: tuple[str, bytes] | None = None
        self._lock = threading.Lock()
        try:
            super().__init__(("127.0.0.1", port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ViewError(f"port {port} is busy on 127.0.0.1: pass another --port, or "
                                "--port 0 for a free one") from exc
            raise ViewError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}") from exc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def reader(self) -> ViewReader:
        return ViewReader(self.archive)

    def payload(self) -> bytes:
        with self.reader() as reader:
            stamp = reader.stamp()
            with self._lock:
                if self._cache is not None and self._cache[0] == stamp:
                    return self._cache[1]
            body = dumps(campaign_data(reader, report_images(self.run_dir))).encode()
        with self._lock:
            self._cache = (stamp, body)
        return body


class _Handler(http.server.BaseHTTPRequestHandler):
    server: ViewServer

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        # a page on another site must not read the archive through a DNS name bound to 127.0.0.1
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            self._send(403, b"the view answers on 127.0.0.1 only", ".txt")
            return
        try:
            self._route(path)
        except ArchiveError as exc:
            self._send(404, dumps({"error": str(exc)}).encode(), ".json")

    def _route(self, path: str) -> None:
        if path in ("/", "/index.html"):
            self._send(200, asset("index.html"), ".html")
        elif path.lstrip("/") in ASSETS:
            self._send(200, asset(path.lstrip("/")), Path(path).suffix)
        elif path == "/data.js":
            self._send(200, b"window.VIEW_DATA = " + self.server.payload() + b";\n", ".js")
        elif path == "/api/data":
            self._send(200, self.server.payload(), ".json")
        elif path == "/api/stamp":
            with self.server.reader() as reader:
                self._json({"stamp": reader.stamp()})
        elif match := re.fullmatch(r"/api/node/(\d+)", path):
            program_id = int(match[1])
            with self.server.reader() as reader:
                reader.program(program_id)  # an unknown id: a 404 that says which ids exist
                self._json(node_details(reader, [program_id],
                                        self.server.transcripts)[program_id])
        elif match := re.fullmatch(rf"/{REPORT_DIR}/([\w.-]+\.png)", path):
            image = self.server.run_dir / REPORT_DIR / match[1]
            if image.is_file():
                self._send(200, image.read_bytes(), ".png")
            else:
                self._send(404, b"no such plot", ".txt")
        else:
            self._send(404, b"not found", ".txt")

    def _json(self, value: Any) -> None:
        self._send(200, dumps(value).encode(), ".json")

    def _send(self, code: int, body: bytes, suffix: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", f"{_TYPES.get(suffix, 'text/plain')}; charset=utf-8"
                         if suffix != ".png" else "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # the archive changes under the page
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per poll would bury the URL the command printed."""
