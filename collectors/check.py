"""``peacewatch check`` for the collectors: feed lists, document folders, the state file."""

from __future__ import annotations

from collectors.feedlist import configured_feeds
from collectors.state import CollectorState
from peacewatch.errors import PeacewatchError
from peacewatch.settings import Settings


def check(settings: Settings) -> int:
    """Print one line per check; return the number that failed."""
    cfg = settings.collectors
    failures = 0
    try:
        feeds = configured_feeds(cfg.feed_lists, cfg.feed_folders, settings.seeds_dir)
        enabled = sum(1 for f in feeds if f.enabled)
        print(f"collectors: feed lists ok ({len(feeds)} feeds, {enabled} enabled)")
    except PeacewatchError as exc:
        print(f"collectors: feed lists FAILED: {exc}")
        failures += 1
    for folder in dict.fromkeys([*cfg.documents, *cfg.baseline_documents]):
        if folder.is_dir():
            print(f"collectors: document folder {folder} ok")
        else:
            # A warning, not a failure: the stage starts without it and picks it up later.
            print(f"collectors: document folder {folder} does not exist (warning)")
    try:
        state = CollectorState(settings.path(cfg.state_path), settings.bus.partitions)
        print(f"collectors: state {state.path} ok ({state.published_count()} items published)")
        state.close()
    except PeacewatchError as exc:
        print(f"collectors: state FAILED: {exc}")
        failures += 1
    return failures
