"""The processors' side of a watchlist trial: pure, found by name through the core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from peacewatch.identity import content_hash
from peacewatch.models import RawItem
from peacewatch.settings import load_settings
from peacewatch.trial import watchlist_trial

WATCHLIST = Path(__file__).resolve().parents[2] / "seeds" / "watchlist.toml"


def item(n: int, title: str, hours: float) -> RawItem:
    at = datetime(2022, 7, 22, 9, tzinfo=UTC) + timedelta(hours=hours)
    return RawItem(item_id=f"i{n}", source=f"outlet-{n}", url=f"https://n.example/{n}",
                   title=title, published_at=at, fetched_at=at,
                   content_hash=content_hash(title, "", ""))


def test_developments_of_a_watchlist_without_a_bus() -> None:
    trial = watchlist_trial()
    items = [item(1, "Russia and Ukraine sign deal to resume grain exports from Black Sea "
                     "ports", 0),
             item(2, "Russia and Ukraine sign deal to resume grain exports from Black Sea "
                     "ports", 1),  # an exact copy under another id: no second development
             item(3, "Weather: sunny spells across Europe", 2)]
    devs = trial.developments(load_settings(None), WATCHLIST, items)
    assert [(d.issue_id, d.action, d.item_ids[-1]) for d in devs] == [
        ("black-sea", "signed", "i1")]
    assert devs[0].parties == ("russia", "ukraine")
    # The same items, the same decisions: replays are comparable.
    assert trial.developments(load_settings(None), WATCHLIST, items) == devs
