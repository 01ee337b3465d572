"""``peacewatch record``, ``peacewatch feedback`` and ``peacewatch replay``.

record rebuild    empty the record's projection and read the topics again from the start
record migrate    run the record's migrations and say which version it is at
feedback export   the items analysts judged, as labelled JSON Lines (the corpus format)
replay            the record's items through a changed watchlist, without alerting
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from desk.feedback import export_lines
from desk.record import rebuild
from desk.replay import format_result, replay_watchlist
from desk.store.migrations import schema_version
from desk.store.open import open_record
from peacewatch.bus import open_bus
from peacewatch.errors import ConfigError, PeacewatchError
from peacewatch.logs import setup_logging
from peacewatch.metrics import Metrics
from peacewatch.settings import load_settings
from peacewatch.stage import Subcommands


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("record", help="the desk's record: rebuild it, or migrate it")
    sub = p.add_subparsers(dest="record_command", required=True, metavar="ACTION")
    r = sub.add_parser("rebuild", help="rebuild the record from what the topics retain "
                       "(feedback and replays are kept)")
    r.add_argument("--timeout", type=float, default=3600.0,
                   help="give up after this many seconds (default 3600)")
    r.set_defaults(func=_rebuild)
    m = sub.add_parser("migrate", help="run the record's schema migrations")
    m.set_defaults(func=_migrate)

    p = subparsers.add_parser("feedback", help="feedback on developments: export it")
    sub = p.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    x = sub.add_parser("export", help="the judged items as labelled JSON Lines (corpus format)")
    x.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    x.set_defaults(func=_export)

    p = subparsers.add_parser(
        "replay", help="try a changed watchlist on the record's items, without alerting",
        description="Judge the record's items with the current watchlist and with NEW, and "
        "print the developments the change adds and removes, per issue (the page shows them "
        "too).")
    p.add_argument("--watchlist", type=Path, required=True, metavar="NEW.toml")
    p.add_argument("--since", metavar="DATE", help="only items from this date (YYYY-MM-DD)")
    p.add_argument("--no-save", action="store_true", help="do not keep the result in the record")
    p.set_defaults(func=_replay)


def _rebuild(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    setup_logging(settings.logging.level, settings.logging.json_format)
    metrics = Metrics()
    events = open_bus(settings, metrics)
    try:
        written = rebuild(settings, events, metrics, timeout_s=args.timeout)
    finally:
        events.close()
    print(f"record rebuilt: {written} message(s) written")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    store = open_record(load_settings(args.config))
    try:
        print(f"record {store.db.describe()}: schema version {schema_version(store.db)}"
              + (f" (applied now: {store.applied})" if store.applied else ""))
    finally:
        store.close()
    return 0


def _export(args: argparse.Namespace) -> int:
    store = open_record(load_settings(args.config))
    try:
        lines = list(export_lines(store))
    finally:
        store.close()
    text = "".join(line + "\n" for line in lines)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"{len(lines)} labelled item(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since {value!r}: not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _replay(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    if not args.watchlist.is_file():
        raise PeacewatchError(f"watchlist {args.watchlist} does not exist")
    since = _since(args.since)
    store = open_record(settings)
    try:
        items, result = replay_watchlist(settings, store, args.watchlist, since)
        if not args.no_save:
            store.save_replay(str(args.watchlist), since, items, result)
    finally:
        store.close()
    out: list[str] = []
    format_result(items, result, out)
    print("\n".join(out))
    return 0
