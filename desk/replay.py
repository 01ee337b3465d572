"""``peacewatch replay --watchlist NEW.toml [--since DATE]``: the record's items through a
changed watchlist, without alerting anyone.

Both the current watchlist and the new one judge the same items the same way (the processors'
pure steps, through ``peacewatch.trial``); the developments one makes and the other does not are
the change, per issue. The result is printed and kept in the record, where the page shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from desk.store.db import Row
from desk.store.record import RecordStore
from peacewatch.models import Development, RawItem
from peacewatch.settings import Settings
from peacewatch.trial import watchlist_trial


def raw_item(row: Row) -> RawItem:
    """An item of the record as the collector published it."""
    (_, item_id, source, source_kind, source_class, url, canonical_url, title, summary, content,
     language, published_at, fetched_at, _at, content_hash, revision, baseline, _kind,
     _dup) = row

    def time(value: float | None) -> datetime | None:
        return datetime.fromtimestamp(value, UTC) if value is not None else None

    return RawItem(item_id=item_id, source=source, source_kind=source_kind,
                   source_class=source_class, url=url, canonical_url=canonical_url, title=title,
                   summary=summary, content=content, language=language,
                   published_at=time(published_at), fetched_at=time(fetched_at),
                   content_hash=content_hash, revision=revision, baseline=bool(baseline))


def compare(before: Sequence[Development], after: Sequence[Development]) -> dict[str, Any]:
    """Per issue, the developments only ``after`` has (added) and only ``before`` has."""
    old = {(d.issue_id, d.development_id): d for d in before if not d.baseline}
    new = {(d.issue_id, d.development_id): d for d in after if not d.baseline}
    issues: dict[str, dict[str, list[str]]] = {}
    for key in sorted(new.keys() - old.keys(), key=lambda k: (k[0], new[k].first_seen)):
        issues.setdefault(key[0], {"added": [], "removed": []})["added"].append(
            f"{new[key].first_seen:%Y-%m-%d} {new[key].headline}")
    for key in sorted(old.keys() - new.keys(), key=lambda k: (k[0], old[k].first_seen)):
        issues.setdefault(key[0], {"added": [], "removed": []})["removed"].append(
            f"{old[key].first_seen:%Y-%m-%d} {old[key].headline}")
    return {"before": len(old), "after": len(new), "issues": issues}


def replay_watchlist(settings: Settings, store: RecordStore, watchlist: Path,
                     since: float | None) -> tuple[int, dict[str, Any]]:
    items = [raw_item(r) for r in store.item_times(since)]
    trial = watchlist_trial()
    current = settings.processors.watchlist or settings.seeds_dir / "watchlist.toml"
    result = compare(trial.developments(settings, current, items),
                     trial.developments(settings, watchlist, items))
    return len(items), result


def format_result(items: int, result: dict[str, Any], out: list[str]) -> None:
    out.append(f"{items} item(s) replayed; developments: {result['before']} with the current "
               f"watchlist, {result['after']} with the new one")
    if not result["issues"]:
        out.append("no development added or removed")
    for issue, change in sorted(result["issues"].items()):
        out.append(f"{issue}: +{len(change['added'])} -{len(change['removed'])}")
        out.extend(f"  + {h}" for h in change["added"])
        out.extend(f"  - {h}" for h in change["removed"])
