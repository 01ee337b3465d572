"""Logging: kafka-python's own warnings pass, without the flood a broker outage makes."""

from __future__ import annotations

import logging

from peacewatch.logs import KafkaLogFilter


def record(name: str, level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("node-1",), None)


def test_kafka_python_connection_attempts_stay_quiet_and_other_warnings_pass_once() -> None:
    quiet = KafkaLogFilter(interval_s=600)
    attempts = [record("kafka.net.connection", logging.ERROR, "Connection lost: %s")
                for _ in range(50)]
    assert not any(quiet.filter(r) for r in attempts)
    rejoin = [record("kafka.coordinator.heartbeat", logging.WARNING,
                     "Heartbeat: %s must re-join") for _ in range(50)]
    assert [quiet.filter(r) for r in rejoin].count(True) == 1
    assert quiet.filter(record("peacewatch.bus", logging.ERROR, "bus down: %s"))
    assert quiet.filter(record("peacewatch.bus", logging.ERROR, "bus down: %s"))
