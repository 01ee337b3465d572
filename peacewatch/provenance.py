"""Provenance of a development: which outlets report it, and whether an official source does.

A feed's class (``seeds/feeds.toml``: ``class = "wire"``) travels on its items and on the
sources of every development. From those sources an analyst is told two things, on the desk's
page and API and in Slack and email:

- **independent outlets**: distinct outlets, several feeds of one outlet counted once ("BBC News -
  Europe" and "BBC News - World" are one BBC), state media counted apart: a state outlet repeats
  its government, it does not confirm it;
- **official confirmation**: whether a government or institution (class ``official``) is among
  the sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import get_args

from peacewatch.models import SourceClass, SourceRef

SOURCE_CLASSES: tuple[SourceClass, ...] = get_args(SourceClass)
# What each class is called on the page and in messages.
CLASS_LABELS: dict[str, str] = {
    "official": "official", "wire": "wire", "newspaper": "newspaper",
    "broadcaster": "broadcaster", "think_tank": "think tank", "state_media": "state media",
}
# Feed tags that already said what a feed was, before feeds declared a class.
_CLASS_OF_TAG: dict[str, SourceClass] = {
    "official": "official", "think-tank": "think_tank", "state-media": "state_media",
    "wire": "wire", "newspaper": "newspaper", "broadcaster": "broadcaster",
}


def class_from_tags(tags: Iterable[str]) -> SourceClass | None:
    """The class a feed's tags imply (``official``, ``think-tank``, ``state-media`` ...)."""
    for tag in tags:
        found = _CLASS_OF_TAG.get(tag.strip().lower())
        if found is not None:
            return found
    return None


def outlet_of(source: str) -> str:
    """The outlet of a feed's name: "BBC News - Europe" -> "BBC News"."""
    return source.split(" - ", 1)[0].strip().casefold()


@dataclass(frozen=True, slots=True)
class Provenance:
    independent_outlets: int
    state_media_outlets: int
    official_sources: tuple[str, ...]

    @property
    def officially_confirmed(self) -> bool:
        return bool(self.official_sources)

    def describe(self) -> str:
        """One line, the same in every channel."""
        n = self.independent_outlets
        parts = [f"{n} independent outlet{'s' if n != 1 else ''}"]
        if self.state_media_outlets:
            parts.append(f"{self.state_media_outlets} state media")
        if self.official_sources:
            parts.append("confirmed by an official source (" + ", ".join(
                self.official_sources[:3]) + ")")
        else:
            parts.append("no official confirmation")
        return "; ".join(parts)


def provenance(sources: Sequence[SourceRef]) -> Provenance:
    independent: set[str] = set()
    state: set[str] = set()
    official: list[str] = []
    for ref in sources:
        outlet = outlet_of(ref.source)
        if ref.source_class == "state_media":
            state.add(outlet)
        else:
            independent.add(outlet)
        if ref.source_class == "official" and ref.source not in official:
            official.append(ref.source)
    return Provenance(len(independent), len(state), tuple(official))


__all__ = ["CLASS_LABELS", "SOURCE_CLASSES", "Provenance", "class_from_tags", "outlet_of",
           "provenance"]
