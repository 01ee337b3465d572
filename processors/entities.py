"""What a report is about, in any language: the actors, places and things it names.

``seeds/entities.toml`` lists them, each with the forms outlets use in English, Polish, German,
Ukrainian and Russian (in the watchlist's term language). Two reports of one event in two
languages share few words but the same entities: the story clusterer compares them by both.
A user adds an entity to the file, as an issue to the watchlist, with no code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from peacewatch.errors import ConfigError
from peacewatch.settings import parse_toml_model
from processors.patterns import TermIndex
from processors.text import fold


class EntitySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    kind: Literal["actor", "place", "thing"]
    terms: tuple[str, ...] = Field(min_length=1)


class EntityList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    entities: tuple[EntitySpec, ...] = ()


class Entities:
    """Finds the entities an item names; built once, asked many times."""

    def __init__(self, specs: EntityList) -> None:
        ids = [e.id for e in specs.entities]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"entities: ids must be unique ({len(ids) - len(set(ids))} repeat)")
        self._index = TermIndex((e.id, e.terms) for e in specs.entities)

    def __len__(self) -> int:
        return len(self._index)

    def found_in(self, text: str) -> frozenset[str]:
        folded = fold(text)
        return frozenset(self._index.found(folded, folded.lower()))


def load_entities(path: Path) -> Entities:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"entities {path}: cannot be read: {exc.strerror}") from exc
    specs = parse_toml_model(text, EntityList, f"entities {path}")
    try:
        return Entities(specs)
    except ConfigError as exc:
        raise ConfigError(f"entities {path}: {exc}") from exc


NO_ENTITIES = Entities(EntityList())
