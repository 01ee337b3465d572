"""Scheduling decisions: adaptive interval, backoff with jitter, Retry-After, 410, moves."""

from __future__ import annotations

import random

from collectors.health import FeedHealth, PollOutcome, adaptive_interval, after_poll, backoff_s
from peacewatch.settings.collectors import ScheduleSettings

POLICY = ScheduleSettings(min_interval_s=300, max_interval_s=21600, jitter=0.1,
                          backoff_base_s=60, backoff_max_s=86400)
NOW = 1_750_000_000.0
HEALTH = FeedHealth.new("f", "https://x.test/feed", 900)


def test_adaptive_interval_follows_the_publishing_rate_within_bounds():
    hourly = [NOW - 3600 * k for k in range(10)]
    assert adaptive_interval(hourly, NOW, 900, POLICY) == 1800
    every_minute = [NOW - 60 * k for k in range(10)]
    assert adaptive_interval(every_minute, NOW, 900, POLICY) == POLICY.min_interval_s
    weekly = [NOW - 7 * 86400 * k for k in range(5)]
    assert adaptive_interval(weekly, NOW, 900, POLICY) == POLICY.max_interval_s
    assert adaptive_interval([NOW], NOW, 900, POLICY) == 900  # too few dates: keep
    # An hourly feed that has been silent for 10 hours slows down.
    silent = [NOW - 36000 - 3600 * k for k in range(10)]
    assert adaptive_interval(silent, NOW, 900, POLICY) == 9000


def test_success_resets_failures_keeps_validators_and_jitters_the_next_poll():
    rng = random.Random(1)
    failing = after_poll(HEALTH, PollOutcome("timeout", ok=False, error="slow"), NOW, POLICY, rng)
    ok = after_poll(failing, PollOutcome("200", ok=True, etag='"e"', last_modified="lm",
                                         entry_times=tuple(NOW - 3600 * k for k in range(5))),
                    NOW, POLICY, rng)
    assert ok.failures == 0 and ok.etag == '"e"' and ok.last_success_at == NOW
    assert ok.interval_s == 1800 and 1620 <= ok.next_poll_at - NOW <= 1980
    not_modified = after_poll(ok, PollOutcome("304", ok=True), NOW, POLICY, rng)
    assert not_modified.etag == '"e"' and not_modified.last_modified == "lm"
    assert not_modified.interval_s == 1800


def test_failures_back_off_exponentially_with_jitter_and_cap():
    rng = random.Random(2)
    waits = [backoff_s(n, POLICY, rng) for n in range(1, 6)]
    for n, wait in enumerate(waits, start=1):
        base = 60 * 2 ** (n - 1)
        assert 0.75 * base <= wait <= 1.25 * base
    assert backoff_s(40, POLICY, rng) == POLICY.backoff_max_s
    assert len({round(backoff_s(3, POLICY, random.Random(s))) for s in range(20)}) > 5


def test_retry_after_wins_over_a_shorter_backoff_within_the_cap():
    rng = random.Random(3)
    busy = after_poll(HEALTH, PollOutcome("http_429", ok=False, retry_after_s=3600), NOW,
                      POLICY, rng)
    assert busy.next_poll_at == NOW + 3600 and busy.failures == 1
    absurd = after_poll(HEALTH, PollOutcome("http_503", ok=False, retry_after_s=1e9), NOW,
                        POLICY, rng)
    assert absurd.next_poll_at == NOW + POLICY.backoff_max_s


def test_gone_disables_and_moved_updates_the_url():
    rng = random.Random(4)
    gone = after_poll(HEALTH, PollOutcome("http_410", ok=False, gone=True, error="HTTP 410"),
                      NOW, POLICY, rng)
    assert gone.disabled == "HTTP 410" and gone.next_poll_at == float("inf")
    moved = after_poll(HEALTH, PollOutcome("200", ok=True, moved_to="https://y.test/feed"),
                       NOW, POLICY, rng)
    assert moved.url == "https://y.test/feed" and moved.spec_url == HEALTH.spec_url
    # An edited feed list URL starts the feed afresh; the same URL keeps what was learnt.
    assert moved.for_spec(HEALTH.spec_url, 900) is moved
    fresh = moved.for_spec("https://z.test/feed", 900)
    assert fresh.url == "https://z.test/feed" and fresh.etag is None
