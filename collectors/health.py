"""Feed health and when to poll next: pure decisions over a poll's outcome.

``after_poll(health, outcome, now, policy, rng)`` is the whole policy: a success resets the
failure count and picks the next poll from the feed's adaptive interval; a failure backs off
exponentially with jitter, but never sooner than a server's ``Retry-After``; 410 Gone disables
the feed; a permanent redirect moves the stored URL. No I/O here, so every rule has a unit test.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from peacewatch.settings.collectors import ScheduleSettings


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What the collector knows about one feed; persisted in the state store."""

    feed_id: str
    # The URL the feed list gives, and the one polled (they differ after a permanent redirect).
    spec_url: str
    url: str
    interval_s: float
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0
    # Unix time of the next poll; 0 means "as soon as possible".
    next_poll_at: float = 0.0
    # Set when the feed must not be polled again (410 Gone); the reason.
    disabled: str | None = None
    last_status: str | None = None

    @classmethod
    def new(cls, feed_id: str, url: str, interval_s: float) -> FeedHealth:
        return cls(feed_id=feed_id, spec_url=url, url=url, interval_s=interval_s)

    def for_spec(self, url: str, interval_s: float) -> FeedHealth:
        """This health under a (possibly edited) feed list entry.

        An edited URL starts afresh: the old validators and any redirect override belong to the
        old URL. A re-enabled feed with the same URL keeps its validators.
        """
        if url != self.spec_url:
            return FeedHealth.new(self.feed_id, url, interval_s)
        return self


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll came to, as far as scheduling cares."""

    status: str  # "200", "304", or an error kind ("timeout", "http_429", ...)
    ok: bool
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after_s: float | None = None
    gone: bool = False
    # Set when every redirect on the way was permanent (301/308): the feed's new URL.
    moved_to: str | None = None
    # Publication times of the entries seen (Unix), for the adaptive interval.
    entry_times: tuple[float, ...] = ()


def jittered(delay_s: float, jitter: float, rng: random.Random) -> float:
    """``delay_s`` moved by up to ``jitter`` of itself, either way."""
    return max(0.0, delay_s * (1.0 + rng.uniform(-jitter, jitter)))


def adaptive_interval(
    entry_times: Sequence[float], now: float, current_s: float, policy: ScheduleSettings
) -> float:
    """How often to poll a feed, from how often it publishes.

    Half the median gap between its recent entries (so a new entry waits on average a quarter
    of a gap), bounded by the policy. A feed with fewer than three dated entries keeps its
    current interval.
    """
    recent = sorted((t for t in entry_times if t <= now + 3600), reverse=True)[:20]
    if len(recent) < 3:
        return min(max(current_s, policy.min_interval_s), policy.max_interval_s)
    gaps = [a - b for a, b in itertools.pairwise(recent) if a > b]
    if not gaps:
        return min(max(current_s, policy.min_interval_s), policy.max_interval_s)
    # A feed quiet for longer than its usual gap is slowing down: count the silence too.
    gap = max(statistics.median(gaps), (now - recent[0]) / 2)
    return min(max(gap / 2, policy.min_interval_s), policy.max_interval_s)


def backoff_s(failures: int, policy: ScheduleSettings, rng: random.Random) -> float:
    """Exponential backoff with jitter for the n-th consecutive failure (n >= 1)."""
    base = policy.backoff_base_s * 2.0 ** min(max(failures - 1, 0), 30)
    return min(jittered(base, max(policy.jitter, 0.25), rng), policy.backoff_max_s)


def after_poll(
    health: FeedHealth,
    outcome: PollOutcome,
    now: float,
    policy: ScheduleSettings,
    rng: random.Random,
) -> FeedHealth:
    """The feed's health once this poll is done: what to remember and when to poll next."""
    url = outcome.moved_to or health.url
    if outcome.gone:
        return replace(
            health, url=url, last_error=outcome.error or "410 Gone", last_error_at=now,
            failures=health.failures + 1, disabled=outcome.error or "410 Gone",
            last_status=outcome.status, next_poll_at=float("inf"),
        )
    if outcome.ok:
        interval = adaptive_interval(outcome.entry_times, now, health.interval_s, policy) \
            if outcome.status == "200" else health.interval_s
        interval = min(max(interval, policy.min_interval_s), policy.max_interval_s)
        wait = jittered(interval, policy.jitter, rng)
        if outcome.retry_after_s:
            wait = max(wait, outcome.retry_after_s)
        return replace(
            health, url=url,
            etag=outcome.etag if outcome.etag is not None else health.etag,
            last_modified=(outcome.last_modified if outcome.last_modified is not None
                           else health.last_modified),
            last_success_at=now, failures=0, interval_s=interval, next_poll_at=now + wait,
            last_status=outcome.status,
        )
    failures = health.failures + 1
    wait = backoff_s(failures, policy, rng)
    if outcome.retry_after_s is not None:
        # The server said when; that wins over our guess, within the backoff cap.
        wait = min(max(wait, outcome.retry_after_s), policy.backoff_max_s)
    return replace(
        health, url=url, last_error=outcome.error or outcome.status, last_error_at=now,
        failures=failures, next_poll_at=now + wait, last_status=outcome.status,
    )
