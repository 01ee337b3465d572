"""Delivery pacing and retry backoff. Pure: times are passed in, randomness is injected."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(slots=True)
class Pace:
    """A token bucket per receiver: ``rate`` messages/s on average, ``burst`` back to back.

    ``blocked_until`` is set by a 429's Retry-After and wins over the bucket.
    """

    rate: float
    burst: int
    tokens: float = 0.0
    updated: datetime | None = None
    blocked_until: datetime | None = None

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def _refill(self, now: datetime) -> None:
        if self.updated is not None and self.rate > 0:
            elapsed = max(0.0, (now - self.updated).total_seconds())
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now

    def ready_at(self, now: datetime) -> datetime:
        """The earliest time a message may go (``now`` when one may go at once)."""
        at = now
        if self.blocked_until is not None and self.blocked_until > now:
            at = self.blocked_until
        if self.rate <= 0:
            return at
        self._refill(now)
        if self.tokens >= 1.0:
            return at
        return max(at, now + timedelta(seconds=(1.0 - self.tokens) / self.rate))

    def take(self, now: datetime) -> None:
        if self.rate <= 0:
            return
        self._refill(now)
        self.tokens -= 1.0

    def block(self, until: datetime) -> None:
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until
        # After a 429 the bucket starts empty, so the next messages go one at a time.
        self.tokens = min(self.tokens, 0.0)


def backoff_s(attempt: int, base_s: float, max_s: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with jitter: attempt 1 waits about ``base_s``, doubling, capped."""
    ceiling: float = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return float(ceiling * (0.5 + 0.5 * rand()))
