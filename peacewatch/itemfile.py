"""Items from a user's own file: one JSON object a line, or one CSV row, read the same way by
every command that takes them (``classify``, ``eval --gold / --items``, ``eval replay
--stream-file``, ``train --data``).

People export news under the names of the format it came from, so each field is also looked
for under those names (RSS, Atom, JSON Feed, CSV exports). The first name present wins:

    field      also read from
    id         guid, item_id; else the url (an item needs one of them)
    title      headline
    summary    description, abstract
    content    content_text, text, body; content_html as HTML
    url        link
    published  published_at, date_published, pubDate, date
    source     feed, source_feed, outlet
    language   lang

An item that gives none of the text fields, or a field that is not text, is refused with a
message naming its line and the field; a caller reports it and goes on with the other lines.
"""

from __future__ import annotations

import csv
import email.utils
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from peacewatch.errors import InputError
from peacewatch.jsonl import read_jsonl
from peacewatch.text import html_to_text

_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "guid", "item_id"),
    "title": ("title", "headline"),
    "summary": ("summary", "description", "abstract"),
    "content": ("content", "content_text", "text", "body"),
    "url": ("url", "link"),
    "published": ("published", "published_at", "date_published", "pubDate", "date"),
    "source": ("source", "feed", "source_feed", "outlet"),
    "language": ("language", "lang"),
}
TEXT_FIELDS = ("title", "summary", "content")


@dataclass(frozen=True, slots=True)
class ItemFields:
    """One item of a user's file, its fields found under whichever name it used."""

    id: str
    title: str
    summary: str
    content: str
    url: str | None
    published: str | None
    source: str | None
    language: str | None


def item_fields(raw: Mapping[str, Any]) -> ItemFields:
    """The item's fields; ``InputError`` names what is missing or not text."""
    found = {field: _first(raw, names) for field, names in _NAMES.items() if field != "id"}
    if not found["content"] and isinstance(raw.get("content_html"), str):
        found["content"] = html_to_text(raw["content_html"])
    if not any((found[f] or "").strip() for f in TEXT_FIELDS):
        raise InputError("no text: 'title', 'summary' (or 'description') and 'content' "
                         "are all missing or empty")
    return ItemFields(id=item_id(raw), title=found["title"] or "", summary=found["summary"] or "",
                      content=found["content"] or "", url=found["url"] or None,
                      published=found["published"] or None, source=found["source"] or None,
                      language=found["language"] or None)


def item_time(text: str) -> datetime:
    """A publication time as files write it: ISO 8601 (``2022-02-01 00:13:47+00:00``,
    ``...Z``) or RFC 2822 as RSS does (``Tue, 01 Apr 2025 10:00:00 GMT``); it needs a zone."""
    try:
        at = datetime.fromisoformat(text.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        try:
            at = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError) as exc:
            raise InputError(f"time {text!r} is neither ISO 8601 nor RFC 2822") from exc
    if at.tzinfo is None:
        raise InputError(f"time {text!r} has no time zone")
    return at


def item_id(raw: Mapping[str, Any]) -> str:
    """The item's id: ``id`` (or ``guid``, ``item_id``), else its url."""
    found = _first(raw, _NAMES["id"], numbers=True)
    if found is None or found == "":
        found = _first(raw, _NAMES["url"])
    if found is None or found == "":
        raise InputError("missing or empty 'id' (and no 'guid', 'url' or 'link' to stand "
                         "for one)")
    return found


def has_text(raw: Mapping[str, Any]) -> bool:
    """Whether the record carries any of the text fields, under any of their names."""
    names = (*(n for f in TEXT_FIELDS for n in _NAMES[f]), "content_html")
    return any(isinstance(raw.get(n), str) and raw[n].strip() for n in names)


def _first(raw: Mapping[str, Any], names: tuple[str, ...], *,
           numbers: bool = False) -> str | None:
    for name in names:
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, str) or (numbers and type(value) is int):
            return str(value)
        raise InputError(f"'{name}' must be a string, not {type(value).__name__}")
    return None


def read_records(lines: Iterable[str], origin: str, *,
                 csv_rows: bool = False) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) per item of a JSON Lines (or, with ``csv_rows``, a CSV) text, or
    (line number, message) for a line that is not a record."""
    if not csv_rows:
        yield from read_jsonl(lines, origin)
        return
    reader = csv.DictReader(lines)
    try:
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}
    except csv.Error as exc:
        yield reader.line_num, f"{origin}:{reader.line_num}: not CSV: {exc}"


def is_csv(name: str) -> bool:
    return name.lower().endswith(".csv")


def fields_of(records: Iterable[Mapping[str, Any]], origin: object) -> list[ItemFields]:
    """Every record's fields; the first that cannot be read is an error naming it."""
    out = []
    for n, record in enumerate(records, start=1):
        try:
            out.append(item_fields(record))
        except InputError as exc:
            raise InputError(f"{origin}: record {n}: {exc}") from exc
    return out


def load_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON Lines or CSV file; a missing file or a bad line is an error."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            out = []
            for _, record in read_records(handle, str(path), csv_rows=is_csv(path.name)):
                if isinstance(record, str):
                    raise InputError(record)
                out.append(record)
            return out
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
