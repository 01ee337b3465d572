"""``peacewatch silence add|list|remove``: mute an issue, a source or a keyword for a while.

Silences added here live in the delivery log, next to the alerter's state; the running alerter
picks them up at its next step (no restart). Silences from settings are listed too.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta

from alerts.silencing import ActiveSilence, from_settings
from alerts.store import DeliveryLog
from peacewatch.errors import ConfigError
from peacewatch.models import utcnow
from peacewatch.settings import load_settings
from peacewatch.stage import Subcommands

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1.5d``, ``1w``."""
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"duration {text!r}: use a number and s, m, h, d or w (e.g. 2h)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"time {text!r}: use ISO 8601, e.g. 2025-04-01T18:00+00:00") from exc
    if value.tzinfo is None:
        raise ConfigError(f"time {text!r}: give a UTC offset, e.g. +00:00")
    return value


def _open_log(args: argparse.Namespace) -> tuple[DeliveryLog, list[ActiveSilence]]:
    settings = load_settings(args.config)
    store = DeliveryLog(settings.path(settings.alerts.state_path))
    return store, from_settings(settings.alerts.silences)


def _add(args: argparse.Namespace) -> int:
    if not (args.issue or args.source or args.keyword):
        raise ConfigError("silence add: give --issue, --source or --keyword")
    now = utcnow()
    starts = parse_time(args.start) if args.start else now
    if args.until:
        ends: datetime | None = parse_time(args.until)
    elif args.duration:
        ends = starts + parse_duration(args.duration)
    else:
        ends = None
    if ends is not None and ends <= starts:
        raise ConfigError("silence add: the silence would end before it starts")
    store, _ = _open_log(args)
    try:
        silence = store.add_silence(
            ActiveSilence("", args.issue, args.source, args.keyword, starts, ends,
                          args.comment or ""), now)
    finally:
        store.close()
    until = ends.isoformat(timespec="minutes") if ends else "removed"
    print(f"silence {silence.silence_id}: {silence.describe()} until {until}")
    return 0


def _list(args: argparse.Namespace) -> int:
    store, configured = _open_log(args)
    try:
        silences = [*configured, *store.silences()]
    finally:
        store.close()
    now = utcnow()
    shown = 0
    for s in silences:
        active = s.active(now)
        if not active and not args.all:
            continue
        ends = s.ends_at.isoformat(timespec="minutes") if s.ends_at else "never"
        state = "active" if active else ("pending" if s.starts_at and now < s.starts_at
                                         else "expired")
        comment = f"  # {s.comment}" if s.comment else ""
        print(f"{s.silence_id}\t{state}\t{s.describe()}\tuntil {ends}{comment}")
        shown += 1
    if not shown:
        print("no silences" if args.all else "no active silences")
    return 0


def _remove(args: argparse.Namespace) -> int:
    if args.silence_id.startswith("settings-"):
        raise ConfigError(f"silence {args.silence_id} comes from settings; edit the file")
    store, _ = _open_log(args)
    try:
        removed = store.remove_silence(args.silence_id)
    finally:
        store.close()
    if not removed:
        print(f"no silence {args.silence_id}")
        return 1
    print(f"silence {args.silence_id} removed")
    return 0


def register(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "silence", help="mute alerts for an issue, a source or a keyword for a while",
        description="Silenced developments are recorded (status 'silenced'), not notified.")
    sub = parser.add_subparsers(dest="silence_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add a silence (every matcher given must match)")
    add.add_argument("--issue", help="a tracked issue id")
    add.add_argument("--source", help="a source name (as in a development's sources)")
    add.add_argument("--keyword", help="a word or phrase in the headline or evidence")
    when = add.add_mutually_exclusive_group()
    when.add_argument("--for", dest="duration", metavar="DURATION",
                      help="how long, e.g. 90m, 2h, 1d (default: until removed)")
    when.add_argument("--until", help="end time, ISO 8601 with offset")
    add.add_argument("--start", help="start time, ISO 8601 with offset (default: now)")
    add.add_argument("--comment", help="why")
    add.set_defaults(func=_add)
    ls = sub.add_parser("list", help="list silences")
    ls.add_argument("--all", action="store_true", help="include expired and future ones")
    ls.set_defaults(func=_list)
    rm = sub.add_parser("remove", help="remove a silence by id")
    rm.add_argument("silence_id")
    rm.set_defaults(func=_remove)
