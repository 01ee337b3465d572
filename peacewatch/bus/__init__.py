"""The event bus: one interface, an embedded SQLite backend and an Apache Kafka backend."""

from __future__ import annotations

from pathlib import Path

from peacewatch.bus.base import Bus, Consumer, Producer, Record, TopicConfig
from peacewatch.bus.events import Envelope, EventBus, EventConsumer, EventPublisher
from peacewatch.metrics import Metrics
from peacewatch.settings import Settings
from peacewatch.settings.bus import BusSettings


def open_raw_bus(settings: BusSettings, data_dir: Path) -> Bus:
    """The backend the settings ask for: Kafka when bootstrap servers are set, else embedded."""
    if settings.kafka.bootstrap_servers:
        from peacewatch.bus.kafka import KafkaBus

        return KafkaBus(settings.kafka)
    from peacewatch.bus.embedded import EmbeddedBus

    path = settings.embedded.path
    return EmbeddedBus(
        path if path.is_absolute() else data_dir / path,
        member_timeout_s=settings.embedded.member_timeout_s,
        poll_interval_s=settings.embedded.poll_interval_s,
    )


def open_bus(settings: Settings, metrics: Metrics | None = None) -> EventBus:
    """Connect, create the topics, and return the typed bus; raises BusError within seconds."""
    raw = open_raw_bus(settings.bus, settings.data_dir)
    events = EventBus(
        raw,
        prefix=settings.bus.topic_prefix,
        partitions=settings.bus.partitions,
        replication_factor=settings.bus.replication_factor,
        metrics=metrics,
    )
    try:
        raw.check()
        events.ensure_topics()
    except BaseException:
        raw.close()
        raise
    return events


__all__ = [
    "Bus", "Consumer", "Envelope", "EventBus", "EventConsumer", "EventPublisher", "Producer",
    "Record", "TopicConfig", "open_bus", "open_raw_bus",
]
