"""SlackNotifier and the dispatcher against a real Slack-like webhook on 127.0.0.1.

The server checks every payload against Block Kit limits and answers 200, 429 + Retry-After,
500 and 404 from scripts; the dispatcher's clock is a fake so retries need no real waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alertkit import SLACK_PATH, T0, FakeClock, Reply, ScriptedServer, make_dev
from prometheus_client import CollectorRegistry

from alerts.channels import SlackNotifier
from alerts.dispatch import Dispatcher
from alerts.notification import make_notification
from alerts.pacing import Pace
from alerts.store import PARTITIONED, DeliveryLog
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.events import EventBus
from peacewatch.errors import AlertError, PermanentDeliveryError, TransientDeliveryError
from peacewatch.ledger import Ledger, Store
from peacewatch.metrics import Metrics
from peacewatch.models import DELIVERIES, DeliveryRecord
from peacewatch.settings.alerts import Retry, SlackReceiver


def slack(server: ScriptedServer, path: str = SLACK_PATH) -> SlackNotifier:
    return SlackNotifier("ops", SlackReceiver(kind="slack", webhook_url=server.url(path),
                                              timeout_s=2))


def notification(i: int = 0, n_devs: int = 1):  # type: ignore[no-untyped-def]
    devs = tuple(make_dev(i * 100 + j) for j in range(n_devs))
    return make_notification(receiver="ops", route="default", group=f"issue=g{i}",
                             kind="alert", developments=devs, now=T0)


def test_a_valid_message_is_accepted(slack_server: ScriptedServer) -> None:
    slack(slack_server).send(notification(n_devs=60))
    assert slack_server.violations == []
    assert len(slack_server.accepted) == 1


@pytest.mark.parametrize(("reply", "error", "retry_after"), [
    (Reply(429, "rate_limited", {"Retry-After": "7"}), TransientDeliveryError, 7.0),
    (Reply(500, "server_error"), TransientDeliveryError, None),
    (Reply(503, ""), TransientDeliveryError, None),
    (Reply(404, "no_service"), PermanentDeliveryError, None),
    (Reply(410, "channel_is_archived"), PermanentDeliveryError, None),
    (Reply(403, "invalid_token"), PermanentDeliveryError, None),
    (Reply(400, "no_service"), PermanentDeliveryError, None),
])
def test_answers_are_classified(slack_server: ScriptedServer, reply: Reply,
                                error: type[Exception], retry_after: float | None) -> None:
    slack_server.script = [reply]
    with pytest.raises(error) as info:
        slack(slack_server).send(notification())
    assert str(reply.status) in str(info.value)
    if retry_after is not None:
        assert isinstance(info.value, TransientDeliveryError)
        assert info.value.retry_after == retry_after


def test_an_unknown_webhook_is_permanent(slack_server: ScriptedServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="404 no_service"):
        slack(slack_server, "/services/T0001/B0001/wrong").send(notification())


def test_a_dead_server_is_transient() -> None:
    server = ScriptedServer(slack=True)
    url = server.url(SLACK_PATH)
    server.close()
    notifier = SlackNotifier("ops", SlackReceiver(kind="slack", webhook_url=url, timeout_s=1))
    with pytest.raises(TransientDeliveryError, match="connection failed"):
        notifier.send(notification())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeliveryLog]:
    log = DeliveryLog(tmp_path / "alerts.sqlite3")
    yield log
    log.close()


def ledger_of(store: DeliveryLog, events: EventBus) -> Ledger:
    """The alerts' ledger on the delivery log, as the stage builds it."""
    return Ledger(store.db, store.lock, name="alerts",
                  stores=[Store(table, key) for table, key in PARTITIONED], events=events,
                  metrics=Metrics(CollectorRegistry()), error=AlertError, group="alerts")


def dispatcher(store: DeliveryLog, server: ScriptedServer, clock: FakeClock,
               pace: Pace | None = None) -> tuple[Dispatcher, Metrics]:
    metrics = Metrics(CollectorRegistry())
    # Nothing is published here (no ``settled``): the bus only names the topics.
    events = EventBus(EmbeddedBus(store.path.with_name("bus.sqlite3")), prefix="t",
                      partitions=1, replication_factor=1)
    d = Dispatcher(store, ledger_of(store, events), {"ops": slack(server)},
                   {"ops": pace or Pace(0, 1)},
                   retry=Retry(base_s=2, max_s=60, max_attempts=4), clock=clock,
                   metrics=metrics, parts=lambda: {0}, rand=lambda: 1.0)
    return d, metrics


def enqueue(store: DeliveryLog, *notes: object) -> None:
    with store.tx() as db:
        for n in notes:
            store.enqueue(db, n, T0, 0)  # type: ignore[arg-type]


def records(store: DeliveryLog) -> list[tuple[str, int]]:
    """The delivery records in the alerts' ledger outbox, not published yet."""
    return [(r.status, r.attempts) for r in (
        DeliveryRecord.model_validate_json(p) for p, in store.db.execute(
            "SELECT payload FROM ledger_outbox WHERE log = 'alerts' AND topic = ? "
            "ORDER BY id", (DELIVERIES.base,)))]


def test_scripted_sequence_429_then_500_then_200(store: DeliveryLog, clock: FakeClock,
                                                slack_server: ScriptedServer) -> None:
    slack_server.script = [Reply(429, "rate_limited", {"Retry-After": "5"}),
                           Reply(500, "oops")]
    d, metrics = dispatcher(store, slack_server, clock)
    enqueue(store, notification())
    assert d.run() == 0
    clock.advance(4.9)
    assert d.run() == 0 and len(slack_server.requests) == 1  # Retry-After is honoured
    clock.advance(0.1)
    assert d.run() == 0 and len(slack_server.requests) == 2  # 500: backoff 2 * 2**1 = 4 s
    clock.advance(3.9)
    assert d.run() == 0
    clock.advance(0.1)
    assert d.run() == 1
    assert records(store) == [("failed", 1), ("failed", 2), ("sent", 3)]
    assert len(slack_server.accepted) == 1 and slack_server.violations == []
    assert metrics.registry.get_sample_value(
        "peacewatch_notifications_failed_total", {"receiver": "ops", "kind": "transient"}) == 2
    assert metrics.registry.get_sample_value(
        "peacewatch_notifications_sent_total", {"receiver": "ops"}) == 1


def test_404_dead_letters_and_other_notifications_go_on(
        store: DeliveryLog, clock: FakeClock, slack_server: ScriptedServer) -> None:
    slack_server.script = [Reply(404, "no_service")]
    d, metrics = dispatcher(store, slack_server, clock)
    first, second = notification(1), notification(2)
    enqueue(store, first, second)
    assert d.run() == 2
    statuses = sorted(records(store))
    assert statuses == [("dead", 1), ("sent", 1)]
    dead = store.dead()
    assert len(dead) == 1 and "HTTP 404 no_service" in (dead[0][2] or "")
    assert metrics.registry.get_sample_value(
        "peacewatch_notifications_failed_total", {"receiver": "ops", "kind": "permanent"}) == 1


def test_transient_failures_give_up_into_a_dead_letter(
        store: DeliveryLog, clock: FakeClock, slack_server: ScriptedServer) -> None:
    slack_server.script = [Reply(500, "oops")] * 10
    d, _ = dispatcher(store, slack_server, clock)
    enqueue(store, notification())
    for _ in range(10):
        d.run()
        clock.advance(120)
    assert records(store)[-1] == ("dead", 4)
    assert "gave up after 4 attempts" in (store.dead()[0][2] or "")
    assert len(slack_server.requests) == 4


def test_pacing_one_per_second_after_a_short_burst(
        store: DeliveryLog, clock: FakeClock, slack_server: ScriptedServer) -> None:
    d, _ = dispatcher(store, slack_server, clock, Pace(rate=1.0, burst=3))
    enqueue(store, *(notification(i) for i in range(6)))
    assert d.run() == 3  # the burst
    assert d.wake_at == clock.now + timedelta(seconds=1)
    clock.advance(0.5)
    assert d.run() == 0
    clock.advance(0.5)
    assert d.run() == 1
    clock.advance(1)
    assert d.run() == 1
    clock.advance(1)
    assert d.run() == 1
    assert len(slack_server.accepted) == 6


def test_429_blocks_the_whole_webhook_for_retry_after(
        store: DeliveryLog, clock: FakeClock, slack_server: ScriptedServer) -> None:
    slack_server.script = [Reply(429, "rate_limited", {"Retry-After": "30"})]
    d, _ = dispatcher(store, slack_server, clock, Pace(rate=1.0, burst=3))
    enqueue(store, notification(1), notification(2))
    d.run()
    assert len(slack_server.requests) == 1  # the second waits too, not just the failed one
    clock.advance(29)
    d.run()
    assert len(slack_server.requests) == 1
    clock.advance(1)
    d.run()
    clock.advance(1)
    d.run()
    assert len(slack_server.accepted) == 2
