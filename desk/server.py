"""The desk's HTTP server (standard library, one thread per request) and the stage that runs it
inside ``peacewatch run`` and ``peacewatch serve``.

The body size is checked from Content-Length before a byte of it is read: an oversized body is
answered 413 and the connection closed.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from desk.app import DeskApp
from desk.context import DeskContext
from desk.http import HttpError, Request, Response, error_body, json_response
from desk.store.open import open_record
from desk.store.record import RecordStore
from peacewatch.errors import PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext

log = logging.getLogger("peacewatch.desk")
_DRAIN_LIMIT = 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: DeskServer
    protocol_version = "HTTP/1.1"
    server_version = "peacewatch-desk"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        early = self._body_problem(headers)
        if early is not None:
            self._drain(headers)
            self._send(early, close=True)
            return
        length = int(headers.get("content-length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=False),
                          headers, body)
        self._send(self.server.app.handle(request))

    def _drain(self, headers: dict[str, str]) -> None:
        """Read (and drop) a refused body the client is sending, up to a bound, so that it
        reads the answer instead of a reset connection; a larger one is cut off."""
        raw = headers.get("content-length", "")
        if raw.isdigit() and int(raw) <= _DRAIN_LIMIT:
            self.rfile.read(int(raw))

    def _body_problem(self, headers: dict[str, str]) -> Response | None:
        limit = self.server.app.ctx.settings.desk.max_body_bytes
        raw = headers.get("content-length")
        err = None
        if "transfer-encoding" in headers:
            err = HttpError(411, "length_required", "send a Content-Length, not chunks")
        elif raw is None and self.command in ("POST", "PUT"):
            err = HttpError(411, "length_required", "a body needs a Content-Length")
        elif raw is not None and (not raw.isdigit()):
            err = HttpError(400, "bad_request", "Content-Length is not a number")
        elif raw is not None and int(raw) > limit:
            err = HttpError(413, "body_too_large", f"the body is larger than {limit} bytes")
        if err is None:
            return None
        self.server.app.ctx.metrics.desk_requests.labels(
            route="refused", code=str(err.status)).inc()
        return json_response(error_body(err), err.status)

    def _send(self, response: Response, *, close: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if response.content_type.startswith("text/html"):
            # Nothing from elsewhere: no CDN, no inline script.
            self.send_header("Content-Security-Policy",
                             "default-src 'self'; script-src 'self'; frame-ancestors 'none'")
        for name, value in response.headers.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class DeskServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: DeskApp, host: str, port: int) -> None:
        self.app = app
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def start_server(settings: Settings, store: RecordStore, metrics: Metrics
                 ) -> tuple[DeskServer, threading.Thread]:
    ctx = DeskContext.create(settings, store, metrics)
    try:
        server = DeskServer(DeskApp(ctx), settings.desk.host, settings.desk.port)
    except OSError as exc:
        raise PeacewatchError(f"desk: cannot listen on {settings.desk.host}:"
                              f"{settings.desk.port}: {exc.strerror}") from exc
    thread = threading.Thread(target=server.serve_forever, name="desk-http", daemon=True)
    thread.start()
    return server, thread


class WebStage(Stage):
    """Serves the page and the API while the daemon runs (not in burst mode)."""

    name = "web"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.server: DeskServer | None = None
        self.store: RecordStore | None = None
        self._idle = threading.Event()

    def start(self) -> None:
        settings = self.ctx.settings
        self.store = open_record(settings)
        self.server, _ = start_server(settings, self.store, self.ctx.metrics)
        log.info("desk: the board on http://%s:%d/ (API: /api/openapi.json)",
                 settings.desk.host, self.server.port)

    def step(self, timeout_s: float) -> int:
        self._idle.wait(timeout_s)  # the server answers on its own threads
        return 0

    def stop(self) -> None:
        self._idle.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.store is not None:
            self.store.close()
            self.store = None
