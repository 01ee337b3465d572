"""Every Prometheus metric peacewatch exports, defined once, on a registry the caller passes.

Tests build ``Metrics(CollectorRegistry())`` and read values back; the daemon uses one registry per
process and serves it on the metrics port. Label values are bounded sets (outcome kinds, issue
ids, receiver names, topic names, stage names), never per-item or per-URL values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from peacewatch import __version__

# Feed polls take 10 ms to tens of seconds; notifications up to minutes after first sight.
_FETCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    """The metric objects, as attributes; names are documented in the README."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.build_info = Info("peacewatch_build", "peacewatch version", registry=r)
        self.build_info.info({"version": __version__})

        # collectors
        self.feed_polls = Counter(
            "peacewatch_feed_polls", "Feed polls by outcome (200, 304, or an error kind).",
            ["outcome"], registry=r)
        self.feed_fetch_seconds = Histogram(
            "peacewatch_feed_fetch_seconds", "Time to fetch and parse one feed.",
            buckets=_FETCH_BUCKETS, registry=r)
        self.items_ingested = Counter(
            "peacewatch_items_ingested", "Items published to the raw topic, by kind.",
            ["kind"], registry=r)
        self.last_successful_poll = Gauge(
            "peacewatch_last_successful_poll_timestamp_seconds",
            "Unix time of the last feed poll that succeeded.", registry=r)
        self.feeds_active = Gauge(
            "peacewatch_feeds_active", "Feeds this collector polls.", registry=r)

        # processors
        self.items_processed = Counter(
            "peacewatch_items_processed", "Raw items the processors handled.", registry=r)
        self.duplicates = Counter(
            "peacewatch_duplicates", "Items recognised as copies, by kind (exact, near).",
            ["kind"], registry=r)
        self.items_per_issue = Counter(
            "peacewatch_items_classified", "Items labelled with a tracked issue.",
            ["issue"], registry=r)
        self.developments = Counter(
            "peacewatch_developments", "Developments detected, by issue and severity.",
            ["issue", "severity"], registry=r)

        # alerts
        self.notifications_sent = Counter(
            "peacewatch_notifications_sent", "Notifications delivered, by receiver.",
            ["receiver"], registry=r)
        self.notifications_failed = Counter(
            "peacewatch_notifications_failed",
            "Notification attempts that failed, by receiver and kind (transient, permanent).",
            ["receiver", "kind"], registry=r)
        self.end_to_end_latency = Histogram(
            "peacewatch_end_to_end_latency_seconds",
            "From an item's first fetch to the notification about it being sent.",
            buckets=_LATENCY_BUCKETS, registry=r)

        # desk: the record, the page and API, feedback
        self.record_messages = Counter(
            "peacewatch_record_messages", "Messages written into the record, by topic.",
            ["topic"], registry=r)
        self.desk_requests = Counter(
            "peacewatch_desk_requests", "Requests to the desk's page and API, by route and "
            "status code.", ["route", "code"], registry=r)
        self.feedback = Counter(
            "peacewatch_feedback", "Feedback given on developments, by verdict.",
            ["verdict"], registry=r)
        self.feedback_precision = Gauge(
            "peacewatch_feedback_precision",
            "Per issue, the share of developments with feedback that were judged useful "
            "(the latest verdict per development).", ["issue"], registry=r)

        # bus, every stage
        self.dead_letters = Counter(
            "peacewatch_dead_letters", "Messages moved to the dead-letter topic, by origin topic.",
            ["topic"], registry=r)
        self.consumer_lag = Gauge(
            "peacewatch_consumer_lag_messages",
            "Messages not yet committed by a stage's consumer group.",
            ["stage", "topic", "partition"], registry=r)
        self.stage_up = Gauge(
            "peacewatch_stage_up",
            "1 while a stage runs and its steps succeed on a bus that is up.",
            ["stage"], registry=r)
        self.bus_up = Gauge(
            "peacewatch_bus_up",
            "1 while this process can use the event bus; 0 while it waits for it to come back.",
            registry=r)
