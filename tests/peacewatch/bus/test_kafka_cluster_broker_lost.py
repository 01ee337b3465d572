"""A consumer created while one broker of three has just been SIGKILLed.

Until the controller fences the dead broker (its session, 9 s here), the cluster's metadata
still lists it, and kafka-python may send a metadata request there and fail at once with
ECONNREFUSED. A stage restarted in that window (the chaos soak, bench/soak, met it) exited 3:
its start-up wait had found the bus, and then its consumer's first metadata lookup failed.
"""

from __future__ import annotations

import time
from pathlib import Path

import kafka_broker
import pytest

from peacewatch.bus import open_bus
from peacewatch.models import DEVELOPMENTS, RAW_ITEMS
from peacewatch.settings import load_settings

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(180)]


def test_consumers_are_created_while_a_killed_broker_is_still_in_the_metadata(
    kafka_cluster: kafka_broker.Cluster, tmp_path: Path, unique: str
) -> None:
    settings = load_settings(
        None, data_dir=tmp_path / "data", metrics={"enabled": False},
        bus={"topic_prefix": f"lost-{unique}", "partitions": 3, "replication_factor": 3,
             "kafka": {"bootstrap_servers": kafka_cluster.bootstrap.split(","),
                       "session_timeout_s": 6}})
    events = open_bus(settings)
    victim = kafka_cluster.brokers[-1]
    try:
        victim.kill()
        killed_at = time.monotonic()
        created = 0
        # Every consumer in the window must come up: before the fix, about one in three
        # failed within a second.
        while time.monotonic() - killed_at < 8:
            consumer = events.consumer(f"g-{unique}-{created}", [RAW_ITEMS, DEVELOPMENTS])
            consumer.close()
            created += 1
        assert created > 0
    finally:
        events.close()
        victim.restart()
