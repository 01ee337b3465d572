"""The fast RSS path against feedparser: same entries whenever it accepts a document.

Checked on feedparser's whole corpus, on real saved feeds, and on generated feeds that mix the
things that trip parsers up (entities, CDATA, markup in titles, Windows-1252 code points,
double-encoded UTF-8, relative links, odd dates, missing elements, unknown elements).
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from collectors.entries import parse_with_feedparser
from collectors.fastparse import fast_parse
from collectors.parsing import parse_feed

_HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.M)
URL = "http://127.0.0.1:8080/feeds/a.xml"


def agree(body: bytes, headers: dict[str, str]) -> bool | None:
    """None if the fast path declined; else whether it agrees with feedparser."""
    fast = fast_parse(body, headers, URL)
    if fast is None:
        return None
    reference = parse_with_feedparser(body, headers, URL)
    assert fast.entries == reference.entries, body[:300]
    assert fast.language == reference.language
    return True


def test_agrees_on_every_corpus_document_it_accepts(shared_dir: Path):
    root = shared_dir / "corpora" / "feedparser-tests"
    accepted = 0
    for path in sorted(root.rglob("*.xml")):
        body = path.read_bytes()
        headers = {"content-type": "application/xml"}
        for name, value in _HEADER.findall(body[:4096]):
            headers[name.decode().lower()] = value.decode("latin-1")
        accepted += bool(agree(body, headers))
    assert accepted >= 5


def test_agrees_on_real_saved_feeds(shared_dir: Path):
    for path in sorted((shared_dir / "data" / "feeds").glob("*.xml")):
        assert agree(path.read_bytes(), {"content-type": "application/rss+xml"}) is True, path


TEXT_VARIANTS = [
    lambda t: t,
    lambda t: t + " & more",
    lambda t: t + " <b>bold</b>",
    lambda t: t + " &#8217;quoted&#x2019;",
    lambda t: t + " \x92cp1252\x93",
    lambda t: "café".encode().decode("latin-1") + " " + t,  # double-encoded UTF-8
    lambda t: t + " <script>alert(1)</script>",
    lambda t: t + " <iframe src='x'>frame</iframe>",
    lambda t: t + " <table><tr><td>cell</td></tr></table>",
    lambda t: "  \n " + t + "\n\t ",
    lambda t: "",
    lambda t: "AT&T &lt;3 " + t,
    lambda t: t + " <a href='/rel'>link</a> <img src='i.png'>",
]
DATES = ["Tue, 01 Apr 2025 10:00:00 GMT", "2025-04-01T10:00:00Z", "2025-04-01", "yesterday",
         "Tue, 01 Apr 2025 10:00:00 +0200", "", "Mon, 31 Mar 2025 25:61:00 GMT"]
LINKS = ["https://news.test/a?x=1&y=2", "/relative/path", "https://news.test/b#frag", "",
         "https://news.test/c?utm_source=rss&amp;id=3", "  https://news.test/d  "]


def generated_feed(rng: random.Random, rows: list[dict[str, str]]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>' if rng.random() < 0.8 else "",
             '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
             'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
             'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>']
    if rng.random() < 0.5:
        parts.append(f"<language>{rng.choice(['en', 'en-gb', 'uk', ' ru '])}</language>")
    for _ in range(rng.randint(0, 6)):
        row = rng.choice(rows)
        item = ["<item>"]
        fields = {
            "title": rng.choice(TEXT_VARIANTS)(row["title"]),
            "link": rng.choice(LINKS),
            "description": rng.choice(TEXT_VARIANTS)(row["description"]),
            "pubDate": rng.choice(DATES),
        }
        for name, value in fields.items():
            if rng.random() < 0.85:
                if name == "description" and rng.random() < 0.3:
                    item.append(f"<description><![CDATA[{value}]]></description>")
                else:
                    item.append(f"<{name}>{escape(value)}</{name}>")
        if rng.random() < 0.6:
            permalink = rng.choice(['', ' isPermaLink="false"', ' isPermaLink="true"'])
            item.append(f"<guid{permalink}>{escape(rng.choice(LINKS) or 'id-1')}</guid>")
        if rng.random() < 0.2:
            item.append(f"<content:encoded>{escape(rng.choice(TEXT_VARIANTS)('body'))}"
                        "</content:encoded>")
        if rng.random() < 0.2:
            item.append(f"<dc:date>{rng.choice(DATES)}</dc:date>")
        if rng.random() < 0.2:
            item.append("<category>War</category><dc:creator>A</dc:creator>")
        if rng.random() < 0.1:
            item.append('<media:content url="x"><media:credit>c</media:credit></media:content>')
        if rng.random() < 0.1:
            item.append("<source url='http://s'>Other</source>")  # unknown: falls back
        item.append("</item>")
        parts.append("".join(item))
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


@pytest.mark.parametrize("seed", range(4))
def test_agrees_on_generated_feeds(shared_dir: Path, seed: int):
    with open(shared_dir / "data" / "news-2022" / "items.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(seed)
    results = []
    for _ in range(150):
        headers = {"content-type": rng.choice([
            "application/rss+xml", "application/xml; charset=utf-8", "text/xml",
            "application/rss+xml; charset=ISO-8859-1"])}
        if rng.random() < 0.2:
            headers["content-language"] = "en-us"
        results.append(agree(generated_feed(rng, rows), headers))
    # Most plain feeds take the fast path; the rest fell back, none disagreed.
    assert results.count(True) >= 10, results.count(True)
    assert None in results


def test_declines_what_it_is_not_sure_of():
    plain = b'<rss version="2.0"><channel><item><title>x</title></item></channel></rss>'
    assert fast_parse(plain, {}, URL) is not None
    declined = [
        plain.replace(b'"2.0"', b'"0.91"'),
        b'<?xml version="1.0" encoding="windows-1251"?>' + plain,
        b'<!DOCTYPE rss [<!ENTITY a "b">]>' + plain,
        plain.replace(b"<title>", b'<title xml:lang="fr">'),
        plain.replace(b"<item>", b'<item xml:base="http://x/">'),
        plain.replace(b"</item>", b"<unknown>u</unknown></item>"),
        plain.replace(b"<title>x", b"<title>x &lt;b&gt;y&lt;/b&gt;"),  # HTML in a title
        plain.replace(b"</channel>", b""),  # not well-formed
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title></entry></feed>',
    ]
    for body in declined:
        assert fast_parse(body, {}, URL) is None, body
    assert fast_parse(plain, {"content-type": "text/xml"}, URL) is None
    assert fast_parse(plain, {"content-type": "application/xml; charset=latin-1"}, URL) is None


def test_parse_feed_falls_back_to_feedparser_and_reads_json_feed():
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>urn:1</id><title>x</title>'
            b"</entry></feed>")
    assert parse_feed(atom, {}, URL).entries[0].guid == "urn:1"
    json_feed = (b'{"version": "https://jsonfeed.org/version/1.1", "items": '
                 b'[{"id": "1", "title": "T", "content_html": "<p>Hi</p>"}]}')
    (entry,) = parse_feed(json_feed, {"content-type": "application/feed+json"}, URL).entries
    assert (entry.guid, entry.title, entry.content) == ("1", "T", "Hi")
