"""Self-test of scripts/kafka_broker.py: the session's broker, brokers that restart on their own
data and ports, and the three-broker cluster."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kafka_broker
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic


@pytest.mark.kafka
def test_broker_accepts_tcp(kafka_bootstrap: str) -> None:
    host, port = kafka_bootstrap.rsplit(":", 1)
    assert host == "127.0.0.1"  # only loopback traffic is allowed here
    with socket.create_connection((host, int(port)), timeout=5):
        pass


@pytest.mark.kafka
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


# -- brokers of a test's own: restart on the same data and ports, a three-node cluster ----------


def _send(bootstrap: str, topic: str, value: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all",
                             enable_idempotence=True, reconnect_backoff_max_ms=1000)
    try:
        producer.send(topic, key=b"k", value=value).get(timeout=60)
    finally:
        producer.close()


def _read_all(bootstrap: str, topic: str, n: int) -> list[bytes]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap.split(","),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=30_000, reconnect_backoff_max_ms=1000)
    try:
        values = []
        for message in consumer:
            values.append(message.value)
            if len(values) == n:
                break
        return values
    finally:
        consumer.close()


def _create(bootstrap: str, topic: str, replicas: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=replicas)])
    finally:
        admin.close()


@pytest.mark.faults
def test_a_broker_restarts_on_its_own_data_and_ports(private_broker: kafka_broker.Broker) -> None:
    topic, bootstrap = f"restart-{uuid.uuid4().hex[:8]}", private_broker.bootstrap
    _create(bootstrap, topic, 1)
    _send(bootstrap, topic, b"before a clean stop")
    private_broker.stop()
    assert not private_broker.running
    private_broker.restart()
    assert private_broker.bootstrap == bootstrap
    _send(bootstrap, topic, b"before a SIGKILL")
    private_broker.kill()
    private_broker.restart()
    assert _read_all(bootstrap, topic, 2) == [b"before a clean stop", b"before a SIGKILL"]


@pytest.mark.faults
def test_the_cli_restarts_a_detached_broker_on_its_own_ports(tmp_path: Path) -> None:
    workdir = tmp_path / "broker"
    script = [sys.executable, str(Path(kafka_broker.__file__))]
    started = subprocess.run([*script, "start", "--workdir", str(workdir)], capture_output=True,
                             text=True, timeout=120, check=False)
    try:
        assert started.returncode == 0, started.stderr
        bootstrap = started.stdout.split()[0].removeprefix("bootstrap=")
        restarted = subprocess.run([*script, "restart", "--workdir", str(workdir)],
                                   capture_output=True, text=True, timeout=120, check=False)
        assert restarted.returncode == 0, restarted.stderr
        assert f"node 1: bootstrap={bootstrap} pid=" in restarted.stdout
        _create(bootstrap, "after-restart", 1)
    finally:
        stopped = subprocess.run([*script, "stop", "--workdir", str(workdir)],
                                 capture_output=True, text=True, timeout=60, check=False)
    assert "stopped pid=" in stopped.stdout, stopped.stdout + stopped.stderr


@pytest.mark.faults
def test_a_three_broker_cluster_keeps_taking_writes_without_one_broker(
    kafka_cluster: kafka_broker.Cluster,
) -> None:
    topic, bootstrap = f"cluster-{uuid.uuid4().hex[:8]}", kafka_cluster.bootstrap
    assert len(bootstrap.split(",")) == 3
    _create(bootstrap, topic, 3)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        deadline = time.monotonic() + 30
        while not (partitions := admin.describe_topics([topic])[0]["partitions"]):
            assert time.monotonic() < deadline, "the new topic's partition never showed"
            time.sleep(0.2)
        [partition] = partitions
        assert sorted(partition["replica_nodes"]) == [1, 2, 3]
        leader = kafka_cluster.broker(partition["leader_id"])
    finally:
        admin.close()
    props = (leader.workdir / "server.properties").read_text()
    assert "min.insync.replicas=2\n" in props and "default.replication.factor=3\n" in props

    leader.kill()  # acks=all still has two in-sync replicas to answer
    try:
        _send(bootstrap, topic, b"written while a broker is down")
    finally:
        leader.restart()
    assert _read_all(bootstrap, topic, 1) == [b"written while a broker is down"]
