"""Every document of feedparser's own test corpus, served over real HTTP and collected.

The 2,107 documents (well-formed, ill-formed, odd encodings, entities, JSON Feed) are served by a
real server on 127.0.0.1, with the HTTP headers their header comments name, and collected by
the collectors stage in burst mode onto a real embedded bus. For each document the items
published must be the entries feedparser finds (one item per distinct entry: none lost, none
invented), and a document that yields no entries must end as an empty feed or a recorded feed
error - never an exception, never a hang.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urljoin

import feedparser
import pytest
from collectors_testkit import FeedServer, Route, make_context, read_raw, run_once

from collectors.stage import CollectorStage
from peacewatch.identity import canonical_url

pytestmark = pytest.mark.slow
_HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.M)


def corpus_files(shared: Path) -> list[Path]:
    root = shared / "corpora" / "feedparser-tests"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "LICENSE")


def served_headers(path: Path, body: bytes) -> dict[str, str]:
    """What feedparser's own test server sends for a document: its Header: lines."""
    ctype = "application/feed+json" if path.suffix == ".json" else "application/xml"
    headers = {"Content-Type": ctype}
    for name, value in _HEADER.findall(body[:4096]):
        key = name.decode("ascii").title()
        headers["Content-Type" if key == "Content-Type" else key] = value.decode("latin-1")
    return headers


def expected_keys(body: bytes, headers: dict[str, str], url: str) -> tuple[int, set[str]]:
    """(distinct entries, their guids) as feedparser itself finds them in this response."""
    # The headers that decide decoding; Content-Location is not given to feedparser (it would
    # resolve guids against it) - links are resolved after parsing.
    sent = {k.lower(): v for k, v in headers.items()
            if k.lower() in ("content-type", "content-language")}
    base = urljoin(url, headers.get("Content-Location", ""))
    if "json" in sent["content-type"]:
        # feedparser 6.0 has no JSON Feed reader (its corpus has this document for a later
        # version): the entries are the document's items, as its own Expect line says.
        parsed = {"entries": [{"id": str(i["id"])} for i in json.loads(body)["items"]]}
    else:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=sent)
    keys: set[object] = set()
    guids: set[str] = set()
    for index, entry in enumerate(parsed["entries"]):
        guid = entry.get("id")
        if isinstance(guid, str) and guid.strip():
            keys.add(("guid", guid.strip()))
            guids.add(guid.strip())
        elif isinstance(entry.get("link"), str) and entry["link"].strip():
            keys.add(("url", canonical_url(urljoin(base, entry["link"].strip()))))
        else:
            keys.add(("entry", index))
    return len(keys), guids


def test_every_corpus_document_collected_as_feedparser_reads_it(
    shared_dir: Path, tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    files = corpus_files(shared_dir)
    assert len(files) == 2107
    root = shared_dir / "corpora" / "feedparser-tests"
    expected: dict[str, tuple[int, set[str]]] = {}
    lines = []
    for index, path in enumerate(files):
        body = path.read_bytes()
        rel = path.relative_to(root).as_posix()
        route = "/c/" + quote(rel)
        headers = served_headers(path, body)
        feed_server.routes[route] = Route(body=body, headers=headers)
        expected[rel] = expected_keys(body, headers, feed_server.url(route))
        url = feed_server.url(route)
        lines.append(f'[[feed]]\nid = "c{index}"\nname = "{rel}"\nurl = "{url}"\n')
    feed_list = tmp_path / "corpus.toml"
    feed_list.write_text("\n".join(lines), encoding="utf-8")

    settings = make_settings(
        feed_lists=[feed_list],
        http={"per_host_concurrency": 16, "max_concurrency": 32, "total_timeout_s": 30},
        schedule={"batch_size": 1000},
    )
    events = bus_for(settings)
    started = time.monotonic()
    handled = run_once(CollectorStage(make_context(settings, events)))
    elapsed = time.monotonic() - started
    items = read_raw(events)
    assert handled >= len(files)

    # Every document fetched exactly once, in well under the test's time.
    assert Counter(s.path for s in feed_server.seen) == {
        "/c/" + quote(rel): 1 for rel in expected}
    assert elapsed < 120

    by_feed: dict[str, list] = {}
    for item in items:
        by_feed.setdefault(item.source, []).append(item)
    mismatches = []
    for rel, (count, guids) in expected.items():
        got = by_feed.get(rel, [])
        got_guids = {i.guid for i in got if i.guid}
        if len(got) != count or got_guids != guids:
            mismatches.append(f"{rel}: feedparser {count} entries {sorted(guids)[:3]}, "
                              f"published {len(got)} {sorted(got_guids)[:3]}")
    assert not mismatches, f"{len(mismatches)} documents differ:\n" + "\n".join(mismatches[:20])
    assert sum(c for c, _ in expected.values()) == len(items) > 1000

    # Documents with no entries ended as empty feeds or recorded errors: every feed has health.
    db = sqlite3.connect(settings.path(settings.collectors.state_path))
    statuses = Counter(s for (s,) in db.execute("SELECT last_status FROM feed_health"))
    db.close()
    assert sum(statuses.values()) == len(files)
    assert set(statuses) <= {"200", "parse"}, statuses
