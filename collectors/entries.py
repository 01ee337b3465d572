"""Feed bodies to entries, entries to raw items. Pure functions over bytes and models.

feedparser is the reference parser: it reads RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed,
and survives ill-formed documents and odd encodings. Its entries become ``Entry`` values (plain
text fields, one time) and those become ``RawItem`` events; a faster parser may produce the same
``Entry`` values for documents it is sure about (see ``collectors.fastparse``).
"""

from __future__ import annotations

import calendar
import io
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from collectors.identity import feed_item_id
from peacewatch.identity import canonical_url, content_hash, strip_tracking
from peacewatch.models import FeedSpec, RawItem, stable_hash
from peacewatch.text import clip, collapse, html_to_text, tidy

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
UNTITLED_MAX = 120


@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry as the collectors keep it: plain text, one publication time."""

    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str
    published: float | None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    entries: tuple[Entry, ...]
    language: str | None
    # feedparser's "bozo" reason when the document was not well-formed (entries may still be
    # there: feedparser is lenient), or why nothing could be read.
    problem: str | None = None
    version: str = ""
    entry_errors: tuple[str, ...] = ()


def as_text(value: object, kind: object) -> str:
    """A feedparser text construct as plain text."""
    if not isinstance(value, str) or not value:
        return ""
    if isinstance(kind, str) and kind.lower() in HTML_TYPES:
        return html_to_text(value)
    return tidy(value)


def _detail_type(entry: Mapping[str, Any], key: str) -> object:
    detail = entry.get(f"{key}_detail")
    return detail.get("type") if isinstance(detail, Mapping) else None


def _timestamp(entry: Mapping[str, Any]) -> float | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get, not FeedParserDict's: that maps a missing "updated" to "published" with a
        # DeprecationWarning.
        value = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return float(calendar.timegm(value))
            except (OverflowError, ValueError):
                return None
    return None


def entry_from_feedparser(entry: Mapping[str, Any]) -> Entry:
    contents = []
    for part in entry.get("content") or ():
        if isinstance(part, Mapping):
            text = as_text(part.get("value"), part.get("type"))
            if text and text not in contents:
                contents.append(text)
    guid = entry.get("id")
    link = entry.get("link")
    language = None
    detail = entry.get("title_detail")
    if isinstance(detail, Mapping) and isinstance(detail.get("language"), str):
        language = detail["language"] or None
    return Entry(
        guid=guid.strip() or None if isinstance(guid, str) else None,
        link=link.strip() or None if isinstance(link, str) else None,
        title=collapse(as_text(entry.get("title"), _detail_type(entry, "title"))),
        summary=as_text(entry.get("summary"), _detail_type(entry, "summary")),
        content="\n\n".join(contents),
        published=_timestamp(entry),
        language=language,
    )


def resolve_link(entry: Entry, base: str) -> Entry:
    """The entry with a relative link made absolute against the feed's address."""
    if entry.link and "://" not in entry.link[:12]:
        return replace(entry, link=urljoin(base, entry.link))
    return entry


def parse_with_feedparser(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    """Parse a body as feedparser would, with the response headers that decide its charset."""
    lowered = {k.lower(): v for k, v in headers.items()}
    # Only the headers that decide decoding and language. Content-Location is kept from
    # feedparser on purpose: with a base URI it resolves guids too ("g1" would become
    # "http://host/g1"), and an id must not change when a feed moves. Links are resolved
    # by ``resolve_links`` instead.
    response_headers = {k: v for k, v in lowered.items()
                        if k in ("content-type", "content-language")}
    # A BytesIO, never bytes: feedparser would try bytes as a file name first.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    base = urljoin(url, lowered.get("content-location", "").strip())
    entries: list[Entry] = []
    errors: list[str] = []
    for index, raw in enumerate(parsed.get("entries") or ()):
        try:
            entries.append(resolve_link(entry_from_feedparser(raw), base))
        except Exception as exc:
            errors.append(f"entry {index}: {type(exc).__name__}: {exc}")
    feed = parsed.get("feed") or {}
    language = feed.get("language") if isinstance(feed.get("language"), str) else None
    problem = None
    if parsed.get("bozo"):
        problem = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    return ParsedFeed(tuple(entries), language or None, problem, str(parsed.get("version", "")),
                      tuple(errors))


def _published_at(timestamp: float | None) -> datetime | None:
    if timestamp is None:
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def entry_item(
    spec: FeedSpec, feed_url: str, entry: Entry, fetched_at: datetime, language: str | None,
    *, occurrence: int = 0,
) -> RawItem:
    """The raw item of one entry of one feed.

    ``occurrence`` counts earlier entries of the feed with no guid, no link and the same
    content: two such entries are two items (feedparser lists both), and the count keeps
    their ids apart and still stable.
    """
    title = entry.title or clip(entry.summary or entry.content, UNTITLED_MAX)
    chash = content_hash(title, entry.summary, entry.content)
    identity_hash = stable_hash(chash, str(entry.published or ""), *(
        [str(occurrence)] if occurrence else []))
    url = strip_tracking(entry.link) if entry.link else None
    return RawItem(
        item_id=feed_item_id(spec.feed_id, guid=entry.guid, url=entry.link,
                             fallback_hash=identity_hash),
        source=spec.name,
        source_kind="feed",
        feed_url=feed_url,
        guid=entry.guid,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        summary=entry.summary,
        content=entry.content,
        language=entry.language or spec.language or language,
        published_at=_published_at(entry.published),
        fetched_at=fetched_at,
        content_hash=chash,
        source_class=spec.source_class,
    )


def feed_items(
    spec: FeedSpec, feed_url: str, parsed: ParsedFeed, fetched_at: datetime
) -> tuple[list[RawItem], list[str]]:
    """Items of a parsed feed and the errors of entries that could not become items."""
    items: list[RawItem] = []
    errors = list(parsed.entry_errors)
    keyless: dict[tuple[object, ...], int] = {}
    for index, entry in enumerate(parsed.entries):
        occurrence = 0
        if not entry.guid and not entry.link:
            key = (entry.title, entry.summary, entry.content, entry.published)
            occurrence = keyless[key] = keyless.get(key, -1) + 1
        try:
            items.append(entry_item(spec, feed_url, entry, fetched_at, parsed.language,
                                    occurrence=occurrence))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            errors.append(f"entry {index}: {exc}")
    return items, errors


def entry_times(entries: Sequence[Entry]) -> tuple[float, ...]:
    return tuple(e.published for e in entries if e.published is not None)
