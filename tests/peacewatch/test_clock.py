from __future__ import annotations

from datetime import UTC, datetime, timedelta

from peacewatch.clock import ItemClock, stage_clock
from peacewatch.models import utcnow

T = datetime(2022, 3, 1, tzinfo=UTC)


def test_item_time_only_moves_forward() -> None:
    clock = ItemClock()
    assert abs(clock() - utcnow()) < timedelta(seconds=5)  # before any item: the wall's
    clock.advance(T)
    clock.advance(T - timedelta(days=1))  # an older item does not take time back
    assert clock() == T
    clock.advance(T + timedelta(hours=1))
    assert clock() == T + timedelta(hours=1)


def test_the_setting_picks_the_clock() -> None:
    assert stage_clock("wall") is utcnow
    assert isinstance(stage_clock("item"), ItemClock)
