"""The event bus: one interface, an embedded SQLite backend and an Apache Kafka backend."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from peacewatch.bus.base import Bus, Consumer, Producer, Record, TopicConfig
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.events import Envelope, EventBus, EventConsumer, EventPublisher
from peacewatch.bus.kafka import KafkaBus
from peacewatch.errors import BusUnavailable
from peacewatch.metrics import Metrics
from peacewatch.settings import Settings
from peacewatch.settings.bus import BusSettings


def open_raw_bus(settings: BusSettings, data_dir: Path) -> Bus:
    """The backend the settings ask for: Kafka when bootstrap servers are set, else embedded."""
    if settings.kafka.bootstrap_servers:
        return KafkaBus(settings.kafka)

    path = settings.embedded.path
    return EmbeddedBus(
        path if path.is_absolute() else data_dir / path,
        member_timeout_s=settings.embedded.member_timeout_s,
        poll_interval_s=settings.embedded.poll_interval_s,
    )


log = logging.getLogger("peacewatch.bus")


def open_bus(settings: Settings, metrics: Metrics | None = None,
             timeout_s: float | None = None) -> EventBus:
    """Connect, create the topics, and return the typed bus; raises BusError within
    ``timeout_s`` (default: ``bus.kafka.connect_timeout_s``)."""
    raw = open_raw_bus(settings.bus, settings.data_dir)
    events = EventBus(
        raw,
        prefix=settings.bus.topic_prefix,
        partitions=settings.bus.partitions,
        replication_factor=settings.bus.replication_factor,
        metrics=metrics,
    )
    try:
        raw.check(timeout_s)
        events.ensure_topics()
    except BaseException:
        raw.close()
        raise
    return events


def wait_for_bus(settings: Settings, metrics: Metrics,
                 stopping: threading.Event) -> EventBus | None:
    """``open_bus``, trying again every second for up to ``bus.kafka.startup_wait_s`` while
    no broker answers (a cluster that starts after peacewatch); None if ``stopping`` is set
    meanwhile. Once the wait is over, the last BusUnavailable is raised."""
    wait_s = settings.bus.kafka.startup_wait_s if settings.bus.backend == "kafka" else 0.0
    started = time.monotonic()
    deadline = started + wait_s
    waiting = False
    while True:
        left = deadline - time.monotonic()
        try:
            events = open_bus(settings, metrics,
                              min(settings.bus.kafka.connect_timeout_s, max(left, 1.0)))
        except BusUnavailable as exc:
            if time.monotonic() >= deadline:
                if not waiting:
                    raise
                raise BusUnavailable(f"{exc}; gave up after waiting {wait_s:g}s") from exc
            if not waiting:
                log.warning("bus not reachable yet (%s); waiting up to %gs", exc, wait_s)
                waiting = True
            metrics.bus_up.set(0)
            if stopping.wait(min(1.0, max(deadline - time.monotonic(), 0.0))):
                return None
            continue
        if waiting:
            log.info("bus reachable after %.1fs", time.monotonic() - started)
        metrics.bus_up.set(1)
        return events


__all__ = [
    "Bus", "Consumer", "Envelope", "EventBus", "EventConsumer", "EventPublisher", "Producer",
    "Record", "TopicConfig", "open_bus", "open_raw_bus", "wait_for_bus",
]
