"""Delivery of queued notifications: pacing, retries with backoff, dead letters, records.

For each due notification: wait for the receiver's pace (token bucket, 429's Retry-After),
commit the intent (``sending``), send, commit the outcome (``sent`` / retry later / ``dead``)
together with its DeliveryRecord, which goes into the alerts' ledger outbox under the
notification's partition (one this worker owns: it sends only those). A receiver that fails
does not hold up the others.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from alerts.channels.base import Notifier
from alerts.grouping import Clock
from alerts.notification import Notification
from alerts.pacing import Pace, backoff_s
from alerts.redact import redact
from alerts.store import DeliveryLog, OutboxRow
from peacewatch.errors import PermanentDeliveryError, TransientDeliveryError
from peacewatch.ledger import Ledger
from peacewatch.metrics import Metrics
from peacewatch.models import DELIVERIES, DeliveryRecord, DeliveryStatus
from peacewatch.settings.alerts import Retry

log = logging.getLogger("peacewatch.alerts")


def delivery_record(n: Notification, channel: str, status: DeliveryStatus, *, attempts: int,
                    at: datetime, error: str | None = None) -> DeliveryRecord:
    suffix = "" if status == "sent" else f"-{status}-{attempts}"
    return DeliveryRecord(
        delivery_id=f"{n.notification_id}{suffix}", development_ids=n.development_ids,
        receiver=n.receiver, channel=channel, status=status, attempts=attempts,
        error=error, at=at, follow_up=n.kind == "follow_up")


class Dispatcher:
    def __init__(
        self, store: DeliveryLog, ledger: Ledger, notifiers: dict[str, Notifier],
        paces: dict[str, Pace], *, retry: Retry, clock: Clock, metrics: Metrics,
        parts: Callable[[], Iterable[int]], settled: Callable[[], None] = lambda: None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        # The partitions whose notifications this worker sends, and what makes a settled
        # notification's state durable beyond this host (its changelog).
        self.parts, self.settled = parts, settled
        self.store = store
        self.ledger = ledger
        self.notifiers = notifiers
        self.paces = paces
        self.retry = retry
        self.clock = clock
        self.metrics = metrics
        self.rand = rand
        # The earliest time a paced-back notification may go (for the stage's wake-up).
        self.wake_at: datetime | None = None

    def run(self, budget_s: float = 5.0) -> int:
        """Send what is due, for at most about ``budget_s``; return notifications settled."""
        deadline = time.monotonic() + budget_s
        self.wake_at = None
        settled = 0
        for row in self.store.due(self.clock(), self.parts()):
            if time.monotonic() >= deadline:
                self.wake_at = self.clock()
                break
            settled += self._deliver(row)
        return settled

    def _deliver(self, row: OutboxRow) -> int:
        n = row.notification
        now = self.clock()
        notifier = self.notifiers.get(n.receiver)
        if notifier is None:
            reason = f"receiver {n.receiver!r} is no longer configured"
            self._dead(row, "unknown", row.attempts, reason)
            return 1
        pace = self.paces.setdefault(n.receiver, Pace(rate=0.0, burst=1))
        ready = pace.ready_at(now)
        if ready > now:
            self.wake_at = ready if self.wake_at is None else min(self.wake_at, ready)
            return 0
        pace.take(now)
        attempts = row.attempts + 1
        if row.state == "sending":
            log.warning("notification %s to %s was interrupted mid-delivery; sending it again",
                        n.notification_id, n.receiver)
        self.store.mark_sending(n.notification_id, attempts, now)
        self.settled()  # the intent, beyond this host, before the remote is contacted
        try:
            notifier.send(n)
        except PermanentDeliveryError as exc:
            self._dead(row, notifier.channel, attempts, redact(str(exc)))
            return 1
        except TransientDeliveryError as exc:
            return self._transient(row, notifier.channel, attempts, redact(str(exc)),
                                   retry_after=exc.retry_after, pace=pace)
        except Exception as exc:  # a bug in a channel must not stop the alerter
            reason = f"unexpected {type(exc).__name__}: {redact(str(exc))[:200]}"
            return self._transient(row, notifier.channel, attempts, reason, retry_after=None,
                                   pace=pace)
        done = self.clock()
        self._settle(row, delivery_record(n, notifier.channel, "sent", attempts=attempts,
                                          at=done),
                     lambda db: self.store.mark_done(db, n.notification_id, "sent",
                                                     attempts=attempts, now=done))
        self.metrics.notifications_sent.labels(receiver=n.receiver).inc()
        for dev in n.developments:
            if dev.item_fetched_at is not None:
                self.metrics.end_to_end_latency.observe(
                    max(0.0, (done - dev.item_fetched_at).total_seconds()))
        log.info("sent %s %s to %s (%d development%s, attempt %d)", n.kind,
                 n.notification_id, n.receiver, len(n.developments),
                 "s" if len(n.developments) != 1 else "", attempts)
        return 1

    def _settle(self, row: OutboxRow, record: DeliveryRecord,
                mark: Callable[[sqlite3.Connection], None]) -> None:
        """The notification's new state and the record that reports it, in one transaction
        (the record into the ledger's outbox, under the notification's partition); then both
        beyond this host."""
        with self.ledger.transaction() as db:
            mark(db)
            self.ledger.add_outbox(row.part, DELIVERIES, record)
        self.settled()

    def _transient(self, row: OutboxRow, channel: str, attempts: int, reason: str, *,
                   retry_after: float | None, pace: Pace) -> int:
        n = row.notification
        self.metrics.notifications_failed.labels(receiver=n.receiver, kind="transient").inc()
        if attempts >= self.retry.max_attempts:
            self._dead(row, channel, attempts, f"gave up after {attempts} attempts: {reason}")
            return 1
        now = self.clock()
        delay = backoff_s(attempts, self.retry.base_s, self.retry.max_s, self.rand)
        if retry_after is not None and retry_after > 0:
            # The server said when: honour it exactly, for this receiver's other messages too.
            pace.block(now + timedelta(seconds=retry_after))
            delay = retry_after
        next_at = now + timedelta(seconds=delay)
        record = delivery_record(n, channel, "failed", attempts=attempts, at=now, error=reason)
        self._settle(row, record, lambda db: self.store.mark_retry(
            db, n.notification_id, attempts=attempts, next_at=next_at, now=now, error=reason))
        log.warning("delivery of %s to %s failed (attempt %d), retrying in %.1fs: %s",
                    n.notification_id, n.receiver, attempts, delay, reason)
        return 0

    def _dead(self, row: OutboxRow, channel: str, attempts: int, reason: str) -> None:
        n = row.notification
        now = self.clock()
        self._settle(row, delivery_record(n, channel, "dead", attempts=attempts, at=now,
                                          error=reason),
                     lambda db: self.store.mark_done(db, n.notification_id, "dead",
                                                     attempts=attempts, now=now, error=reason))
        self.metrics.notifications_failed.labels(receiver=n.receiver, kind="permanent").inc()
        log.error("notification %s to %s dead-lettered after %d attempt(s): %s",
                  n.notification_id, n.receiver, attempts, reason)
