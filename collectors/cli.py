"""``peacewatch feeds ...``: look at and try out the feed list without running the daemon.

    peacewatch feeds validate [FILE ...]   check feed list files (default: the configured ones)
    peacewatch feeds health                each feed's last success, error, failures, next poll
    peacewatch feeds fetch URL             fetch and parse one feed now, print its items
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from collectors.feedlist import configured_feeds, load_feed_list
from collectors.fetch import FeedFetcher
from collectors.health import FeedHealth
from collectors.poller import FeedPoller
from collectors.safety import AddressPolicy
from collectors.state import CollectorState
from peacewatch.models import FeedSpec
from peacewatch.settings import Settings, load_settings
from peacewatch.stage import Subcommands


def register(subparsers: Subcommands) -> None:
    feeds = subparsers.add_parser("feeds", help="validate, inspect and try the feed list")
    sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    p = sub.add_parser("validate", help="check feed list files")
    p.add_argument("files", nargs="*", type=Path, help="default: collectors.feed_lists")
    p.set_defaults(func=_validate)
    p = sub.add_parser("health", help="each feed's health as the state file has it")
    p.set_defaults(func=_health)
    p = sub.add_parser("fetch", help="fetch and parse one feed now (nothing is published)")
    p.add_argument("url")
    p.set_defaults(func=_fetch)


def _settings(args: argparse.Namespace) -> Settings:
    config: Path | None = args.config
    return load_settings(config)


def _validate(args: argparse.Namespace) -> int:
    if args.files:
        total = 0
        for path in args.files:
            total += len(load_feed_list(path))  # ConfigError names the problem
            print(f"{path}: ok")
    else:
        settings = _settings(args)
        cfg = settings.collectors
        total = len(configured_feeds(cfg.feed_lists, cfg.feed_folders, settings.seeds_dir))
    print(f"{total} feeds, valid")
    return 0


def _when(ts: float | None) -> str:
    if ts is None or ts == float("inf"):
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _health(args: argparse.Namespace) -> int:
    settings = _settings(args)
    state = CollectorState(settings.path(settings.collectors.state_path),
                                   settings.bus.partitions)
    try:
        for h in sorted(state.health().values(), key=lambda h: h.feed_id):
            status = f"DISABLED ({h.disabled})" if h.disabled else (h.last_status or "never")
            print(f"{h.feed_id}\t{status}\tok {_when(h.last_success_at)}\t"
                  f"failures {h.failures}\tnext {_when(h.next_poll_at)}\t{h.last_error or ''}")
    finally:
        state.close()
    return 0


def _fetch(args: argparse.Namespace) -> int:
    cfg = _settings(args).collectors
    spec = FeedSpec(feed_id="cli", name=args.url, url=args.url)

    async def run() -> int:
        fetcher = FeedFetcher(cfg.http, AddressPolicy(cfg.allow_networks),
                              file_roots=tuple(cfg.feed_folders),
                              allow_any_file=cfg.allow_file_urls)
        try:
            result = await FeedPoller(fetcher).poll(
                spec, FeedHealth.new("cli", args.url, spec.interval_s))
        finally:
            await fetcher.aclose()
        print(f"{result.outcome.status} in {result.seconds:.2f}s"
              + (f": {result.outcome.error}" if result.outcome.error else ""))
        for item in result.items:
            when = item.published_at.isoformat() if item.published_at else "-"
            print(f"- {item.title}\n  {item.url or item.guid or ''}  {when}")
        return 0 if result.outcome.ok else 1

    return asyncio.run(run())
