"""Quiet hours and digests: when a route holds developments back, and until when. Pure."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from peacewatch.settings.alerts import Grouping, QuietHours


def in_quiet_hours(quiet: QuietHours, local: time) -> bool:
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # the window crosses midnight


def _next_local(now_local: datetime, at: time) -> datetime:
    """The first moment after ``now_local`` whose local time is ``at``."""
    candidate = datetime.combine(now_local.date(), at, tzinfo=now_local.tzinfo)
    if candidate <= now_local:
        candidate = datetime.combine(now_local.date() + timedelta(days=1), at,
                                     tzinfo=now_local.tzinfo)
    return candidate


def release_at(policy: Grouping, now: datetime) -> datetime | None:
    """None: send as grouped now. A time: hold for one digest sent then (end of quiet hours,
    the next top of the hour, or the next daily digest time)."""
    zone = ZoneInfo(policy.timezone)
    local = now.astimezone(zone)
    quiet = policy.quiet_hours
    if quiet is not None and in_quiet_hours(quiet, local.timetz().replace(tzinfo=None)):
        return _next_local(local, quiet.end)
    if policy.digest == "hourly":
        return (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    if policy.digest == "daily":
        return _next_local(local, policy.digest_at)
    return None
