"""An unreachable or vanished broker is a clear BusError within seconds, never a silent hang
and never one of kafka-python's own exceptions."""

from __future__ import annotations

import socket
import time

import kafka_broker
import pytest

from peacewatch.bus.base import TopicConfig
from peacewatch.bus.kafka import KafkaBus
from peacewatch.errors import BrokerUnavailable, BusError
from peacewatch.settings.bus import KafkaSettings


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_broker_fails_fast_with_the_address_in_the_message() -> None:
    port = closed_port()
    bus = KafkaBus(KafkaSettings(bootstrap_servers=[f"127.0.0.1:{port}"], connect_timeout_s=2))
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        bus.check()
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{port}" in str(info.value)
    bus.close()


@pytest.mark.faults
def test_lag_with_the_broker_gone_is_a_bus_error_within_seconds(
    private_broker: kafka_broker.Broker,
) -> None:
    """kafka-python's errors never leave the bus untranslated: the daemon goes on after a
    BusError, where any other exception stops the stage."""
    bus = KafkaBus(KafkaSettings(bootstrap_servers=[private_broker.bootstrap],
                                 connect_timeout_s=5, session_timeout_s=6))
    bus.ensure_topics([TopicConfig("lagging", 1)])
    consumer = bus.consumer("lag-group", ["lagging"])
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert consumer.lag() == {("lagging", 0): 0}
        private_broker.stop()
        started = time.monotonic()
        with pytest.raises(BusError):
            consumer.lag()
        assert time.monotonic() - started < 15
    finally:
        consumer.close()
        bus.close()
