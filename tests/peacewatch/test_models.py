"""Wire events: frozen, strict, versioned, JSON round-trip, keyed as documented."""

from __future__ import annotations

import pydantic
import pytest

from peacewatch.models import (
    ALL_TOPICS,
    DEVELOPMENTS,
    RAW_ITEMS,
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
