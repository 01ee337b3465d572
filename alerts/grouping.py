"""Grouping in the manner of Prometheus Alertmanager, over an injected clock. Pure: no I/O.

For each group key (receiver, route, labels such as ``issue=black-sea``):

- the first development of a new group waits ``group_wait`` so that a burst goes out as one
  message;
- once a group has been notified, later developments wait until ``group_interval`` after the
  previous message, and go out together;
- a notified group stays open for ``repeat_interval``; after that without news it is closed
  (forgotten), and the next development starts a new group with ``group_wait`` again.
  Alertmanager re-sends still-firing alerts every ``repeat_interval``; a development is an event,
  not a state, and is never sent twice, so here the interval bounds how long a group lives.
- a digest group (quiet hours, digest-only routes) has a fixed release time instead.

State is plain data (``GroupState``) so the runner can persist it and restore it after a restart.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")
Clock = Callable[[], datetime]
GroupKey = tuple[str, str, str]  # receiver, route, labels


@dataclass(frozen=True, slots=True)
class Timing:
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta

    @classmethod
    def of_seconds(cls, wait: float, interval: float, repeat: float) -> Timing:
        return cls(timedelta(seconds=wait), timedelta(seconds=interval),
                   timedelta(seconds=repeat))


@dataclass(slots=True)
class GroupState(Generic[T]):
    key: GroupKey
    timing: Timing
    opened_at: datetime
    pending: list[T] = field(default_factory=list)
    last_flushed_at: datetime | None = None
    flush_at: datetime | None = None
    digest: bool = False


@dataclass(frozen=True, slots=True)
class Flush(Generic[T]):
    """A decision: send these items of this group as one message, now."""

    key: GroupKey
    items: tuple[T, ...]
    digest: bool
    at: datetime


class Grouper(Generic[T]):
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.groups: dict[GroupKey, GroupState[T]] = {}
        # (flush_at, seq, key) and (expires_at, seq, key); stale entries are skipped lazily.
        self._flush_heap: list[tuple[datetime, int, GroupKey]] = []
        self._expiry_heap: list[tuple[datetime, int, GroupKey]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self.groups)

    def add(self, key: GroupKey, item: T, timing: Timing,
            release_at: datetime | None = None) -> GroupState[T]:
        """Put ``item`` in its group; return the group's state (when it will be sent)."""
        now = self.clock()
        group = self.groups.get(key)
        if group is not None and self._expired(group, now):
            group = None
        if group is None:
            group = GroupState(key=key, timing=timing, opened_at=now)
            self.groups[key] = group
        group.timing = timing
        group.pending.append(item)
        if group.flush_at is None:
            if release_at is not None:
                group.flush_at, group.digest = release_at, True
            elif group.last_flushed_at is None:
                group.flush_at = now + timing.group_wait
            else:
                group.flush_at = max(now, group.last_flushed_at + timing.group_interval)
            self._push(self._flush_heap, group.flush_at, key)
        return group

    def due(self) -> list[Flush[T]]:
        """Every group whose time has come, emptied and marked notified now."""
        now = self.clock()
        out: list[Flush[T]] = []
        while self._flush_heap and self._flush_heap[0][0] <= now:
            at, _, key = heapq.heappop(self._flush_heap)
            group = self.groups.get(key)
            if group is None or group.flush_at != at or not group.pending:
                continue
            out.append(Flush(key, tuple(group.pending), group.digest, now))
            group.pending = []
            group.last_flushed_at, group.flush_at, group.digest = now, None, False
            self._push(self._expiry_heap, now + group.timing.repeat_interval, key)
        return out

    def expire(self) -> list[GroupKey]:
        """Close notified groups that had no news within their repeat interval."""
        now = self.clock()
        closed = []
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            _, _, key = heapq.heappop(self._expiry_heap)
            group = self.groups.get(key)
            if group is not None and self._expired(group, now):
                del self.groups[key]
                closed.append(key)
        return closed

    def next_due(self) -> datetime | None:
        """When ``due`` will next have something (None: nothing is pending)."""
        while self._flush_heap:
            at, _, key = self._flush_heap[0]
            group = self.groups.get(key)
            if group is not None and group.flush_at == at and group.pending:
                return at
            heapq.heappop(self._flush_heap)
        return None

    def restore(self, state: GroupState[T]) -> None:
        """Put back a group read from the delivery log after a restart."""
        self.groups[state.key] = state
        if state.flush_at is not None and state.pending:
            self._push(self._flush_heap, state.flush_at, state.key)
        elif state.last_flushed_at is not None:
            self._push(self._expiry_heap,
                       state.last_flushed_at + state.timing.repeat_interval, state.key)

    @staticmethod
    def _expired(group: GroupState[T], now: datetime) -> bool:
        return (not group.pending and group.last_flushed_at is not None
                and now >= group.last_flushed_at + group.timing.repeat_interval)

    def _push(self, heap: list[tuple[datetime, int, GroupKey]], at: datetime,
              key: GroupKey) -> None:
        self._seq += 1
        heapq.heappush(heap, (at, self._seq, key))
