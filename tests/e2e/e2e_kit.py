"""Real parts for end-to-end tests: feed server, Slack-like endpoint, SMTP, peacewatch processes.

Everything listens on 127.0.0.1 only. ``Peacewatch`` runs the real ``peacewatch`` command in a
subprocess and reads its output and its metrics port, so a test sees what an operator sees.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import itertools
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, condition: Callable[[], Any], timeout_s: float,
               interval_s: float = 0.2, detail: Callable[[], str] = lambda: "") -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n"
                                 f"{detail()}")
        time.sleep(interval_s)


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's handler: no access log, and one call to answer."""

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- feeds -----------------------------------------------------------------------------------


@dataclass
class FeedRequest:
    at: float
    feed: str
    user_agent: str
    status: int = 200


@dataclass
class FeedHub:
    """Many RSS 2.0 feeds on one server (``/feed/<name>.xml``), items added while tests run.

    Every GET is logged with its time, User-Agent and status, so a test can tell which
    collector polled which feed when. A feed listed in ``slow`` answers only after that many
    seconds. With ``etags``, a feed carries an ETag (its content's digest) and answers 304 to a
    request that names it in If-None-Match.
    """

    items: dict[str, list[tuple[str, str, str, datetime]]] = field(default_factory=dict)
    added_at: dict[str, float] = field(default_factory=dict)
    requests: list[FeedRequest] = field(default_factory=list)
    slow: dict[str, float] = field(default_factory=dict)
    request_started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""
    etags: bool = False

    def url(self, feed: str) -> str:
        return f"{self.base_url}/feed/{feed}.xml"

    def add(self, feed: str, title: str, summary: str) -> None:
        with self.lock:
            entries = self.items.setdefault(feed, [])
            guid = f"urn:e2e:{feed}:{len(entries)}"
            entries.append((guid, title, summary, datetime.now(UTC)))
            self.added_at[title] = time.time()

    def render(self, feed: str) -> bytes:
        with self.lock:
            entries = "".join(
                f"<item><guid>{g}</guid><title>{escape(t)}</title>"
                f"<description>{escape(s)}</description>"
                f"<link>http://news.test/{feed}/{g.rsplit(':', 1)[1]}</link>"
                f"<pubDate>{format_datetime(at)}</pubDate></item>"
                for g, t, s, at in reversed(self.items.get(feed, [])))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Wire {feed}</title><link>http://news.test/{feed}</link>"
                f"<description>e2e feed</description>{entries}</channel></rss>").encode()

    def polls(self, since: float = 0.0, until: float = float("inf")) -> list[FeedRequest]:
        with self.lock:
            return [r for r in self.requests if since <= r.at < until]

    @contextmanager
    def running(self) -> Iterator[FeedHub]:
        hub = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                match = re.fullmatch(r"/feed/([\w-]+)\.xml", self.path)
                if match is None:
                    self.send_error(404)
                    return
                feed = match.group(1)
                request = FeedRequest(time.time(), feed, self.headers.get("User-Agent", ""))
                with hub.lock:
                    hub.requests.append(request)
                hub.request_started.set()
                if feed in hub.slow:
                    time.sleep(hub.slow[feed])  # what is added meanwhile is in the answer
                body = hub.render(feed)
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                if hub.etags and self.headers.get("If-None-Match") == etag:
                    request.status = 304
                if request.status == 304:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if hub.etags:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        server = serve(Handler)
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def write_feed_list(path: Path, urls: dict[str, str], interval_s: float = 1) -> Path:
    path.write_text("".join(
        f'[[feed]]\nid = "{fid}"\nname = "{fid}"\nurl = "{url}"\ninterval_s = {interval_s}\n\n'
        for fid, url in urls.items()), encoding="utf-8")
    return path


# -- a steady stream of distinct items -------------------------------------------------------

_SYLLABLES = ["ka", "lo", "mi", "nu", "ra", "to", "vi", "zu", "pa", "so",
              "di", "gu", "ba", "fo", "ji", "wu", "ha", "ro", "ti", "ya"]


def watchlist_of(issues: dict[str, str]) -> str:
    """Our own watchlist: one issue per (id, phrase), no baseline (nothing is known yet)."""
    return 'version = 1\n[context]\nterms = ["ukrain*", "russia*"]\n' + "".join(
        f'\n[[issues]]\nid = "{issue}"\nname = "{phrase.title()}"\n'
        f'[[issues.signals]]\nterms = ["{phrase}"]\n' for issue, phrase in issues.items())


class Headlines:
    """Our own headlines: each names one issue phrase and ten invented words no other item
    has, so that no two items share enough terms to join one story (two shared stems of
    twelve stay under the stories' join threshold of 0.2): every item is its own
    development, and its first invented word (its marker) identifies its notification."""

    def __init__(self, phrases: Iterable[str], words: int = 10) -> None:
        self._words = itertools.count(1000)
        self._phrases = itertools.cycle(list(phrases))
        self._per_headline = words

    def word(self) -> str:
        k = next(self._words)
        return "".join(_SYLLABLES[(k // 20**i) % 20] for i in range(3)).capitalize() + "n"

    def next(self) -> tuple[str, str]:
        words = [self.word() for _ in range(self._per_headline)]
        title = f"Ukraine and Russia {next(self._phrases)}: {' '.join(words)}"
        return words[0], title


@dataclass
class Stream:
    """One new item every ``interval_s`` on a thread, across ``feeds`` in turn, until stopped;
    ``added`` maps each item's marker to the time it was added."""

    hub: FeedHub
    feeds: list[str]
    headlines: Headlines
    interval_s: float = 0.3
    added: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Stream:
        self._thread = threading.Thread(target=self._feed, daemon=True, name="stream")
        self._thread.start()
        return self

    def _feed(self) -> None:
        for feed in itertools.cycle(self.feeds):
            if self._stop.wait(self.interval_s):
                return
            marker, title = self.headlines.next()
            self.hub.add(feed, title, f"{title}.")
            self.added[marker] = time.time()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def since(self, at: float) -> list[str]:
        return [m for m, t in list(self.added.items()) if t >= at]


# -- receivers -------------------------------------------------------------------------------


@dataclass
class SlackLike:
    """An incoming-webhook endpoint that answers like Slack: 200 ``ok`` for a message, 400
    ``no_text`` for an empty one (which ``peacewatch check`` sends). ``fail_status`` makes it
    refuse every message with that status, echoing the request path in the body as some
    servers do."""

    posts: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    fail_status: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def texts(self) -> list[str]:
        with self.lock:
            return [json.dumps(p, ensure_ascii=False) for _, _, p in self.posts]

    def count(self, needle: str) -> int:
        """How many posted messages mention ``needle``."""
        return sum(needle in text for text in self.texts())

    @contextmanager
    def running(self, path: str = "/services/T0/B0/x") -> Iterator[SlackLike]:
        hook = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not payload:
                    self.reply(400, "text/plain", b"no_text")
                    return
                with hook.lock:
                    hook.posts.append((time.time(), self.path, payload))
                if hook.fail_status is not None:
                    self.reply(hook.fail_status, "text/plain",
                               f"no_service for {self.path}".encode())
                else:
                    self.reply(200, "text/plain", b"ok")

        server = serve(Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class Webhook:
    """A generic webhook endpoint (``kind = "webhook"``) that counts, per item marker, the
    notifications whose developments name it."""

    posts: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def headlines(self) -> list[tuple[float, str]]:
        with self.lock:
            return [(at, d["headline"]) for at, p in self.posts for d in p["developments"]]

    def counts(self, markers: Iterable[str]) -> dict[str, int]:
        """How many notifications name each marker (1 each when nothing is lost or doubled)."""
        wanted = set(markers)
        out = dict.fromkeys(wanted, 0)
        for _, headline in self.headlines():
            for word in set(headline.replace(":", " ").split()) & wanted:
                out[word] += 1
        return out

    def first_at(self, markers: Iterable[str]) -> float | None:
        """When the first notification naming any of ``markers`` arrived."""
        wanted = set(markers)
        times = [at for at, headline in self.headlines()
                 if set(headline.replace(":", " ").split()) & wanted]
        return min(times, default=None)

    @contextmanager
    def running(self) -> Iterator[Webhook]:
        hook = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    hook.posts.append((time.time(), payload))
                self.reply(200, "application/json", b"{}")

        server = serve(Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    port: int = 0
    controller: Controller | None = None

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 OK"

    def start(self) -> Mailbox:
        self.port = free_port()  # aiosmtpd needs a concrete port to check that it is up
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


# -- peacewatch processes --------------------------------------------------------------------


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Peacewatch:
    """One ``peacewatch -c CONFIG COMMAND`` subprocess, its output and its metrics port."""

    def __init__(self, config: Path, *command: str, name: str = "") -> None:
        self.name = name or command[0]
        self.args = [sys.executable, "-m", "peacewatch.cli", "-c", str(config), *command]
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[str] | None = None
        self._port: int | None = None

    def start(self) -> Peacewatch:
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line)

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def tail(self, n: int = 40) -> str:
        with self._lock:
            return f"--- {self.name} output (last {n} lines) ---\n" + "".join(self.lines[-n:])

    def wait_for(self, pattern: str, timeout_s: float, after: int = 0) -> re.Match[str]:
        """The first output line at index ``after`` or later matching ``pattern``."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            with self._lock:
                lines = self.lines[after:]
            for line in lines:
                if m := regex.search(line):
                    return m
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before "
                                     f"logging {pattern!r}\n{self.tail()}")
            return None

        match: re.Match[str] = wait_until(f"{self.name} to log {pattern!r}", found, timeout_s,
                                          detail=self.tail)
        return match

    def mark(self) -> int:
        """A position in the output, for ``wait_for(after=...)``."""
        with self._lock:
            return len(self.lines)

    @property
    def port(self) -> int:
        if self._port is None:
            m = self.wait_for(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", 60)
            self._port = int(m.group(1))
        return self._port

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def samples(self) -> Samples:
        status, text = self.get("/metrics")
        assert status == 200, text
        out: Samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels``."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples().items() if n == name and want <= ls)

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def terminate(self, timeout_s: float) -> tuple[int, float]:
        """SIGTERM, then wait; the exit code and seconds taken (killed after the timeout)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} still running {timeout_s:.0f}s after SIGTERM\n"
                                 f"{self.tail()}") from None
        return rc, time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def run_check(config: Path) -> subprocess.CompletedProcess[str]:
    """``peacewatch -c CONFIG check``, to completion."""
    return subprocess.run([sys.executable, "-m", "peacewatch.cli", "-c", str(config), "check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def toml_str(value: object) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(value))


def loopback_collectors_toml(feed_lists: Sequence[Path]) -> str:
    """The collectors' tables of a pipeline under test: no documents, only the given feed
    lists (loopback addresses only), each feed polled every one or two seconds."""
    lists = ", ".join(toml_str(p) for p in feed_lists)
    return f"""[collectors]
documents = []
baseline_documents = []
feed_lists = [{lists}]
allow_networks = ["127.0.0.1/32"]
[collectors.schedule]
min_interval_s = 1
max_interval_s = 2
jitter = 0
"""


@dataclass(frozen=True)
class KafkaWorker:
    """What differs between the workers (the "hosts") of one pipeline on one Kafka."""

    name: str
    bootstrap: str
    prefix: str
    partitions: int
    grace_period_s: float


def write_kafka_worker_config(tmp_path: Path, worker: KafkaWorker, *, feeds: Path, hook: str,
                              join_threshold: float, turn_quiet_hours: float = 1.0) -> Path:
    """A worker's config: its own data_dir, the shared topics, every development sent at once
    to one Slack-like endpoint. The caller says why its stories join at ``join_threshold``
    (and why a new turn may follow a development sooner than ``turn_quiet_hours``)."""
    config = tmp_path / f"{worker.name}.toml"
    config.write_text(f"""
data_dir = {toml_str(tmp_path / f"data-{worker.name}")}
seeds_dir = {toml_str(tmp_path / 'seeds')}
[bus]
topic_prefix = "{worker.prefix}"
partitions = {worker.partitions}
[bus.kafka]
bootstrap_servers = ["{worker.bootstrap}"]
session_timeout_s = 6
[metrics]
port = 0
[desk]
port = 0
[daemon]
grace_period_s = {worker.grace_period_s}
{loopback_collectors_toml([feeds])}
[collectors.http]
user_agent = "peacewatch-e2e/{worker.name}"
[processors.stories]
join_threshold = {join_threshold}
turn_quiet_hours = {turn_quiet_hours}
[alerts.receivers.slack]
kind = "slack"
webhook_url = "{hook}"
rate_per_s = 50
burst = 50
[alerts.default_route]
receivers = ["slack"]
group_by = ["issue", "story"]
group_wait_s = 0
group_interval_s = 0
""", encoding="utf-8")
    return config


def owned_partitions(worker: Peacewatch, topic_suffix: str) -> set[int]:
    """The partitions of a topic a worker reports consumer lag for: the ones it owns."""
    return {int(dict(labels)["partition"]) for (name, labels) in worker.samples()
            if name == "peacewatch_consumer_lag_messages"
            and dict(labels)["topic"].endswith(topic_suffix)}


def write_webhook_pipeline_config(tmp_path: Path, *, bus: str, issues: dict[str, str],
                                  feeds: dict[str, str], hook_url: str,
                                  grace_period_s: float) -> Path:
    """A whole pipeline on ``bus`` (its [bus] tables) fed by loopback feeds of a ``Stream``,
    every development sent at once to one webhook."""
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / "watchlist.toml").write_text(watchlist_of(issues), encoding="utf-8")
    feed_list = write_feed_list(tmp_path / "feeds.toml", feeds)
    config = tmp_path / "peacewatch.toml"
    config.write_text(f"""
data_dir = {toml_str(tmp_path / 'data')}
seeds_dir = {toml_str(seeds)}
{bus}
[metrics]
port = 0
[desk]
port = 0
[daemon]
grace_period_s = {grace_period_s}
{loopback_collectors_toml([feed_list])}
[processors.stories]
# A stream's items share two of about twelve stems (a resemblance of 0.17): each must be a
# story of its own.
join_threshold = 0.35
[alerts.receivers.hook]
kind = "webhook"
url = {toml_str(hook_url)}
rate_per_s = 50
burst = 50
[alerts.default_route]
receivers = ["hook"]
group_by = ["issue", "story"]
group_wait_s = 0
group_interval_s = 0
""", encoding="utf-8")
    return config
