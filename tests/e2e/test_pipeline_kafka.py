"""The whole pipeline as a user runs it, on a real Kafka broker.

A real local HTTP server publishes an RSS feed that grows while `peacewatch run` polls it; a real
SMTP server (aiosmtpd) and a Slack-like webhook endpoint receive the notifications. Every new
relevant item must become a notification on both receivers, the irrelevant one none, and the
latency from the feed's change to each notification is measured and printed.
"""

from __future__ import annotations

import email
import email.policy
import json
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from peacewatch.models import utcnow

ROOT = Path(__file__).resolve().parents[2]

# Our own headlines, written for this test; each is plainly about one tracked issue.
RELEVANT = [
    ("Russia and Ukraine agree an Easter truce along the whole front line", "ceasefire"),
    ("US envoy arrives in Moscow for peace talks with Putin on ending the war in Ukraine",
     "negotiations"),
    ("EU adopts new sanctions on Russia's shadow fleet of oil tankers", "sanctions"),
    ("Ukraine and Russia swap hundreds of prisoners of war in UAE-mediated exchange",
     "prisoners"),
]
IRRELEVANT = "Local bakery wins national bread award for third year running"


@dataclass
class FeedServer:
    """An RSS 2.0 feed whose items are added while the test runs."""

    items: list[tuple[str, str, str]] = field(default_factory=list)
    added_at: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, title: str, summary: str) -> None:
        with self.lock:
            guid = f"urn:test:{len(self.items)}"
            self.items.append((guid, title, summary))
            self.added_at[title] = time.time()

    def render(self) -> bytes:
        with self.lock:
            entries = "".join(
                f"<item><guid>{g}</guid><title>{t}</title><description>{s}</description>"
                f"<link>http://news.test/{g[9:]}</link>"
                f"<pubDate>{format_datetime(utcnow())}</pubDate></item>"
                for g, t, s in reversed(self.items))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Test wire</title><link>http://news.test/</link>"
                f"<description>t</description>{entries}</channel></rss>").encode()


@dataclass
class Received:
    slack: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    mail: list[tuple[float, EmailMessage]] = field(default_factory=list)


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def feed() -> Iterator[tuple[FeedServer, str]]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state.render()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = serve(Handler)
    yield state, f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()


@pytest.fixture
def received() -> Iterator[tuple[Received, str, int]]:
    got = Received()

    class SlackLike(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.slack.append((time.time(), payload))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    class Mailbox:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            got.mail.append((time.time(), message))  # type: ignore[arg-type]
            return "250 OK"

    http = serve(SlackLike)
    with socket.socket() as s:  # aiosmtpd needs a concrete port to check it is up
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    yield got, f"http://127.0.0.1:{http.server_address[1]}/services/T0/B0/x", port
    smtp.stop()
    http.shutdown()


def write_config(tmp_path: Path, bootstrap: str, feed_url: str, hook: str, smtp_port: int) -> Path:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feed]]\nname = "Test wire"\nurl = "{feed_url}"\ninterval_s = 1\n')
    config = tmp_path / "peacewatch.toml"
    config.write_text(f"""
data_dir = "{tmp_path / 'data'}"
[bus]
topic_prefix = "e2e-{tmp_path.name[-12:]}"
partitions = 2
[bus.kafka]
bootstrap_servers = ["{bootstrap}"]
session_timeout_s = 6
[metrics]
port = 0
[collectors]
documents = []
baseline_documents = []
feed_lists = ["{feeds}"]
allow_networks = ["127.0.0.1/32"]
[collectors.schedule]
min_interval_s = 1
max_interval_s = 2
jitter = 0
[alerts.receivers.slack]
kind = "slack"
webhook_url = "{hook}"
rate_per_s = 20
burst = 20
[alerts.receivers.mail]
kind = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "peacewatch@example.test"
to = ["desk@example.test"]
[alerts.default_route]
receivers = ["slack", "mail"]
group_by = ["issue", "story"]
group_wait_s = 0
group_interval_s = 0
""")
    return config


def slack_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.kafka
def test_new_feed_items_become_notifications_on_slack_and_email(
    kafka_bootstrap: str, feed: tuple[FeedServer, str], received: tuple[Received, str, int],
    tmp_path: Path,
) -> None:
    state, feed_url = feed
    got, hook, smtp_port = received
    config = write_config(tmp_path, kafka_bootstrap, feed_url, hook, smtp_port)
    proc = subprocess.Popen([sys.executable, "-m", "peacewatch.cli", "-c", str(config), "run"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stdout or []), daemon=True).start()
    try:
        time.sleep(4)  # let the stages join their groups; the feed is empty so far
        for title, _issue in RELEVANT[:2]:
            state.add(title, f"{title}. Officials confirmed the step on Tuesday.")
        state.add(IRRELEVANT, "The bakery has won for three years.")
        time.sleep(3)
        for title, _issue in RELEVANT[2:]:
            state.add(title, f"{title}. Officials confirmed the step on Tuesday.")

        deadline = time.monotonic() + 90
        latencies: dict[str, float] = {}
        while time.monotonic() < deadline and len(latencies) < len(RELEVANT):
            for at, payload in list(got.slack):
                for title, _ in RELEVANT:
                    if title in slack_text(payload) and title not in latencies:
                        latencies[title] = at - state.added_at[title]
            time.sleep(0.2)
        time.sleep(2)  # anything more that would arrive (duplicates, the irrelevant item)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()

    output = "".join(log)
    assert set(latencies) == {t for t, _ in RELEVANT}, output[-3000:]
    everything = " ".join(slack_text(p) for _, p in got.slack)
    assert IRRELEVANT not in everything
    mail_text = " ".join(m.get_body(("plain",)).get_content() for _, m in got.mail)  # type: ignore[union-attr]
    for title, _ in RELEVANT:
        assert title in mail_text, f"no email for {title!r}"
        assert everything.count(title) >= 1
    assert proc.returncode == 0, output[-3000:]
    values = sorted(latencies.values())
    print(f"\ne2e latency feed change -> Slack notification over {len(values)} items: "
          f"min {values[0]:.2f}s, median {statistics.median(values):.2f}s, "
          f"max {values[-1]:.2f}s (poll interval 1-2 s, group_wait 0)")
