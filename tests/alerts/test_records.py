"""Delivery records go through the alerts' ledger outbox: written in the transaction that
settles the notification, under its (owned) partition, and on the deliveries topic once -
through a crash before their publication, and for records an older release left behind."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alertkit import SLACK_PATH, T0, FakeClock, ScriptedServer, StageRig, make_dev

from alerts.store import DeliveryLog
from peacewatch.bus.base import Producer
from peacewatch.bus.events import EventPublisher
from peacewatch.errors import BusUnavailable
from peacewatch.models import DELIVERIES, DeliveryRecord


def slack_alerts(server: ScriptedServer) -> dict[str, Any]:
    return {"receivers": {"ops": {"kind": "slack", "webhook_url": server.url(SLACK_PATH),
                                  "rate_per_s": 0}},
            "default_route": {"group_wait_s": 1, "group_interval_s": 300,
                              "repeat_interval_s": 3600}}


class DeliveriesDown(Producer):
    """The real producer, but a flush fails once a deliveries record is queued: the record is
    lost with the process (the changelog's messages still go through)."""

    def __init__(self, inner: Producer, deliveries: str) -> None:
        self.inner, self.deliveries = inner, deliveries
        self.held: list[bytes] = []

    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        if topic == self.deliveries:
            self.held.append(value)
        else:
            self.inner.publish(topic, value, key, partition)

    def flush(self, timeout_s: float = 30.0) -> None:
        if self.held:
            raise BusUnavailable("the bus went down")
        self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()


def crash(rig: StageRig) -> None:
    """The alerter dies: nothing more is published; its group membership ends with it."""
    rig.stage.consumer.close()
    rig.stage.store.close()


def test_a_delivery_record_survives_a_crash_before_its_publication(
    tmp_path: Path, clock: FakeClock, slack_server: ScriptedServer
) -> None:
    rig = StageRig(tmp_path, slack_alerts(slack_server), clock)
    try:
        producer = DeliveriesDown(rig.stage.publisher.producer,
                                  rig.events.topic(DELIVERIES))
        rig.stage.publisher = EventPublisher(rig.events, producer)
        rig.publish(make_dev(1))
        with pytest.raises(BusUnavailable):
            rig.run(3)
        assert len(slack_server.accepted) == 1 and len(producer.held) == 1
        assert rig.read_records() == []
        crash(rig)

        rig.stage = rig.new_stage()
        rig.run(3)
        records = rig.read_records()
        assert [(r.status, r.receiver) for r in records] == [("sent", "ops")]
        assert len(slack_server.accepted) == 1  # sent once: the crash came after "sent"
        rig.run(3)
        assert len(rig.read_records()) == 1
    finally:
        rig.close()


def test_a_delivery_record_waits_under_its_notifications_partition(
    tmp_path: Path, clock: FakeClock, slack_server: ScriptedServer
) -> None:
    rig = StageRig(tmp_path, slack_alerts(slack_server), clock)
    try:
        rig.stage.publisher = EventPublisher(rig.events, DeliveriesDown(
            rig.stage.publisher.producer, rig.events.topic(DELIVERIES)))
        rig.publish(*(make_dev(i) for i in range(6)))
        with pytest.raises(BusUnavailable):
            rig.run(3)
        outbox = rig.stage.ledger.outbox()
        parts = dict(rig.stage.store.db.execute(
            "SELECT notification_id, part FROM outbox WHERE state = 'sent'").fetchall())
        assert outbox and {r.topic for r in outbox} == {DELIVERIES.base}
        for row in outbox:
            record = DeliveryRecord.model_validate_json(row.payload)
            assert row.part == parts[record.delivery_id]
            assert row.part in rig.stage._owned
    finally:
        crash(rig)
        rig.stage = rig.new_stage()
        rig.close()


def test_records_an_older_release_left_are_published_once(
    tmp_path: Path, clock: FakeClock, slack_server: ScriptedServer
) -> None:
    path = tmp_path / "alerts.sqlite3"
    DeliveryLog(path).close()
    old = DeliveryRecord(delivery_id="n-1", development_ids=("d-1",), receiver="ops",
                         channel="slack", status="sent", attempts=1,
                         at=T0 - timedelta(hours=1))
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
               "payload TEXT NOT NULL)")
    db.execute("INSERT INTO records (payload) VALUES (?)", (old.model_dump_json(),))
    db.commit()
    db.close()

    rig = StageRig(tmp_path, slack_alerts(slack_server), clock)
    try:
        assert rig.stage.store.legacy_records() is None  # moved out, the table dropped
        rig.restart()
        rig.run(2)
        assert [r.delivery_id for r in rig.read_records()] == ["n-1"]
    finally:
        rig.close()
