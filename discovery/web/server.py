"""`discover view RUN`: the page served from 127.0.0.1 by the standard library's threading HTTP
server, reading the archive while its campaign may still be writing it.

Routes, all under `/KEY/` (a random key per server, in the URL the command prints): `` and the
page's assets; `data.js` (no data: the static export's `data.js` holds the payload, the served
page fetches it); `api/stamp` (cheap: the page polls it; with the campaign's running state,
which changes without a write to the archive); `api/data` (the payload, rebuilt only
when the stamp changed); `api/node/ID` (one program's details); `api/iteration/N` (one
iteration's, program or not, with its model calls); `report/NAME.png` (the plots
`discover report` wrote). Each request opens its own read-only reader and closes it: SQLite
connections stay in their thread, and no read transaction outlives a request, so the
campaign's writer (WAL) is never held up.

Only the page itself reads the archive. Data is JSON, which the browser lets no other origin
read (a script would be: any page may include one with a <script> tag); a request needs the
key, the Host this server is bound to (a DNS name rebound to 127.0.0.1 is refused), and, when
the browser says where it comes from (Sec-Fetch-Site, Origin), this very origin: a page on
another port of 127.0.0.1 is same-site, not same-origin, and is refused too. Every answer says
so to the browser as well (Cross-Origin-Resource-Policy, nosniff, a content security policy
that loads nothing from elsewhere, no framing, no referrer).
"""

import errno
import hmac
import http.server
import re
import secrets
import threading
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive import ArchiveError
from discovery.web.data import (
    REPORT_DIR,
    ViewReader,
    campaign_data,
    dumps,
    iteration_details,
    node_details,
    report_images,
    state_data,
    transcripts,
)

ASSETS = ("index.html", "view.js", "view.css")
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
          ".json": "application/json", ".png": "image/png"}
_HEADERS = {
    "Cache-Control": "no-store",  # the archive changes under the page
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the key stays in this origin
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
}
"""Sent with every answer: what other origins may not do with it."""
_SERVED_DATA_JS = b"// served: the page fetches api/data (same-origin only); see server.py\n"


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
        with self.reader() as reader:
            self.transcripts = transcripts(reader)
        self.key = secrets.token_urlsafe(24)
        """The path prefix every request needs: only whoever saw the printed URL knows it."""
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
        return f"http://127.0.0.1:{self.server_address[1]}/{self.key}/"

    def origins(self) -> tuple[str, ...]:
        """The Host headers this server answers (it is bound to 127.0.0.1)."""
        port = self.server_address[1]
        return f"127.0.0.1:{port}", f"localhost:{port}"

    def refusal(self, host: str, key: str, site: str | None, origin: str | None) -> str | None:
        """Why a request is not the page's own (None when it is): a Host other than this
        server's (DNS rebinding), a Sec-Fetch-Site or Origin of another origin, a path that
        does not start with the key."""
        if host not in self.origins():
            return "the view answers on its own 127.0.0.1 address only"
        if site not in (None, "same-origin", "none") or \
                origin not in (None, *(f"http://{o}" for o in self.origins())):
            return "the view's data is for its own page only"
        if not hmac.compare_digest(key.encode(), self.key.encode()):
            return "open the URL that `discover view` printed: it carries the view's key"
        return None

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
        key, slash, path = urlsplit(self.path).path.removeprefix("/").partition("/")
        why = self.server.refusal(self.headers.get("Host") or "", key,
                                  self.headers.get("Sec-Fetch-Site"), self.headers.get("Origin"))
        if why is not None:
            self._send(403, why.encode(), ".txt")
            return
        if not slash:  # the page's relative links need the key as a folder
            self.send_response(308)
            self.send_header("Location", f"/{key}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            self._route("/" + path)
        except ArchiveError as exc:
            self._send(404, dumps({"error": str(exc)}).encode(), ".json")

    def _route(self, path: str) -> None:
        if path in ("/", "/index.html"):
            self._send(200, asset("index.html"), ".html")
        elif path.lstrip("/") in ASSETS:
            self._send(200, asset(path.lstrip("/")), Path(path).suffix)
        elif path == "/data.js":
            self._send(200, _SERVED_DATA_JS, ".js")
        elif path == "/api/data":
            self._send(200, self.server.payload(), ".json")
        elif path == "/api/stamp":
            with self.server.reader() as reader:
                self._json({"stamp": reader.stamp(), "state": state_data(self.server.run_dir)})
        elif match := re.fullmatch(r"/api/node/(\d+)", path):
            program_id = int(match[1])
            with self.server.reader() as reader:
                reader.program(program_id)  # an unknown id: a 404 that says which ids exist
                self._json(node_details(reader, [program_id],
                                        self.server.transcripts)[program_id])
        elif match := re.fullmatch(r"/api/iteration/(\d+)", path):
            n = int(match[1])
            with self.server.reader() as reader:
                reader.iteration(n)  # an unknown number: a 404 that says which there are
                self._json(iteration_details(reader, [n], self.server.transcripts)[n])
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
        for name, value in _HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per poll would bury the URL the command printed."""
