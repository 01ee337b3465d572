"""Settings of the event bus: embedded (the default) or Apache Kafka."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from peacewatch.settings.base import Section


class KafkaSettings(Section):
    """A Kafka cluster. An empty ``bootstrap_servers`` means: use the embedded bus."""

    bootstrap_servers: list[str] = Field(default_factory=list)
    client_id: str = "peacewatch"
    # How long one attempt to reach a broker may take (at start-up, or to publish when the
    # cluster has no leader for a partition) before it fails with BrokerUnavailable.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # How long `peacewatch run` (collect, process, alert) waits at start-up for a broker that
    # is not up yet, trying again every second; 0 gives up after the first attempt (exit 3).
    startup_wait_s: float = Field(default=60.0, ge=0)
    # Clients reconnect to a broker that went away after 50 ms, then after twice as long each
    # time, up to this: a broker that is back is used again within about this long.
    reconnect_backoff_max_s: float = Field(default=1.0, gt=0, le=60)
    request_timeout_s: float = Field(default=30.0, gt=0)
    session_timeout_s: float = Field(default=10.0, gt=0)
    max_poll_interval_s: float = Field(default=300.0, gt=0)
    # The longest a consumer's fetch waits at the broker for records (its latency floor when
    # records of a partition come while a fetch without it is in flight).
    fetch_max_wait_s: float = Field(default=0.1, gt=0, le=10)


class EmbeddedSettings(Section):
    """The single-machine bus: a SQLite file in WAL mode. Relative paths are under data_dir."""

    path: Path = Path("bus.sqlite3")
    # A member that has not polled for this long loses its partitions to the others.
    member_timeout_s: float = Field(default=10.0, gt=0)
    poll_interval_s: float = Field(default=0.02, gt=0)


class BusSettings(Section):
    topic_prefix: str = "peacewatch"
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1)
    kafka: KafkaSettings = KafkaSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()

    @property
    def backend(self) -> str:
        return "kafka" if self.kafka.bootstrap_servers else "embedded"
