"""An unreachable broker is a clear error within seconds, never a silent hang."""

from __future__ import annotations

import socket
import time

import pytest

from peacewatch.bus.kafka import KafkaBus
from peacewatch.errors import BrokerUnavailable
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
