"""Helpers of the collectors' tests: a real HTTP server on 127.0.0.1, feed builders, readers.

Imported by the tests as ``collectors_testkit`` (conftest.py puts this folder on sys.path).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from collectors.health import FeedHealth
from collectors.stage import CollectorStage
from collectors.state import CollectorState, collector_ledger
from peacewatch.bus.events import EventBus
from peacewatch.metrics import Metrics
from peacewatch.models import RAW_ITEMS, RawItem
from peacewatch.settings import Settings
from peacewatch.stage import StageContext


def make_context(settings: Settings, events: EventBus) -> StageContext:
    return StageContext(settings=settings, events=events, metrics=Metrics())


def run_once(stage: CollectorStage, step_timeout_s: float = 0.05) -> int:
    """Burst mode, as ``peacewatch collect --once`` runs it: start, step until idle, stop."""
    stage.start()
    try:
        total = 0
        while (done := stage.step(step_timeout_s)) > 0:
            total += done
        return total
    finally:
        stage.stop()


def read_raw(events: EventBus, group: str = "test-reader", idle_polls: int = 2) -> list[RawItem]:
    """Everything on the raw topic not yet read by ``group``, committed."""
    consumer = events.consumer(group, [RAW_ITEMS])
    out: list[RawItem] = []
    idle = 0
    try:
        while idle < idle_polls:
            batch = consumer.poll(0.3, 1000)
            consumer.commit()
            if not batch:
                idle += 1
            out += [e.event for e in batch]
    finally:
        consumer.close()
    return out

@dataclass
class Route:
    """What the test server answers on one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Wait before answering at all.
    delay_s: float = 0.0
    # Send the body a byte at a time with this pause (a slow-drip server).
    drip_s: float | None = None
    # Never finish the body (an endless stream), until the server stops.
    endless: bool = False
    # Answer 304 when the request's If-None-Match equals this ETag.
    etag: str | None = None
    # False: no Content-Length, the body ends when the connection closes.
    send_length: bool = True


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


Responder = Route | Callable[[Seen], Route]


class FeedServer:
    """A threaded HTTP/1.1 server with routes set by the test; records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Responder] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()},
                            time.monotonic())
                with server._lock:
                    server.seen.append(seen)
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    server.answer(self, seen)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server._lock:
                        server.active -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def answer(self, handler: BaseHTTPRequestHandler, seen: Seen) -> None:
        responder = self.routes.get(seen.path, Route(404, b"not found"))
        route = responder(seen) if callable(responder) else responder
        if route.delay_s:
            self.stopping.wait(route.delay_s)
        if route.etag is not None and seen.headers.get("if-none-match") == route.etag:
            handler.send_response(304)
            handler.send_header("ETag", route.etag)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(route.status)
        headers = {"Content-Type": "application/xml", **route.headers}
        if route.etag is not None:
            headers["ETag"] = route.etag
        if not route.endless and route.drip_s is None and route.send_length:
            headers.setdefault("Content-Length", str(len(route.body)))
        else:
            handler.close_connection = True
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if route.endless:
            chunk = route.body or b"<rss><channel>" + b"<item><title>x</title></item>" * 500
            while not self.stopping.is_set():
                handler.wfile.write(chunk)
        elif route.drip_s is not None:
            for byte in route.body:
                if self.stopping.wait(route.drip_s):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        else:
            handler.wfile.write(route.body)

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 document; each item dict gives its elements (title, guid, link...)."""
    parts = [f"<rss version=\"2.0\"><channel><title>{escape(title)}</title>"
             "<link>http://example.org/</link><description>d</description>"]
    for item in items:
        parts.append("<item>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.items())
                     + "</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def write_feed_list(path: Path, feeds: dict[str, str], **extra: str) -> Path:
    """A feed list file: id -> url, names equal to ids."""
    lines = [f'[[feed]]\nid = "{fid}"\nname = "{fid}"\nurl = "{url}"\n'
             + "".join(f"{k} = {v}\n" for k, v in extra.items())
             for fid, url in feeds.items()]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_due(settings: Settings, events: EventBus) -> None:
    """As if every feed's next poll time had come (time passing, without waiting for it):
    written to the state and its changelog, which the next start restores from."""
    state = CollectorState(settings.path(settings.collectors.state_path),
                           settings.bus.partitions)
    publisher = events.publisher()
    try:
        state.save_health([replace(h, next_poll_at=0.0)
                           for h in state.health().values()])
        collector_ledger(state, events, Metrics(), settings.collectors.group).publish(
            publisher, range(settings.bus.partitions))
    finally:
        publisher.close()
        state.close()


def health_of(settings: Settings) -> dict[str, FeedHealth]:
    state = CollectorState(settings.path(settings.collectors.state_path),
                           settings.bus.partitions)
    try:
        return state.health()
    finally:
        state.close()


def split_and_poll(settings: Settings, events: EventBus, feed_server: FeedServer,
                   count: int) -> None:
    """Two collectors in one group: wait for the group to split the partitions, then poll;
    every feed must be fetched exactly once, each by the collector owning its partition."""
    one = CollectorStage(make_context(settings, events))
    two = CollectorStage(make_context(settings, events))
    one.start()
    two.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            one.sync_feeds()
            two.sync_feeds()
            if one.owned_feeds and two.owned_feeds and not one.owned_feeds & two.owned_feeds \
                    and len(one.owned_feeds | two.owned_feeds) == count:
                break
            time.sleep(0.05)
        owned_one, owned_two = one.owned_feeds, two.owned_feeds
        assert owned_one and owned_two and not owned_one & owned_two
        assert len(owned_one | owned_two) == count
        while len(feed_server.seen) < count and time.monotonic() < deadline:
            one.step(0.05)
            two.step(0.05)
        assert one.owned_feeds == owned_one and two.owned_feeds == owned_two
    finally:
        one.stop()
        two.stop()
    paths = sorted(s.path for s in feed_server.seen)
    assert paths == sorted(f"/f{i}" for i in range(count))  # each exactly once
