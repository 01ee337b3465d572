"""Provenance: independent outlets (feeds of one outlet once, state media apart) and official
confirmation."""

from __future__ import annotations

from peacewatch.models import SourceRef
from peacewatch.provenance import class_from_tags, outlet_of, provenance


def ref(source: str, cls: str | None) -> SourceRef:
    return SourceRef.model_validate({"source": source, "source_class": cls})


def test_outlets_are_counted_once_and_state_media_apart() -> None:
    p = provenance([ref("BBC News - Europe", "broadcaster"), ref("BBC News - World", "broadcaster"),
                    ref("TASS - English", "state_media"), ref("RT - News", "state_media"),
                    ref("The Guardian - World", "newspaper")])
    assert (p.independent_outlets, p.state_media_outlets) == (2, 2)
    assert not p.officially_confirmed
    assert p.describe() == "2 independent outlets; 2 state media; no official confirmation"


def test_an_official_source_confirms() -> None:
    p = provenance([ref("Kremlin - President's news", "official"), ref("Reuters", None)])
    assert p.officially_confirmed and p.independent_outlets == 2
    assert "confirmed by an official source (Kremlin - President's news)" in p.describe()


def test_tags_imply_a_class_and_outlets_drop_the_section() -> None:
    assert class_from_tags(["ukraine", "state-media"]) == "state_media"
    assert class_from_tags(["think-tank"]) == "think_tank"
    assert class_from_tags(["international"]) is None
    assert outlet_of("The New York Times - World") == "the new york times"
