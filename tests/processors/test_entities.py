"""The gazetteer: the same entity named in five languages, and a clear error for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from proc_testkit import REPO

from peacewatch.errors import ConfigError
from processors.entities import Entities, EntityList, EntitySpec, load_entities


def test_the_shipped_gazetteer_names_one_event_alike_in_every_language() -> None:
    entities = load_entities(REPO / "seeds" / "entities.toml")
    assert len(entities) > 200
    reports = {
        "en": "US seizes Russian-flagged tanker Marinera in the Atlantic",
        "pl": "Amerykanie zajęli rosyjski tankowiec Marinera na Atlantyku",
        "de": "USA beschlagnahmen russischen Tanker Marinera im Atlantik",
        "uk": "США захопили російський танкер Marinera в Атлантиці",
    }
    found = {lang: entities.found_in(text) for lang, text in reports.items()}
    shared = set.intersection(*(set(f) for f in found.values()))
    assert {"tanker", "atlantic"} <= shared, found


def test_a_bad_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "entities.toml"
    path.write_text('version = 1\n[[entities]]\nid = "x"\nkind = "person"\nterms = ["x"]\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"entities.*kind"):
        load_entities(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_entities(tmp_path / "absent.toml")
    twice = EntitySpec(id="x", kind="thing", terms=("x",))
    with pytest.raises(ConfigError, match="unique"):
        Entities(EntityList(entities=(twice, twice)))
