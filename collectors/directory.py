"""The feed list as the collectors share it: the feeds topic, and who polls what.

Scale-out uses the bus, not a coordinator of our own:

- ``FeedDirectory`` reads the whole feeds topic (a private consumer group per process, so it
  starts at the earliest offset) into a table feed_id -> (spec, partition). Later specs of a
  feed replace earlier ones; ``enabled = false`` removes a feed.
- ``FeedOwnership`` is a member of the collectors' consumer group on the same topic. The group's
  partition assignment (Kafka's, or the embedded bus's leases) decides which partitions this
  collector owns, and so which feeds it polls: a feed is polled by the owner of the partition
  its spec is on (the topic's key is ``feed_id``). When a collector joins or dies, the group
  rebalances and the feeds move with their partitions.
"""

from __future__ import annotations

import logging
import time
import uuid

from peacewatch.bus.events import EventBus, EventConsumer
from peacewatch.errors import CommitFailed
from peacewatch.models import FEEDS, FeedSpec

log = logging.getLogger("peacewatch.collectors.directory")


class FeedDirectory:
    def __init__(self, events: EventBus, group: str) -> None:
        self.group = f"{group}.directory.{uuid.uuid4().hex[:12]}"
        self.consumer: EventConsumer = events.consumer(self.group, [FEEDS])
        self.feeds: dict[str, tuple[FeedSpec, int]] = {}

    def poll(self, timeout_s: float = 0.0) -> set[str]:
        """Read what is new on the feeds topic; return the ids of feeds that changed."""
        changed: set[str] = set()
        while True:
            batch = self.consumer.poll(timeout_s, 1000)
            for envelope in batch:
                spec: FeedSpec = envelope.event
                previous = self.feeds.get(spec.feed_id)
                if spec.enabled:
                    self.feeds[spec.feed_id] = (spec, envelope.record.partition)
                else:
                    self.feeds.pop(spec.feed_id, None)
                if previous is None or previous[0] != spec:
                    changed.add(spec.feed_id)
            self.consumer.commit()
            if len(batch) < 1000:
                return changed
            timeout_s = 0.0

    def catch_up(self, deadline_s: float) -> set[str]:
        """Read until the topic is read to its end (or the deadline passes)."""
        changed = self.poll(0.0)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            lag = self.consumer.consumer.lag()
            if lag and not any(lag.values()):
                break
            changed |= self.poll(0.1)
        return changed

    def close(self) -> None:
        self.consumer.close()


class FeedOwnership:
    """This collector's membership of the collectors' group, and the partitions it owns."""

    def __init__(self, events: EventBus, group: str) -> None:
        self.consumer: EventConsumer = events.consumer(group, [FEEDS])
        self.partitions: set[int] = set()

    def refresh(self, timeout_s: float = 0.0) -> bool:
        """Keep the membership alive; return True when the owned partitions changed."""
        self.consumer.poll(timeout_s, 1000)
        try:
            # The directory has the specs; this group's offsets only mark them seen.
            self.consumer.commit()
        except CommitFailed as exc:  # a rebalance moved a partition: the next refresh sees it
            log.info("feeds ownership: %s", exc)
        owned = {part for _topic, part in self.consumer.consumer.assignment()}
        if owned != self.partitions:
            log.info("feeds partitions owned: %s", sorted(owned) or "none")
            self.partitions = owned
            return True
        return False

    def close(self) -> None:
        self.consumer.close()
