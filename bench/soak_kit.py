"""The soak's loopback parts: a feed server fed a steady stream of distinct items, and two
receivers (a Slack-like endpoint and a generic webhook) that count every notification per item.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

# Consonant-vowel syllables: three make a six-letter word head, which is exactly what the
# stories compare (stems are cut to six letters), so every word of every item has a stem no
# other item has, for 70**3 words (34,300 items of ten words).
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_MARKER = re.compile(r"\b[A-Z][a-z]{5}n\b")


class Headlines:
    """Headlines in our own words: an issue phrase and ten invented words; the first word
    (the marker) names the item in its notifications. No two items share a stem, so each is
    its own story and its own development."""

    def __init__(self, phrases: Iterable[str], words: int = 10) -> None:
        self._next_word = itertools.count()
        self._phrases = itertools.cycle(list(phrases))
        self._words = words

    def _word(self) -> str:
        k = next(self._next_word)
        n = len(_SYLLABLES)
        return "".join(_SYLLABLES[(k // n**i) % n] for i in range(3)).capitalize() + "n"

    def next(self) -> tuple[str, str]:
        words = [self._word() for _ in range(self._words)]
        return words[0], f"Ukraine and Russia {next(self._phrases)}: {' '.join(words)}"


def markers_in(text: str) -> set[str]:
    """Every invented word in a notification's text (the caller keeps those that are markers)."""
    return set(_MARKER.findall(text))


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="soak-http").start()
    return server


@dataclass
class FeedServer:
    """RSS 2.0 feeds at ``/feed/<name>.xml``. Like a real feed, each shows only its latest
    ``window`` items: a collector that stays away longer than that misses items at the source
    (with the default stream, 200 items per feed is three minutes)."""

    feeds: list[str]
    window: int = 200
    items: dict[str, list[tuple[str, str, datetime]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""
    _server: ThreadingHTTPServer | None = None

    def url(self, feed: str) -> str:
        return f"{self.base_url}/feed/{feed}.xml"

    def add(self, feed: str, guid: str, title: str) -> None:
        with self.lock:
            self.items.setdefault(feed, []).append((guid, title, datetime.now(UTC)))

    def render(self, feed: str) -> bytes:
        with self.lock:
            latest = self.items.get(feed, [])[-self.window:]
        entries = "".join(
            f"<item><guid>{g}</guid><title>{escape(t)}</title><description>{escape(t)}."
            f"</description><link>http://news.test/{feed}/{g.rsplit(':', 1)[1]}</link>"
            f"<pubDate>{format_datetime(at)}</pubDate></item>" for g, t, at in reversed(latest))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Wire {feed}</title><link>http://news.test/{feed}</link>"
                f"<description>soak feed</description>{entries}</channel></rss>").encode()

    def start(self) -> FeedServer:
        hub = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                match = re.fullmatch(r"/feed/([\w-]+)\.xml", self.path)
                if match is None or match.group(1) not in hub.feeds:
                    self.send_error(404)
                    return
                self.reply(200, "application/rss+xml; charset=utf-8", hub.render(match.group(1)))

        self._server = _serve(Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Stream:
    """One new item every ``interval_s``, across the feeds in turn, on a thread until stopped.
    ``added`` maps each item's marker to the wall-clock time it appeared in its feed."""

    feeds: FeedServer
    headlines: Headlines
    interval_s: float
    added: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Stream:
        self._thread = threading.Thread(target=self._run, daemon=True, name="soak-stream")
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        for n in itertools.count():
            # Paced on the start, not on the last item, so a slow moment does not thin it out.
            if self._stop.wait(max(0.0, started + (n + 1) * self.interval_s - time.monotonic())):
                return
            marker, title = self.headlines.next()
            feed = self.feeds.feeds[n % len(self.feeds.feeds)]
            self.feeds.add(feed, f"urn:soak:{feed}:{n}", title)
            self.added[marker] = time.time()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


@dataclass(frozen=True)
class Post:
    at: float
    markers: frozenset[str]
    key: str | None  # the Idempotency-Key header, if the sender gave one


@dataclass
class Receiver:
    """A notification endpoint. ``slack``: answers like a Slack incoming webhook (200 ``ok``).
    ``webhook``: a generic webhook that keeps the ``Idempotency-Key`` of each POST, as a
    receiver that honours the key would, to drop a resend of a message it already took.

    A message counts as taken when its body has arrived, before the answer: that is when Slack
    shows it. ``delay_s`` holds the answer back, as a remote service's latency does."""

    name: str
    kind: str
    delay_s: float = 0.0
    posts: list[Post] = field(default_factory=list)
    unanswered: int = 0  # messages taken whose sender was gone before the answer
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def take(self, body: bytes, key: str | None) -> None:
        payload = json.loads(body)
        markers = frozenset(markers_in(json.dumps(payload, ensure_ascii=False)))
        with self.lock:
            self.posts.append(Post(time.time(), markers, key))

    def start(self) -> Receiver:
        receiver = self

        class Handler(_Quiet):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not json.loads(body):  # `peacewatch check` posts an empty message
                    self.reply(400, "text/plain", b"no_text")
                    return
                receiver.take(body, self.headers.get("Idempotency-Key"))
                time.sleep(receiver.delay_s)
                slack = receiver.kind == "slack"
                try:
                    self.reply(200, "text/plain" if slack else "application/json",
                               b"ok" if slack else b"{}")
                except (BrokenPipeError, ConnectionResetError):
                    # The sender died with the message taken but not answered: the window
                    # a resend comes from.
                    with receiver.lock:
                        receiver.unanswered += 1

        self._server = _serve(Handler)
        path = "/services/T0/B0/soak" if self.kind == "slack" else "/hook"
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def snapshot(self) -> list[Post]:
        with self.lock:
            return list(self.posts)

    def counts(self, markers: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
        """Per item marker: the POSTs that named it, and the distinct messages a user sees
        (POSTs with one Idempotency-Key count once; without a key, every POST counts)."""
        wanted = set(markers)
        posts: dict[str, int] = dict.fromkeys(wanted, 0)
        seen: dict[str, set[str]] = {m: set() for m in wanted}
        for i, post in enumerate(self.snapshot()):
            for marker in post.markers & wanted:
                posts[marker] += 1
                seen[marker].add(post.key if post.key is not None else f"#{i}")
        return posts, {m: len(keys) for m, keys in seen.items()}

    def first_at(self, markers: Iterable[str]) -> dict[str, float]:
        """When each marker was first notified here."""
        wanted, first = set(markers), dict[str, float]()
        for post in self.snapshot():
            for marker in post.markers & wanted:
                first.setdefault(marker, post.at)
        return first


@dataclass(frozen=True)
class Tally:
    """One receiver's account of the stream, as its user sees it."""

    posts: int  # POSTs received
    notified: int  # items named at least once
    lost: int  # items never named
    duplicates: int  # extra messages naming an item, beyond its first
    resends: int  # POSTs repeating a message's Idempotency-Key (dropped by the key)


def tally(receiver: Receiver, markers: Iterable[str]) -> Tally:
    posts, shown = receiver.counts(markers)
    return Tally(posts=len(receiver.snapshot()),
                 notified=sum(1 for n in shown.values() if n),
                 lost=sum(1 for n in shown.values() if n == 0),
                 duplicates=sum(n - 1 for n in shown.values() if n > 1),
                 resends=sum(posts.values()) - sum(shown.values()))
