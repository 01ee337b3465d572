"""Quiet hours and digest release times, in the route's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from alerts.schedule import release_at
from peacewatch.settings.alerts import Grouping, QuietHours


def policy(**kw: object) -> Grouping:
    return Grouping.model_validate(kw)


def at(h: int, m: int = 0, day: int = 1) -> datetime:
    return datetime(2025, 4, day, h, m, tzinfo=UTC)


def test_outside_quiet_hours_nothing_is_held() -> None:
    p = policy(quiet_hours={"start": "22:00", "end": "07:00"})
    assert release_at(p, at(12)) is None
    assert release_at(p, at(7)) is None
    assert release_at(p, at(21, 59)) is None


def test_quiet_hours_across_midnight_hold_until_their_end() -> None:
    p = policy(quiet_hours={"start": "22:00", "end": "07:00"})
    assert release_at(p, at(22)) == at(7, day=2)
    assert release_at(p, at(23, 30)) == at(7, day=2)
    assert release_at(p, at(3)) == at(7)


def test_quiet_hours_follow_the_route_timezone() -> None:
    # 12:00 UTC is 15:00 in Kyiv (UTC+3 in April): inside 13:00-16:00 local.
    p = policy(quiet_hours={"start": "13:00", "end": "16:00"}, timezone="Europe/Kyiv")
    release = release_at(p, at(12))
    assert release is not None and release.astimezone(UTC) == at(13)


def test_digest_only_routes() -> None:
    assert release_at(policy(digest="hourly"), at(12, 17)) == at(13)
    assert release_at(policy(digest="daily", digest_at="08:00"), at(12)) == at(8, day=2)
    assert release_at(policy(digest="daily", digest_at="08:00"), at(7, 59)) == at(8)


def test_same_start_and_end_is_refused() -> None:
    with pytest.raises(ValidationError, match="same time"):
        QuietHours(start=time(1), end=time(1))
