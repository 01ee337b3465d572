"""Wire events: frozen, strict, versioned, JSON round-trip, keyed as documented."""

from __future__ import annotations

import base64
import hashlib

import pydantic
import pytest

from peacewatch.models import (
    ALL_TOPICS,
    DEAD_LETTER_EXCERPT_BYTES,
    DEVELOPMENTS,
    RAW_ITEMS,
    DeadLetter,
    Development,
    RawItem,
    Severity,
    utcnow,
)


def item() -> RawItem:
    return RawItem(item_id="a", source="s", title="t", fetched_at=utcnow(), content_hash="h")


def test_events_are_frozen_and_refuse_unknown_fields() -> None:
    raw = item()
    with pytest.raises(pydantic.ValidationError):
        raw.title = "changed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="extra"):
        RawItem.model_validate({**raw.model_dump(), "surprise": 1})


def test_schema_version_is_checked_and_the_previous_one_still_read() -> None:
    data = item().model_dump(mode="json")
    assert data["schema_version"] == 3
    with pytest.raises(pydantic.ValidationError, match="schema_version"):
        RawItem.model_validate({**data, "schema_version": 4})
    # A message from two releases before: no canonical URL nor source class yet.
    old = {k: v for k, v in data.items() if k not in ("canonical_url", "source_class")} | {
        "schema_version": 1}
    assert RawItem.model_validate(old).canonical_url is None
    # A v2 message (today's on the wire) still validates: the source class has a default.
    v2 = {k: v for k, v in data.items() if k != "source_class"} | {"schema_version": 2}
    assert RawItem.model_validate(v2).source_class is None


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        RawItem.model_validate({**item().model_dump(), "fetched_at": "2025-03-02T10:00:00"})


def test_json_round_trip_and_keys() -> None:
    raw = item()
    assert RawItem.model_validate_json(raw.model_dump_json()) == raw
    assert RAW_ITEMS.key(raw) == "a"
    dev = Development(development_id="d", issue_id="ceasefire", story_id="s", kind="new_story",
                      headline="h", severity=Severity.AGREED, first_seen=utcnow(),
                      detected_at=utcnow())
    assert DEVELOPMENTS.key(dev) == "ceasefire"
    assert Development.model_validate_json(dev.model_dump_json()).severity is Severity.AGREED
    assert len({spec.base for spec in ALL_TOPICS}) == len(ALL_TOPICS)


def test_a_whole_item_is_written_as_before_and_a_cut_one_says_so() -> None:
    item = RawItem(item_id="a", source="s", title="t", fetched_at=utcnow(), content_hash="h")
    assert "truncated" not in item.model_dump_json()  # readers of the release before read it
    cut = item.model_copy(update={"truncated": True})
    assert RawItem.model_validate_json(cut.model_dump_json()).truncated
    assert not RawItem.model_validate_json(item.model_dump_json()).truncated


def test_a_dead_letter_keeps_an_excerpt_the_size_and_the_digest() -> None:
    value = "é".encode() * 5000  # 10,000 bytes of text; the excerpt cuts a character in two
    letter = DeadLetter.of(topic="t", partition=0, offset=7, key="k", value=value,
                           error="x" * 5000, group="g")
    assert letter.payload_encoding == "utf-8" and value.decode().startswith(letter.payload)
    assert len(letter.payload.encode()) <= DEAD_LETTER_EXCERPT_BYTES
    assert letter.payload_bytes == 10_000
    assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
    assert len(letter.error) == 2000
    junk = DeadLetter.of(topic="t", partition=0, offset=8, key=None, value=b"\xff" * 9000,
                         error="e", group="g")
    assert junk.payload_encoding == "base64"
    assert base64.b64decode(junk.payload) == b"\xff" * DEAD_LETTER_EXCERPT_BYTES
