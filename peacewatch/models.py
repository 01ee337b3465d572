"""Every message that crosses a topic, defined in one place.

Each event is a frozen pydantic model with ``extra="forbid"`` and a ``schema_version``; on the
wire it is UTF-8 JSON. A consumer that meets bytes it cannot validate dead-letters them (see
``peacewatch.bus.typed``) instead of guessing.

Topics and their message keys (the key picks the partition, so it decides what is processed in
order and which process owns which state):

========================  ================  ===============================================
topic (before prefix)     event             key, and why
========================  ================  ===============================================
``feeds``                 ``FeedSpec``      ``feed_id``: a feed is polled by exactly one
                                            collector, the owner of its partition
``items.raw``             ``RawItem``       ``item_id``: an item and its later edits stay
                                            in order on one partition
``items.classified``      ``ClassifiedItem`` ``issue_key`` (first matched issue, or
                                            ``"none"``): stories of one issue are clustered
                                            by one processor
``developments``          ``Development``   ``issue_id``: one issue's timeline stays ordered
``deliveries``            ``DeliveryRecord`` ``receiver``: a receiver's log stays ordered
``deadletter``            ``DeadLetter``    ``origin_topic``
========================  ================  ===============================================
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

SCHEMA_VERSION: Literal[3] = 3
# Versions a consumer still reads. v2 added ``RawItem.canonical_url`` and ``ClassifiedItem.kind``;
# v3 added the source class (``FeedSpec``, ``RawItem``, ``SourceRef``) and
# ``Development.parties``. An older message gets their defaults. Fields added since, all with
# defaults (a message without them is still v3): ``RawItem.truncated``,
# ``DeadLetter.payload_bytes`` and ``payload_sha256``.
SchemaVersion = Literal[1, 2, 3]
# How much of an unusable message a dead letter keeps (the original stays on its topic).
DEAD_LETTER_EXCERPT_BYTES = 4096


def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_hash(*parts: str, length: int = 16) -> str:
    """A short hex digest that is the same on every machine and every run."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


class Event(BaseModel):
    """Base of all wire events: immutable, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    schema_version: SchemaVersion = SCHEMA_VERSION


# --- collectors -> processors -----------------------------------------------------------------


# What kind of outlet a feed is: it tells an analyst how far a report can be trusted, and
# whether a development is confirmed by an official source (see ``peacewatch.provenance``).
SourceClass = Literal[
    "official", "wire", "newspaper", "broadcaster", "think_tank", "state_media"]


class FeedSpec(Event):
    """One feed to poll; the ``feeds`` topic is the shared feed list of the collectors."""

    feed_id: str
    name: str
    url: str
    language: str | None = None
    interval_s: float = Field(default=900.0, gt=0)
    enabled: bool = True
    tags: tuple[str, ...] = ()
    source_class: SourceClass | None = None


SourceKind = Literal["feed", "document", "seed"]


class RawItem(Event):
    """What a collector saw: one feed entry or one document, before any judgement."""

    item_id: str
    source: str
    source_kind: SourceKind = "feed"
    feed_url: str | None = None
    guid: str | None = None
    url: str | None = None
    # ``peacewatch.identity.canonical_url(url)``, computed once by the collector.
    canonical_url: str | None = None
    title: str
    summary: str = ""
    content: str = ""
    language: str | None = None
    published_at: AwareDatetime | None = None
    fetched_at: AwareDatetime
    # ``peacewatch.identity.content_hash(title, summary, content)``: equal for exact copies.
    content_hash: str
    revision: int = Field(default=0, ge=0)
    # True for the seed documents: they establish the known state and never alert by themselves.
    baseline: bool = False
    # The class of the feed the item came from (None: a document, or a feed with no class).
    source_class: SourceClass | None = None
    # True when the collector cut the text to fit the bus (``collectors.max_item_bytes``); the
    # content hash is still the whole text's, so an unchanged item stays unchanged.
    truncated: bool = False

    @property
    def is_update(self) -> bool:
        return self.revision > 0

    @model_serializer(mode="wrap")
    def _whole_items_as_before(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A whole item is written without ``truncated``, so that readers of the release
        before (which refuse unknown fields) still read every item that was not cut."""
        data = handler(self)
        if not self.truncated and isinstance(data, dict):
            data.pop("truncated", None)
        return data


# --- processors ---------------------------------------------------------------------------------


class IssueMatch(Event):
    """One label of a classified item: the issue, how strongly, and the text that said so."""

    issue_id: str
    score: float = Field(ge=0.0, le=1.0)
    evidence: tuple[str, ...] = ()


ItemKind = Literal["report", "background"]


class ClassifiedItem(Event):
    """A raw item after normalisation, deduplication and classification."""

    item: RawItem
    canonical_title: str
    language: str | None = None
    issues: tuple[IssueMatch, ...] = ()
    # ``report`` tells of something that happened; ``background`` (analysis, explainer, feature,
    # press review, live-blog recap) tells nothing new and never starts a development.
    kind: ItemKind = "report"
    # Set when this item is a copy (exact or near) of an earlier one.
    duplicate_of: str | None = None
    classified_at: AwareDatetime

    @property
    def issue_key(self) -> str:
        return self.issues[0].issue_id if self.issues else "none"


class Severity(IntEnum):
    """How much happened: ordered, so that routing can say ``severity >= PROPOSED``."""

    MENTIONED = 1
    DISCUSSED = 2
    PROPOSED = 3
    REJECTED = 4
    AGREED = 5
    SIGNED = 6


class SourceRef(Event):
    """An outlet that carried a story, with the link to its copy."""

    source: str
    url: str | None = None
    title: str | None = None
    source_class: SourceClass | None = None


DevelopmentKind = Literal["new_story", "change"]


class Development(Event):
    """Something new on a tracked issue: a new story, or a real change in one."""

    development_id: str
    issue_id: str
    story_id: str
    kind: DevelopmentKind
    headline: str
    severity: Severity
    action: str = "mentioned"
    first_seen: AwareDatetime
    detected_at: AwareDatetime
    sources: tuple[SourceRef, ...] = ()
    evidence: tuple[str, ...] = ()
    item_ids: tuple[str, ...] = ()
    # When the triggering item was first fetched: the start of end-to-end latency.
    item_fetched_at: AwareDatetime | None = None
    baseline: bool = False
    # The parties whose position the triggering report states (watchlist party ids).
    parties: tuple[str, ...] = ()

    @property
    def source_count(self) -> int:
        return len(self.sources)


# --- alerts ------------------------------------------------------------------------------------

DeliveryStatus = Literal["sent", "failed", "dead", "silenced", "held"]


class DeliveryRecord(Event):
    """What happened when a development was (or was not) sent to one receiver."""

    delivery_id: str
    development_ids: tuple[str, ...]
    receiver: str
    channel: str
    status: DeliveryStatus
    attempts: int = Field(default=1, ge=0)
    error: str | None = None
    at: AwareDatetime
    follow_up: bool = False


# --- every stage -------------------------------------------------------------------------------


class DeadLetter(Event):
    """A message that could not be used, kept with the reason and a reference to it.

    ``payload`` is an excerpt: at most ``DEAD_LETTER_EXCERPT_BYTES`` of the original bytes.
    ``payload_bytes`` and ``payload_sha256`` identify the original, which stays on its topic at
    (origin_topic, origin_partition, origin_offset) until retention removes it. An output that
    never reached its topic (the bus refused it) has partition and offset -1.
    """

    origin_topic: str
    origin_partition: int
    origin_offset: int
    key: str | None = None
    payload: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_bytes: int | None = None
    payload_sha256: str | None = None
    error: str
    consumer_group: str
    failed_at: AwareDatetime

    @classmethod
    def of(cls, *, topic: str, partition: int, offset: int, key: str | None, value: bytes,
           error: str, group: str) -> DeadLetter:
        """The dead letter of ``value``: an excerpt, its size and digest, the reason."""
        payload, encoding = _excerpt(value)
        return cls(
            origin_topic=topic, origin_partition=partition, origin_offset=offset, key=key,
            payload=payload, payload_encoding=encoding, payload_bytes=len(value),
            payload_sha256=hashlib.sha256(value).hexdigest(), error=error[:2000],
            consumer_group=group, failed_at=utcnow(),
        )


def _excerpt(value: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    """The first bytes of ``value``: as text when they are UTF-8, else in base64."""
    cut = value[:DEAD_LETTER_EXCERPT_BYTES]
    try:
        return cut.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":  # a character cut in two by the excerpt
            return cut[:exc.start].decode("utf-8"), "utf-8"
        return base64.b64encode(cut).decode("ascii"), "base64"


# --- state changelogs ---------------------------------------------------------------------------


StateValue = str | int | float | None


class StateChange(Event):
    """One row of a stage's local state as it now is (``row`` None: deleted), on the changelog
    partition of the input partition that owns it; a compacted topic keeps the latest per key."""

    store: str
    key: tuple[StateValue, ...]
    row: dict[str, StateValue] | None

    @property
    def message_key(self) -> str:
        return f"{self.store}:{json.dumps(list(self.key), ensure_ascii=False)}"


# --- topic registry ----------------------------------------------------------------------------

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class TopicSpec(Generic[E]):
    """A topic's base name, its event model and how a message's key is derived."""

    base: str
    model: type[E]
    key: Callable[[E], str]

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.base}" if prefix else self.base


FEEDS: TopicSpec[FeedSpec] = TopicSpec("feeds", FeedSpec, lambda e: e.feed_id)
RAW_ITEMS: TopicSpec[RawItem] = TopicSpec("items.raw", RawItem, lambda e: e.item_id)
CLASSIFIED_ITEMS: TopicSpec[ClassifiedItem] = TopicSpec(
    "items.classified", ClassifiedItem, lambda e: e.issue_key
)
DEVELOPMENTS: TopicSpec[Development] = TopicSpec(
    "developments", Development, lambda e: e.issue_id
)
DELIVERIES: TopicSpec[DeliveryRecord] = TopicSpec(
    "deliveries", DeliveryRecord, lambda e: e.receiver
)
DEAD_LETTERS: TopicSpec[DeadLetter] = TopicSpec(
    "deadletter", DeadLetter, lambda e: e.origin_topic
)


# The stateful stages, each with a changelog of its local state.
STATEFUL_STAGES = ("classify", "stories", "alerts", "collectors")


def changelog(stage: str) -> TopicSpec[StateChange]:
    """The compacted changelog topic of one stateful stage's local state."""
    return TopicSpec(f"changelog.{stage}", StateChange, lambda e: e.message_key)


ALL_TOPICS: tuple[TopicSpec[FeedSpec] | TopicSpec[RawItem] | TopicSpec[ClassifiedItem]
                  | TopicSpec[Development] | TopicSpec[DeliveryRecord]
                  | TopicSpec[DeadLetter], ...] = (
    FEEDS, RAW_ITEMS, CLASSIFIED_ITEMS, DEVELOPMENTS, DELIVERIES, DEAD_LETTERS,
)
