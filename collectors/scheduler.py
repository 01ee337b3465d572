"""When feeds are due: an apscheduler job per feed, handing due feeds to the stage.

Each owned feed has one one-shot job (a ``DateTrigger`` at the feed's next poll time, which
``collectors.health.after_poll`` has already jittered and adapted). When it fires, the feed id is
queued; the stage takes due feeds in batches and polls them on its own event loop. A feed is
given a new job only when its poll is over, so one feed is never fetched twice at once; a feed
never polled before is due at once, which is the immediate first poll at start-up.

Jobs run inline on the scheduler's thread (``DebugExecutor``): all a job does is queue an id, so
no thread pool is needed even for 10,000 feeds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger


class FeedScheduler:
    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(
            executors={"default": DebugExecutor()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._due: dict[str, None] = {}
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._scheduled: set[str] = set()

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        with self._ready:
            self._ready.notify_all()

    def _fire(self, feed_id: str) -> None:
        with self._ready:
            self._scheduled.discard(feed_id)
            self._due[feed_id] = None
            self._ready.notify_all()

    def schedule(self, feed_id: str, at: float) -> None:
        """Poll ``feed_id`` at Unix time ``at`` (now, if that has passed); replaces a plan."""
        when = datetime.fromtimestamp(max(at, time.time()), UTC)
        with self._lock:
            self._scheduled.add(feed_id)
        self._scheduler.add_job(
            self._fire, DateTrigger(run_date=when, timezone=UTC), args=(feed_id,),
            id=feed_id, replace_existing=True,
        )

    def unschedule(self, feed_ids: Iterable[str]) -> None:
        for feed_id in feed_ids:
            with self._lock:
                self._scheduled.discard(feed_id)
                self._due.pop(feed_id, None)
            with contextlib.suppress(JobLookupError):  # fired already, or never planned
                self._scheduler.remove_job(feed_id)

    def scheduled(self, feed_id: str) -> bool:
        with self._lock:
            return feed_id in self._scheduled or feed_id in self._due

    def next_run(self, feed_id: str) -> float | None:
        job = self._scheduler.get_job(feed_id)
        if job is None or job.next_run_time is None:
            return None
        return float(job.next_run_time.timestamp())

    def take_due(self, limit: int, timeout_s: float) -> list[str]:
        """Up to ``limit`` due feed ids, waiting at most ``timeout_s`` for the first."""
        with self._ready:
            if not self._due and timeout_s > 0:
                self._ready.wait(timeout_s)
            taken = list(self._due)[:limit]
            for feed_id in taken:
                del self._due[feed_id]
            return taken

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()
