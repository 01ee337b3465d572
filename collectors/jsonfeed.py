"""JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1) to entries.

feedparser 6.0, the reference parser for XML feeds, does not read JSON Feed; this small reader
fills the gap with the same ``Entry`` values. Items must have an ``id`` (the spec requires it);
items without one fall back to their ``url`` like any other entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collectors.entries import Entry, ParsedFeed
from peacewatch.text import collapse, html_to_text, tidy

JSON_TYPES = ("application/feed+json", "application/json", "text/json")


def looks_like_json_feed(body: bytes, content_type: str) -> bool:
    if any(t in content_type.lower() for t in JSON_TYPES):
        return True
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b"jsonfeed.org/version" in body[:4096]


def _time(value: object) -> float | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def _text(value: object) -> str:
    return tidy(value) if isinstance(value, str) else ""


def _entry(item: Mapping[str, Any]) -> Entry:
    raw_id = item.get("id")
    guid = str(raw_id).strip() if isinstance(raw_id, (str, int)) and str(raw_id).strip() else None
    link = item.get("url") if isinstance(item.get("url"), str) else None
    html = item.get("content_html")
    content = html_to_text(html) if isinstance(html, str) and html else _text(
        item.get("content_text"))
    language = item.get("language") if isinstance(item.get("language"), str) else None
    return Entry(
        guid=guid,
        link=link.strip() or None if link else None,
        title=collapse(_text(item.get("title"))),
        summary=_text(item.get("summary")),
        content=content,
        published=_time(item.get("date_published")) or _time(item.get("date_modified")),
        language=language or None,
    )


def parse_json_feed(body: bytes) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return ParsedFeed((), None, f"{type(exc).__name__}: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return ParsedFeed((), None, "JSON without an items list: not a JSON Feed")
    version = data.get("version")
    entries: list[Entry] = []
    errors: list[str] = []
    for index, item in enumerate(data["items"]):
        if not isinstance(item, dict):
            errors.append(f"entry {index}: not an object")
            continue
        entries.append(_entry(item))
    language = data.get("language") if isinstance(data.get("language"), str) else None
    problem = None if isinstance(version, str) and "jsonfeed.org" in version else (
        "no JSON Feed version")
    return ParsedFeed(tuple(entries), language, problem, "json1", tuple(errors))
