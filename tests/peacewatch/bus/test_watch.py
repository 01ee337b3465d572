"""The bus watch: one log line when the bus goes, one when it is back, and the gauge."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from peacewatch.bus.watch import BusWatch
from peacewatch.errors import BrokerUnavailable, BusUnavailable
from peacewatch.metrics import Metrics


class Broker:
    """A probe that answers or not, as the test says."""

    def __init__(self) -> None:
        self.answers = True

    def __call__(self) -> None:
        if not self.answers:
            raise BrokerUnavailable("Kafka broker not reachable at 127.0.0.1:9")


def gauge(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("peacewatch_bus_up")


def bus_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "peacewatch.bus"]


def test_an_outage_is_one_line_down_and_one_line_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "peacewatch.bus")
    broker, metrics = Broker(), Metrics(CollectorRegistry())
    watch = BusWatch(broker, metrics)
    assert watch.up and gauge(metrics) == 1
    broker.answers = False
    for _ in range(5):  # probed every second while down
        watch.probe()
        watch.stage_failed("classify", BusUnavailable("flush timed out"))
    assert not watch.up and gauge(metrics) == 0
    returns = watch.returns
    broker.answers = True
    watch.probe()
    assert watch.returns == returns + 1, "stages waiting to retry are woken"
    assert not watch.up, "up only once the failing stage gets through"
    watch.stage_ok("classify")
    assert watch.up and gauge(metrics) == 1
    lines = bus_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("bus down: Kafka broker not reachable at 127.0.0.1:9")
    assert lines[1].startswith("bus back after ")


def test_a_stage_that_cannot_write_takes_the_bus_down_while_the_probe_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The embedded bus on a full disk still reads: the stage's failed write says it is down."""
    caplog.set_level(logging.INFO, "peacewatch.bus")
    watch = BusWatch(Broker())
    watch.stage_failed("collectors", BusUnavailable("embedded bus: database or disk is full"))
    watch.probe()
    assert not watch.up
    watch.stage_ok("collectors")
    assert watch.up
    assert bus_lines(caplog)[0] == ("bus down: embedded bus: database or disk is full; "
                                    "the stages wait and retry until it is back")
