"""FeedFetcher against a real HTTP server on 127.0.0.1: manners, limits and refusals."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import ipaddress
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from collectors_testkit import FeedServer, Route, Seen, rss

from collectors.fetch import (
    FeedFetcher,
    Fetched,
    FetchFailed,
    FetchRequest,
    FetchResult,
    NotModified,
    parse_retry_after,
)
from collectors.safety import AddressPolicy
from peacewatch.settings.collectors import HttpSettings

LOOPBACK = AddressPolicy([__import__("ipaddress").ip_network("127.0.0.1/32")])
FEED = rss([{"title": "One", "guid": "1"}])


def run(coro_fn: Callable[[FeedFetcher], Awaitable[Any]], policy: AddressPolicy = LOOPBACK,
        **http: Any) -> Any:
    async def main() -> Any:
        fetcher = FeedFetcher(HttpSettings(**http), policy)
        try:
            return await coro_fn(fetcher)
        finally:
            await fetcher.aclose()

    return asyncio.run(main())


def fetch(url: str, policy: AddressPolicy = LOOPBACK, etag: str | None = None,
          last_modified: str | None = None, **http: Any) -> FetchResult:
    return run(lambda f: f.fetch(FetchRequest(url, etag, last_modified)), policy, **http)


def test_conditional_get_304_and_honest_user_agent(feed_server: FeedServer):
    lm = "Tue, 01 Apr 2025 12:00:00 GMT"
    feed_server.routes["/f"] = Route(body=FEED, etag='"v1"', headers={"Last-Modified": lm})
    first = fetch(feed_server.url("/f"))
    assert isinstance(first, Fetched) and first.body == FEED
    assert first.etag == '"v1"' and first.last_modified == lm
    second = fetch(feed_server.url("/f"), etag=first.etag, last_modified=first.last_modified)
    assert isinstance(second, NotModified) and second.etag == '"v1"'
    seen = feed_server.requests_to("/f")
    assert "if-none-match" not in seen[0].headers
    assert seen[1].headers["if-none-match"] == '"v1"'
    assert seen[1].headers["if-modified-since"] == lm
    assert seen[0].headers["user-agent"].startswith("peacewatch/")
    assert "gzip" in seen[0].headers["accept-encoding"]


def test_429_and_503_retry_after_seconds_and_date(feed_server: FeedServer):
    feed_server.routes["/busy"] = Route(429, headers={"Retry-After": "120"})
    when = email.utils.formatdate(time.time() + 600, usegmt=True)
    feed_server.routes["/down"] = Route(503, headers={"Retry-After": when})
    busy = fetch(feed_server.url("/busy"))
    assert isinstance(busy, FetchFailed) and busy.kind == "http_429"
    assert busy.retry_after_s == 120
    down = fetch(feed_server.url("/down"))
    assert isinstance(down, FetchFailed) and down.kind == "http_503"
    assert down.retry_after_s is not None and 590 <= down.retry_after_s <= 601


def test_parse_retry_after_rejects_garbage():
    assert parse_retry_after("soon", 0) is None
    assert parse_retry_after(None, 0) is None
    assert parse_retry_after(" 7 ", 0) == 7


def test_410_is_gone_and_404_is_not(feed_server: FeedServer):
    feed_server.routes["/gone"] = Route(410)
    gone = fetch(feed_server.url("/gone"))
    assert isinstance(gone, FetchFailed) and gone.gone and gone.kind == "http_410"
    missing = fetch(feed_server.url("/missing"))
    assert isinstance(missing, FetchFailed) and not missing.gone and missing.kind == "http_404"


def test_permanent_redirect_reports_new_url_temporary_does_not(feed_server: FeedServer):
    feed_server.routes["/new"] = Route(body=FEED)
    feed_server.routes["/old"] = Route(301, headers={"Location": "/mid"})
    feed_server.routes["/mid"] = Route(308, headers={"Location": feed_server.url("/new")})
    feed_server.routes["/tmp"] = Route(302, headers={"Location": "/new"})
    feed_server.routes["/mixed"] = Route(301, headers={"Location": "/tmp"})
    moved = fetch(feed_server.url("/old"))
    assert isinstance(moved, Fetched) and moved.body == FEED
    assert moved.moved_to == feed_server.url("/new") and moved.url == feed_server.url("/new")
    temporary = fetch(feed_server.url("/tmp"))
    assert isinstance(temporary, Fetched) and temporary.moved_to is None
    mixed = fetch(feed_server.url("/mixed"))
    assert isinstance(mixed, Fetched) and mixed.moved_to is None


def test_redirect_loop_and_redirect_limit(feed_server: FeedServer):
    feed_server.routes["/a"] = Route(302, headers={"Location": "/b"})
    feed_server.routes["/b"] = Route(302, headers={"Location": "/a"})
    loop = fetch(feed_server.url("/a"))
    assert isinstance(loop, FetchFailed) and loop.kind == "redirect_loop"
    for i in range(6):
        feed_server.routes[f"/hop{i}"] = Route(302, headers={"Location": f"/hop{i + 1}"})
    feed_server.routes["/hop6"] = Route(body=FEED)
    too_many = fetch(feed_server.url("/hop0"), max_redirects=3)
    assert isinstance(too_many, FetchFailed) and too_many.kind == "redirect"
    assert len(feed_server.requests_to("/hop3")) == 1 and not feed_server.requests_to("/hop4")
    assert isinstance(fetch(feed_server.url("/hop0"), max_redirects=6), Fetched)


@pytest.mark.parametrize("target", [
    "http://10.1.2.3/feed", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x",
    "http://localhost:{port}/f", "http://192.168.0.1/", "ftp://example.org/feed",
])
def test_redirect_to_a_forbidden_target_is_refused(feed_server: FeedServer, target: str):
    feed_server.routes["/r"] = Route(302, headers={"Location": target.format(
        port=feed_server.port)})
    feed_server.routes["/f"] = Route(body=FEED)
    # 127.0.0.1 itself is allowed (the test server), but not via the name "localhost",
    # which resolves to ::1 as well on many hosts - every resolved address must pass.
    result = fetch(feed_server.url("/r"), AddressPolicy([]) if "localhost" in target
                   else LOOPBACK)
    assert isinstance(result, FetchFailed) and result.kind == "refused", result


def test_private_addresses_refused_unless_allowed(feed_server: FeedServer):
    feed_server.routes["/f"] = Route(body=FEED)
    refused = fetch(feed_server.url("/f"), AddressPolicy([]))
    assert isinstance(refused, FetchFailed) and refused.kind == "refused"
    assert "127.0.0.1" in refused.error and "allow_networks" in refused.error
    by_name = fetch(f"http://localhost:{feed_server.port}/f", AddressPolicy([]))
    assert isinstance(by_name, FetchFailed) and by_name.kind == "refused"
    assert feed_server.requests_to("/f") == []  # refused before any connection
    assert isinstance(fetch(feed_server.url("/f")), Fetched)


def test_policy_classifies_addresses():
    policy = AddressPolicy([])
    for bad in ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1",
                "224.0.0.1"]:
        assert not policy.allows(ipaddress.ip_address(bad)), bad
    for good in ["93.184.216.34", "2606:4700:4700::1111", "151.101.1.1"]:
        assert policy.allows(ipaddress.ip_address(good)), good


def test_gzip_and_deflate_bodies_are_decoded(feed_server: FeedServer):
    feed_server.routes["/gz"] = Route(body=gzip.compress(FEED),
                                      headers={"Content-Encoding": "gzip"})
    feed_server.routes["/zlib"] = Route(body=zlib.compress(FEED),
                                        headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-15)
    feed_server.routes["/raw"] = Route(body=raw.compress(FEED) + raw.flush(),
                                       headers={"Content-Encoding": "deflate"})
    for path in ("/gz", "/zlib", "/raw"):
        result = fetch(feed_server.url(path))
        assert isinstance(result, Fetched) and result.body == FEED, path


def test_gzip_bomb_stops_at_the_cap_in_bounded_memory(feed_server: FeedServer):
    # 256 MiB of zeros compress to about 0.25 MiB: the body would be 64 times the cap.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(256)) + compressor.flush()
    assert len(bomb) < 1 << 20
    feed_server.routes["/bomb"] = Route(body=bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        result = fetch(feed_server.url("/bomb"), max_body_bytes=4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, FetchFailed) and result.kind == "too_large"
    assert peak < 32 << 20, f"peak {peak / 2**20:.0f} MiB"


def test_body_over_the_cap_with_and_without_content_length(feed_server: FeedServer):
    big = b"<rss>" + b"x" * (2 << 20) + b"</rss>"
    feed_server.routes["/declared"] = Route(body=big)
    feed_server.routes["/undeclared"] = Route(body=big, send_length=False)
    declared = fetch(feed_server.url("/declared"), max_body_bytes=1 << 20)
    assert isinstance(declared, FetchFailed) and declared.kind == "too_large"
    assert "Content-Length" in declared.error
    undeclared = fetch(feed_server.url("/undeclared"), max_body_bytes=1 << 20)
    assert isinstance(undeclared, FetchFailed) and undeclared.kind == "too_large"
    assert "larger than" in undeclared.error
    assert isinstance(fetch(feed_server.url("/undeclared"), max_body_bytes=4 << 20), Fetched)


def test_endless_body_ends_at_the_cap(feed_server: FeedServer):
    feed_server.routes["/endless"] = Route(endless=True)
    started = time.monotonic()
    result = fetch(feed_server.url("/endless"), max_body_bytes=256 << 10)
    assert isinstance(result, FetchFailed) and result.kind == "too_large"
    assert time.monotonic() - started < 10


def test_slow_drip_ends_at_the_total_timeout(feed_server: FeedServer):
    feed_server.routes["/drip"] = Route(body=FEED * 100, drip_s=0.05)
    started = time.monotonic()
    result = fetch(feed_server.url("/drip"), total_timeout_s=1.0, read_timeout_s=5.0)
    elapsed = time.monotonic() - started
    assert isinstance(result, FetchFailed) and result.kind == "timeout"
    assert 0.9 <= elapsed < 5


def test_server_that_never_answers_ends_at_the_read_timeout(feed_server: FeedServer):
    feed_server.routes["/silent"] = Route(body=FEED, delay_s=30)
    started = time.monotonic()
    result = fetch(feed_server.url("/silent"), read_timeout_s=0.5, total_timeout_s=20)
    assert isinstance(result, FetchFailed) and result.kind == "timeout"
    assert time.monotonic() - started < 5


def test_per_host_concurrency_is_a_limit(feed_server: FeedServer):
    feed_server.routes["/slow"] = Route(body=FEED, delay_s=0.2)

    async def many(fetcher: FeedFetcher) -> list[FetchResult]:
        return list(await asyncio.gather(*(
            fetcher.fetch(FetchRequest(feed_server.url("/slow"))) for _ in range(8))))

    results = run(many, per_host_concurrency=2)
    assert all(isinstance(r, Fetched) for r in results)
    assert feed_server.max_active == 2


def test_a_responder_can_answer_per_request(feed_server: FeedServer):
    def answer(seen: Seen) -> Route:
        return Route(body=FEED if "if-none-match" not in seen.headers else b"", status=200)

    feed_server.routes["/dyn"] = answer
    assert isinstance(fetch(feed_server.url("/dyn")), Fetched)
