"""Shared fixtures of the alerts tests: developments, a fake clock, and REAL servers on
127.0.0.1 — a Slack-like webhook endpoint that checks Block Kit limits and answers from a script,
a generic webhook endpoint that can hold a request, and aiosmtpd with TLS and authentication."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from prometheus_client import CollectorRegistry

from alerts.stage import AlertStage
from peacewatch.bus import open_bus
from peacewatch.metrics import Metrics
from peacewatch.models import (
    DELIVERIES,
    DEVELOPMENTS,
    Development,
    Severity,
    SourceRef,
    stable_hash,
)
from peacewatch.settings import Settings
from peacewatch.stage import StageContext

T0 = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """An injected clock that moves only when told."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_dev(n: int = 0, *, issue: str = "black-sea", story: str | None = None,
             severity: Severity = Severity.PROPOSED, kind: str = "new_story",
             headline: str | None = None, sources: tuple[str, ...] = ("Reuters",),
             evidence: tuple[str, ...] = ("The parties set out terms for safe navigation.",),
             baseline: bool = False, at: datetime = T0) -> Development:
    story = story or f"story-{issue}-{n}"
    return Development(
        development_id=stable_hash("dev", issue, story, str(n), kind),
        issue_id=issue, story_id=story, kind=kind,  # type: ignore[arg-type]
        headline=headline or f"Test development {n} on {issue}",
        severity=severity, action="proposed", first_seen=at, detected_at=at,
        sources=tuple(SourceRef(source=s, url=f"https://news.example/{s.lower()}/{n}",
                                title=f"{s} report {n}") for s in sources),
        evidence=evidence, item_ids=(f"item-{n}",), item_fetched_at=at, baseline=baseline,
    )


# --- HTTP servers ------------------------------------------------------------------------------

BLOCK_LIMITS = {"blocks": 50, "section": 3000, "header": 150, "context": 10}


def block_kit_violations(payload: Any) -> list[str]:
    """What Slack would refuse in an incoming-webhook payload (the limits we rely on)."""
    problems = []
    if not isinstance(payload, dict):
        return ["payload is not an object"]
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append("no plain-text fallback 'text'")
    blocks = payload.get("blocks", [])
    if len(blocks) > BLOCK_LIMITS["blocks"]:
        problems.append(f"{len(blocks)} blocks > 50")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            t = block["text"]
            if t.get("type") != "plain_text" or len(t["text"]) > BLOCK_LIMITS["header"]:
                problems.append(f"block {i}: bad header ({len(t['text'])} chars)")
        elif kind == "section":
            t = block["text"]["text"]
            if not t or len(t) > BLOCK_LIMITS["section"]:
                problems.append(f"block {i}: section text of {len(t)} chars")
        elif kind == "context":
            if len(block["elements"]) > BLOCK_LIMITS["context"]:
                problems.append(f"block {i}: context with {len(block['elements'])} elements")
        elif kind != "divider":
            problems.append(f"block {i}: unexpected type {kind}")
    return problems


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """A real HTTP server on 127.0.0.1. ``script`` replies are used in order, then 200 "ok".

    ``slack=True``: payloads are checked against Block Kit limits (a violation gets 400
    invalid_blocks), and only ``valid_path`` exists (others get 404 no_service), like Slack.
    ``hold_on``: the n-th request (1-based) is held until ``release(accept)``; a request not
    accepted is answered 503 and not counted, as a remote that did not commit it.
    """

    def __init__(self, *, slack: bool = False, valid_path: str | None = None) -> None:
        self.slack = slack
        self.valid_path = valid_path
        self.script: list[Reply] = []
        self.accepted: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.violations: list[str] = []
        self.times: list[float] = []
        self.hold_on: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self._accept_held = True
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                server.handle(self, raw)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def release(self, accept: bool) -> None:
        self._accept_held = accept
        self._release.set()

    def handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        with self.lock:
            self.requests.append((h.path, dict(h.headers.items()), payload))
            self.times.append(time.monotonic())
            n = len(self.requests)
        if self.hold_on is not None and n == self.hold_on:
            self.held.set()
            self._release.wait(30)
            if not self._accept_held:
                self._answer(h, Reply(503, "not committed"))
                return
        if self.slack and self.valid_path is not None and h.path != self.valid_path:
            self._answer(h, Reply(404, "no_service"))
            return
        if self.slack and isinstance(payload, dict) and not payload.get("text") \
                and not payload.get("blocks"):
            self._answer(h, Reply(400, "no_text"))  # Slack posts nothing and says so
            return
        problems = block_kit_violations(payload) if self.slack else []
        if problems:
            with self.lock:
                self.violations.extend(problems)
            self._answer(h, Reply(400, "invalid_blocks"))
            return
        with self.lock:
            reply = self.script.pop(0) if self.script else Reply()
            if reply.status == 200:
                self.accepted.append(payload)
        self._answer(h, reply)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        body = reply.body.encode()
        try:
            h.send_response(reply.status)
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except OSError:
            pass

    def close(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


SLACK_PATH = "/services/T0001/B0001/s3cr3tT0kenXYZ123456"


@pytest.fixture
def slack_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer(slack=True, valid_path=SLACK_PATH)
    yield server
    server.close()


@pytest.fixture
def webhook_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


# --- SMTP ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


class MailSink:
    """aiosmtpd handler: keeps every message's raw bytes."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


USER, PASSWORD = "alerts", "pa55-w0rd-very-secret"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                   auth_data: Any) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    sink: MailSink
    mode: str


def _smtp(mode: str, tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    sink = MailSink()
    port = free_port()
    kwargs: dict[str, Any] = {"authenticator": _authenticator, "auth_required": True}
    if mode == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)
    else:
        # aiosmtpd does not see that an implicit-TLS transport is encrypted: AUTH is offered
        # only with auth_require_tls off (the connection is TLS from the first byte anyway).
        kwargs.update(ssl_context=ctx, auth_require_tls=False)
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(port, sink, mode)
    finally:
        controller.stop()


def received(server: SmtpServer, n: int = 1) -> list[Any]:
    deadline = time.monotonic() + 5
    while len(server.sink.messages) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return [email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in server.sink.messages]


@pytest.fixture
def smtp_starttls(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    yield from _smtp("starttls", tls_files)


@pytest.fixture
def smtp_tls(tls_files: tuple[Path, Path]) -> Iterator[SmtpServer]:
    yield from _smtp("tls", tls_files)


# --- the stage in-process, over the embedded bus -----------------------------------------------


class StageRig:
    """An AlertStage on a real embedded bus, stepped by hand over a fake clock."""

    def __init__(self, tmp_path: Path, alerts: dict[str, Any], clock: FakeClock) -> None:

        self.settings = Settings.model_validate({
            "data_dir": tmp_path, "alerts": alerts,
            "bus": {"partitions": 2, "embedded": {"member_timeout_s": 1.0}}})
        self.metrics = Metrics(CollectorRegistry())
        self.events = open_bus(self.settings, self.metrics)
        self.clock = clock
        self.stage = AlertStage(StageContext(self.settings, self.events, self.metrics), clock)
        self.stage.start()
        self.publisher = self.events.publisher()
        self.reader = self.events.consumer("test-reader", [DELIVERIES_SPEC])
        self.records: list[Any] = []

    def publish(self, *devs: Development) -> None:
        for dev in devs:
            self.publisher.publish(DEVELOPMENTS, dev)
        self.publisher.flush()

    def run(self, seconds: float, tick: float = 1.0) -> None:
        """Step the stage while the fake clock moves ``seconds`` forward, ``tick`` at a time."""
        steps = max(1, round(seconds / tick))
        for _ in range(steps):
            self.stage.step(0.0)  # the bus is a local file: what was published is visible
            self.clock.advance(tick)
        self.stage.step(0.0)

    def read_records(self) -> list[Any]:
        for _ in range(5):
            batch = self.reader.poll(0.1, 1000)
            self.reader.commit()
            self.records += [e.event for e in batch]
        return self.records

    def new_stage(self) -> AlertStage:
        stage = AlertStage(StageContext(self.settings, self.events, self.metrics), self.clock)
        stage.start()
        return stage

    def restart(self) -> None:
        self.stage.stop()
        self.stage = self.new_stage()

    def close(self) -> None:
        self.stage.stop()
        self.reader.close()
        self.publisher.close()
        self.events.close()


def _deliveries_spec() -> Any:
    return DELIVERIES


DELIVERIES_SPEC = _deliveries_spec()
