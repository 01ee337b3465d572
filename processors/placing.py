"""What the stories step decides about one classified item: a pure function.

``decide`` takes the item's report and fingerprint and what was loaded for it (the item placed
before, its exact copy's original or a near copy found in the index, that copy's story, the
live stories) and returns intents; ``StoriesStage`` applies them in the batch's transaction (a
development already emitted is not emitted again: the applier's check, like an INSERT OR
IGNORE). Nothing here reads or writes storage, like reader's Decider: the decision is the same
wherever the state was restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from peacewatch.models import Development
from processors.dedup import Fingerprint, NearDupDecider
from processors.state import PlacedItem
from processors.stories import Report, Story, StoryClusterer


@dataclass(frozen=True, slots=True)
class Item:
    """A classified item as it concerns one issue, with its fingerprint (computed, not loaded)."""

    issue: str
    item_id: str
    revision: int
    report: Report
    fingerprint: Fingerprint
    keys: tuple[str, ...]
    at: float
    primary: bool  # the item's first issue: a near copy is counted once, under it


@dataclass(frozen=True, slots=True)
class Loaded:
    previous: PlacedItem | None  # this item, placed before
    original: PlacedItem | None  # the original of an exact copy the classify step found
    near: PlacedItem | None  # else the earliest placed item it nearly copies (``near_copy``)
    copy_story: Story | None  # the story of the one of these that counts
    stories: tuple[Story, ...]  # the issue's stories seen within the window


@dataclass(frozen=True, slots=True)
class SaveStory:
    story: Story


@dataclass(frozen=True, slots=True)
class SavePlaced:
    item: PlacedItem
    keys: tuple[str, ...]  # its near-duplicate index keys


@dataclass(frozen=True, slots=True)
class KeepFuller:
    """The first copy stands but keeps the fuller text (applied when ``text`` is longer)."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Emit:
    development: Development


@dataclass(frozen=True, slots=True)
class NearCopy:
    """Count a near copy (once per item)."""


Intent = SaveStory | SavePlaced | KeepFuller | Emit | NearCopy


def near_copy(item: Item, candidates: Sequence[PlacedItem],
              near: NearDupDecider | None) -> PlacedItem | None:
    """The earliest placed item this one nearly copies, if any."""
    if near is None:
        return None
    copies = [other for other in candidates if other.item_id != item.item_id and near.compare(
        item.fingerprint, Fingerprint(other.title_words,
                                      Fingerprint.hashes_from_bytes(other.body_sig),
                                      other.body_words),
        abs(item.at - other.at) / 3600)]
    return min(copies, key=lambda p: p.at) if copies else None


def copy_of(loaded: Loaded) -> tuple[PlacedItem | None, bool]:
    """The placed item this one goes with (an update, an exact copy, a near copy), and
    whether it is a near copy."""
    copy = loaded.previous or loaded.original
    return (copy, False) if copy is not None else (loaded.near, loaded.near is not None)


def decide(item: Item, loaded: Loaded, clusterer: StoryClusterer,
           now: datetime) -> list[Intent]:
    """Where the item goes, what is kept of it, and the developments it makes."""
    previous = loaded.previous
    if previous is not None and previous.revision >= item.revision:
        return []  # the same item again (a re-sent message): already placed
    intents: list[Intent] = []
    # An update of an item stays in its story; an exact copy (found by the classify step)
    # joins its original's; another item may be a near copy of one placed.
    copy, near = copy_of(loaded)
    if near and item.primary:
        intents.append(NearCopy())
    if copy is not None and previous is None:
        intents.append(KeepFuller(copy.item_id, item.report.text[:4000]))
    placement = clusterer.place(item.report, loaded.stories, copy_of=loaded.copy_story, now=now)
    fp = item.fingerprint
    intents += [SaveStory(placement.story), SavePlaced(PlacedItem(
        item.item_id, item.revision, placement.story.story_id, fp.title_words, fp.to_bytes(),
        fp.body_words, item.report.text[:4000], item.at), item.keys)]
    intents += [Emit(d) for d in placement.developments]
    return intents
