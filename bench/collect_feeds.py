"""Realistic synthetic feeds for ``bench/collect``, built from real 2022 news items.

Feed ``i`` is an RSS 2.0 document of ``ITEMS_PER_FEED`` items drawn from
``../shared/data/news-2022/items.csv`` (BBC, CNN and Guardian items about Russia and Ukraine):
real titles, descriptions, links (tracking parameters and all) and dates, wrapped the way those
outlets' feeds wrap them. Deterministic: the same N gives the same bytes.
"""

from __future__ import annotations

import csv
import email.utils
import gzip
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

ITEMS_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "news-2022" / "items.csv"
ITEMS_PER_FEED = 20
HOSTS = 50  # feeds are spread over 127.0.0.2 .. 127.0.0.51, like feeds over many servers


def load_rows(path: Path = ITEMS_CSV) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def host_of(index: int) -> str:
    return f"127.0.0.{2 + index % HOSTS}"


def feed_path(index: int) -> str:
    return f"/feeds/{index}.xml"


def _rfc822(value: str) -> str:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    return email.utils.format_datetime(when, usegmt=True)


def feed_xml(index: int, rows: list[dict[str, str]]) -> bytes:
    n = len(rows)
    picked = [rows[(index * 37 + k * 131) % n] for k in range(ITEMS_PER_FEED)]
    outlet = picked[0]["source_feed"]
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>Feed {index} - world news</title>"
        f"<link>https://news{index % 97}.example/world</link>"
        f"<description>World news, feed {index}</description><language>en-gb</language>"
        f'<atom:link href="{escape(outlet)}" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{_rfc822(picked[0]['date_published'])}</lastBuildDate>"
        "<ttl>15</ttl>"
    ]
    for k, row in enumerate(picked):
        guid = f"{row['link']}#f{index}-{k}"
        parts.append(
            "<item>"
            f"<title>{escape(row['title'])}</title>"
            f"<link>{escape(row['link'])}</link>"
            f"<description>{escape('<p>' + row['description'] + '</p>')}</description>"
            f'<guid isPermaLink="false">{escape(guid)}</guid>'
            f"<pubDate>{_rfc822(row['date_published'])}</pubDate>"
            "<category>Russia-Ukraine war</category><dc:creator>Staff</dc:creator>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def build_bodies(count: int) -> list[tuple[bytes, bytes]]:
    """(plain, gzip) bodies of feeds 0 .. count-1."""
    rows = load_rows()
    out = []
    for i in range(count):
        body = feed_xml(i, rows)
        out.append((body, gzip.compress(body, 6)))
    return out
