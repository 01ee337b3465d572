"""One poll of one feed: fetch, parse, turn entries into items - always ending in a result.

``FeedPoller.poll`` never raises for anything a feed or its server does: a bad status, a refused
address, a body too large or unreadable, a document with no entries - each is a ``PollResult``
with an error, recorded in feed health by the stage. ``poll_many`` runs many polls concurrently
(the fetcher's global and per-host limits apply).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from collectors.entries import ParsedFeed, entry_times, feed_items
from collectors.fetch import FeedFetcher, Fetched, FetchFailed, FetchRequest, NotModified
from collectors.health import FeedHealth, PollOutcome
from collectors.parsing import parse_feed
from peacewatch.models import FeedSpec, RawItem, utcnow

log = logging.getLogger("peacewatch.collectors.poller")

Parser = Callable[[bytes, Mapping[str, str], str], ParsedFeed]


@dataclass(frozen=True, slots=True)
class PollResult:
    spec: FeedSpec
    outcome: PollOutcome
    items: list[RawItem] = field(default_factory=list)
    entry_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # feedparser's complaint about a document it could still read (not a failure).
    problem: str | None = None


def outcome_of_parse(fetched: Fetched, parsed: ParsedFeed) -> PollOutcome:
    """A fetched body that yields no entries and was not a well-formed feed is an error."""
    if not parsed.entries and parsed.problem and not parsed.version:
        return PollOutcome(status="parse", ok=False, error=f"not a feed: {parsed.problem}",
                           etag=fetched.etag, last_modified=fetched.last_modified,
                           moved_to=fetched.moved_to)
    return PollOutcome(status="200", ok=True, etag=fetched.etag,
                       last_modified=fetched.last_modified, moved_to=fetched.moved_to,
                       entry_times=entry_times(parsed.entries))


class FeedPoller:
    def __init__(self, fetcher: FeedFetcher, parser: Parser = parse_feed) -> None:
        self.fetcher = fetcher
        self.parser = parser

    async def poll(self, spec: FeedSpec, health: FeedHealth) -> PollResult:
        started = time.monotonic()
        request = FetchRequest(health.url, health.etag, health.last_modified)
        result = await self.fetcher.fetch(request)
        if isinstance(result, FetchFailed):
            outcome = PollOutcome(status=result.kind, ok=False, error=result.error,
                                  retry_after_s=result.retry_after_s, gone=result.gone,
                                  moved_to=result.moved_to)
            return PollResult(spec, outcome, seconds=time.monotonic() - started)
        if isinstance(result, NotModified):
            outcome = PollOutcome(status="304", ok=True, etag=result.etag,
                                  last_modified=result.last_modified, moved_to=result.moved_to)
            return PollResult(spec, outcome, seconds=time.monotonic() - started)
        try:
            parsed = self.parser(result.body, result.headers, result.url)
        except Exception as exc:
            log.exception("feed %s: the parser failed", spec.feed_id)
            outcome = PollOutcome(status="parse", ok=False,
                                  error=f"parser failed: {type(exc).__name__}: {exc}")
            return PollResult(spec, outcome, seconds=time.monotonic() - started)
        items, errors = feed_items(spec, result.url, parsed, utcnow())
        return PollResult(spec, outcome_of_parse(result, parsed), items, errors,
                          time.monotonic() - started, parsed.problem)

    async def poll_many(
        self, due: Sequence[tuple[FeedSpec, FeedHealth]]
    ) -> list[PollResult]:
        return list(await asyncio.gather(*(self.poll(spec, health) for spec, health in due)))
