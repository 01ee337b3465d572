"""Self-test of the session's real Kafka broker (scripts/kafka_broker.py via kafka_bootstrap)."""

from __future__ import annotations

import socket
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

pytestmark = pytest.mark.kafka


def test_broker_accepts_tcp(kafka_bootstrap: str) -> None:
    host, port = kafka_bootstrap.rsplit(":", 1)
    assert host == "127.0.0.1"  # only loopback traffic is allowed here
    with socket.create_connection((host, int(port)), timeout=5):
        pass


def test_topic_create_and_round_trip(kafka_bootstrap: str) -> None:
    topic = f"selftest-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="selftest-admin")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()

    # Idempotent producer: the settings peacewatch itself uses (acks=all is required for it).
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    try:
        producer.send(topic, key=b"k1", value=b"hello peacewatch").get(timeout=30)
    finally:
        producer.close()

    # A consumer group with a manual commit also exercises __consumer_offsets on one node.
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=30_000,
    )
    try:
        msg = next(iter(consumer))
        assert (msg.key, msg.value) == (b"k1", b"hello peacewatch")
        consumer.commit()
    finally:
        consumer.close()
