"""The alerts stage: developments in, notifications out, every step durable.

A step: poll developments → restore the state of partitions just taken over from the alerts'
changelog (``peacewatch.ledger``) → route, silence, group (one SQLite transaction: claims,
pending, groups, and records in the ledger's outbox) → publish the records and the state
changes, commit the bus → flush due groups into the notification outbox → deliver due
notifications, each settled notification's record and state on the bus at once. Delivery
records have no outbox of their own: each goes into the ledger's, under the partition of the
development or notification it reports (one this worker owns), and ``Ledger.publish`` sends the
owned partitions'. Any crash between these leaves state that the next start, or the worker
that takes the partition over, resumes from; see ``alerts.store`` for the one residual window.
Groups are kept per partition of the developments topic, so that several workers share the
work with no lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from functools import partial

from alerts.channels.base import Notifier
from alerts.channels.build import build_notifier
from alerts.dispatch import Dispatcher
from alerts.grouping import Clock, Flush, Grouper
from alerts.intake import FOLLOW_UP, Claim, Intent, Loaded, Record, Rules, decide, wanted
from alerts.notification import NotificationKind, make_notification
from alerts.pacing import Pace
from alerts.redact import register_settings
from alerts.routing import Router
from alerts.silencing import SilenceMatcher, from_settings
from alerts.store import PARTITIONED, DeliveryLog, PendingItem
from peacewatch.bus.events import Envelope, EventConsumer, EventPublisher
from peacewatch.clock import ItemClock, stage_clock
from peacewatch.errors import AlertError
from peacewatch.ledger import Ledger, Store
from peacewatch.models import (
    DELIVERIES,
    DEVELOPMENTS,
    Development,
    stable_hash,
    utcnow,
)
from peacewatch.settings import Settings
from peacewatch.settings.alerts import AlertsSettings, EmailReceiver, SlackReceiver
from peacewatch.stage import Stage, StageContext

_DISPATCH_BUDGET_S = 5.0



class AlertStage(Stage):
    name = "alerts"

    def __init__(self, ctx: StageContext, clock: Clock | ItemClock = utcnow) -> None:
        super().__init__(ctx)
        self.clock = clock
        # One grouper per owned partition of the developments topic.
        self.groupers: dict[int, Grouper[PendingItem]] = {}
        self.notifiers: dict[str, Notifier] = {}
        self.paces: dict[str, Pace] = {}
        self._configure(ctx.settings.alerts)
        self.store = DeliveryLog(ctx.settings.path(self.alerts.state_path))
        self.ledger = Ledger(self.store.db, self.store.lock, name=self.name,
                             stores=[Store(table, key) for table, key in PARTITIONED],
                             events=ctx.events, metrics=ctx.metrics, error=AlertError,
                             group=self.alerts.consumer_group)
        self.publisher: EventPublisher = ctx.events.publisher()
        self.consumer: EventConsumer = ctx.events.consumer(self.alerts.consumer_group,
                                                           [DEVELOPMENTS])
        self._owned: set[int] = set()
        self.dispatcher = self._dispatcher()

    # -- set-up ------------------------------------------------------------------------------

    def _configure(self, settings: AlertsSettings) -> None:
        register_settings(settings)
        self.alerts = settings
        self.router = Router(settings)
        self._settings_silences = from_settings(settings.silences)
        self._silence_version: object = None
        self.matcher = SilenceMatcher(self._settings_silences)
        old = self.notifiers
        self.notifiers = {name: build_notifier(name, r) for name, r in settings.receivers.items()}
        for notifier in old.values():
            notifier.close()
        # Slack's limit is per webhook: receivers that share a webhook share one pace.
        shared: dict[str, Pace] = {}
        paces = {}
        for name, r in settings.receivers.items():
            key = (stable_hash(r.webhook_url.get_secret_value())
                   if isinstance(r, SlackReceiver) and r.webhook_url is not None else name)
            paces[name] = shared.setdefault(key, self.paces.get(name) or Pace(r.rate_per_s,
                                                                              r.burst))
        self.paces = paces
        self._domains = {name: r.sender.rsplit("@", 1)[-1] for name, r in
                         settings.receivers.items() if isinstance(r, EmailReceiver)}

    def _dispatcher(self) -> Dispatcher:
        return Dispatcher(self.store, self.ledger, self.notifiers, self.paces,
                          retry=self.alerts.retry,
                          clock=self.clock, metrics=self.ctx.metrics,
                          parts=lambda: self._owned, settled=self._settled)

    def _settled(self) -> None:
        """A notification was sent (or given up): its state goes to the changelog at once,
        so that a worker taking its partition over does not send it again."""
        self.ledger.publish(self.publisher, self._owned)

    def start(self) -> None:
        self._publish_legacy_records()

    def lag(self) -> dict[tuple[str, int], int]:
        """Uncommitted developments of the owned partitions (reported by the daemon)."""
        return self.consumer.consumer.lag()

    def _restore(self) -> None:
        """The groupers of the owned partitions again, as the delivery log has them."""
        self.groupers = {}
        for part in self._owned:
            self._restore_part(part)

    def _restore_part(self, part: int) -> None:
        grouper: Grouper[PendingItem] = Grouper(self.clock)
        for state in self.store.load_groups(part):
            grouper.restore(state)
        self.groupers[part] = grouper

    def _take_over(self) -> None:
        """Right after a poll: restore the partitions just taken from the changelog, and their
        groups, before any of their developments is handled."""
        owned = {part for _, part in self.consumer.consumer.assignment()}
        previous, self._owned = self._owned, owned
        for part in previous - owned:
            self.groupers.pop(part, None)
        taken = owned - previous
        if not taken:
            return
        try:
            self.ledger.restore(taken)
        except BaseException:
            self._owned = previous & owned
            raise
        for part in taken:
            self._restore_part(part)

    def _grouper(self, part: int) -> Grouper[PendingItem]:
        return self.groupers.setdefault(part, Grouper(self.clock))

    def _next_group_due(self) -> datetime | None:
        due = [d for d in (g.next_due() for g in self.groupers.values()) if d is not None]
        return min(due, default=None)

    def prepare_reload(self, settings: Settings) -> Callable[[], None]:
        Router(settings.alerts)  # routes that name unknown receivers are refused here
        return lambda: self.reload(settings)

    def reload(self, settings: Settings) -> None:
        self._configure(settings.alerts)
        self.ctx.settings = settings
        self.dispatcher = self._dispatcher()

    def stop(self) -> None:
        try:
            self.ledger.publish(self.publisher, self._owned)
        finally:
            for notifier in self.notifiers.values():
                notifier.close()
            self.consumer.close()
            self.publisher.close()
            self.store.close()

    # -- the loop ----------------------------------------------------------------------------

    def step(self, timeout_s: float) -> int:
        envelopes = self.consumer.poll(self._wait(timeout_s), self.alerts.batch_size)
        handled = 0
        # A failure before the commit (a full disk, the bus down) leaves these developments
        # to be read again; their claims make the second reading change nothing already done.
        with self.consumer.rewinding():
            self._take_over()
            if isinstance(self.clock, ItemClock):
                handled = self._ingest_on_item_time(envelopes)
            elif envelopes:
                handled = self._guarded(lambda: self._ingest(envelopes))
            self.ledger.publish(self.publisher, self._owned)
            self.consumer.commit()
        flushed = self._guarded(self._flush_due)
        sent = self.dispatcher.run(_DISPATCH_BUDGET_S)
        self.ledger.publish(self.publisher, self._owned)
        return handled + flushed + sent

    def _wait(self, timeout_s: float) -> float:
        """Poll no longer than until the next group or retry is due."""
        now = self.clock()
        times: list[float] = []
        group_due = self._next_group_due()
        if group_due is not None:
            times.append((group_due - now).total_seconds())
        retry_due = self.store.next_attempt(self._owned)
        if retry_due is not None:
            times.append(retry_due - now.timestamp())
        if self.dispatcher.wake_at is not None:
            times.append((self.dispatcher.wake_at - now).total_seconds())
        return max(0.0, min([timeout_s, *times]))

    def _guarded(self, work: Callable[[], int]) -> int:
        """If the delivery log refuses a transaction, the grouper is rebuilt from it, so that
        memory never runs ahead of what is durable."""
        try:
            return work()
        except AlertError:
            self._restore()
            raise

    # -- intake ------------------------------------------------------------------------------

    def _silences(self) -> SilenceMatcher:
        version = self.store.silences_version()
        if version != self._silence_version:
            self._silence_version = version
            self.matcher = SilenceMatcher([*self._settings_silences, *self.store.silences()])
        return self.matcher

    def _ingest_on_item_time(self, envelopes: list[Envelope[Development]]) -> int:
        """A replay: time is each development's own, and groups fall due between them as they
        would have live; when the input runs dry, time moves on to what is due next."""
        assert isinstance(self.clock, ItemClock)
        if not envelopes:
            due = [t for t in (self._next_group_due(), self.dispatcher.wake_at) if t]
            if due:
                self.clock.advance(min(due))
            return 0
        for envelope in envelopes:
            self.clock.advance(envelope.event.first_seen)
            self._guarded(self._flush_due)
            self._guarded(partial(self._ingest, [envelope]))
        return len(envelopes)

    def _ingest(self, envelopes: list[Envelope[Development]]) -> int:
        """Load what the batch's decisions depend on, decide (``alerts.intake``, pure), then
        apply the intents in one transaction."""
        now = self.clock()
        rules = Rules(self.router, self._silences(), lambda r: self.notifiers[r].channel)
        claims, stories = wanted(envelopes, self.router)
        loaded = Loaded(self.store.claimed(claims), self.store.told(stories))
        intents = decide(envelopes, loaded, rules, now)
        with self.store.tx() as db:
            for intent in intents:
                self._apply(db, intent, now)
        return len(envelopes)

    def _apply(self, db: sqlite3.Connection, intent: Intent, now: datetime) -> None:
        if isinstance(intent, Claim):
            self.store.claim(db, intent.receiver, intent.development_id, intent.status, at=now,
                             part=intent.part, note=intent.note)
        elif isinstance(intent, Record):
            self.ledger.add_outbox(intent.part, DELIVERIES, intent.record)
        else:
            state = self._grouper(intent.part).add(intent.key, intent.item, intent.timing,
                                                   intent.release)
            self.store.add_pending(db, intent.item, intent.key[2], intent.part)
            self.store.save_group(db, state, intent.part)

    # -- grouping → outbox -------------------------------------------------------------------

    def _flush_due(self) -> int:
        work = [(part, grouper, grouper.due(), grouper.expire())
                for part, grouper in self.groupers.items()]
        if not any(flushes or closed for _, _, flushes, closed in work):
            return 0
        now = self.clock()
        with self.store.tx() as db:
            for part, grouper, flushes, closed in work:
                for flush in flushes:
                    self._enqueue(db, flush, now, part)
                    self.store.save_group(db, grouper.groups[flush.key], part)
                for key in closed:
                    self.store.drop_group(db, key, part)
        return sum(len(flushes) for _, _, flushes, _ in work)

    def _enqueue(self, db: sqlite3.Connection, flush: Flush[PendingItem], now: datetime,
                 part: int) -> None:
        receiver, route, grp = flush.key
        devs = tuple({i.development.development_id: i.development for i in flush.items}.values())
        kind: NotificationKind = "alert"
        thread: tuple[str, ...] = ()
        if flush.digest:
            kind = "digest"
        elif grp.startswith(FOLLOW_UP):
            kind = "follow_up"
            thread = self.store.thread(receiver, grp[len(FOLLOW_UP):])
        n = make_notification(receiver=receiver, route=route, group=grp, kind=kind,
                              developments=devs, now=now, thread=thread,
                              domain=self._domains.get(receiver, "peacewatch.invalid"))
        self.store.enqueue(db, n, now, part)
        for story in dict.fromkeys(d.story_id for d in devs):
            self.store.extend_thread(db, receiver, story, n.message_id, part)

    # -- records of an older release ----------------------------------------------------------

    def _publish_legacy_records(self) -> None:
        """Records an older release left in its own outbox table: published once, then the
        table is dropped (they belong to no partition: published before any is owned)."""
        records = self.store.legacy_records()
        if records is None:
            return
        for record in records:
            self.publisher.publish(DELIVERIES, record)
        self.publisher.flush()
        self.store.drop_legacy_records()
        if records:
            self.log.info("published %d delivery record(s) left by an older release",
                          len(records))


def build(ctx: StageContext) -> list[Stage]:
    return [AlertStage(ctx, stage_clock(ctx.settings.daemon.clock))]
