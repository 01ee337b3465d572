"""Fetching one feed over HTTP (httpx, async) or from a file, politely and within limits.

What a fetch promises whatever the server does:

- conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the last success; 304 costs no
  body and no parse;
- gzip and deflate are asked for and decompressed here, in bounded steps, so a gzip bomb stops
  at ``max_body_bytes`` of output instead of filling memory;
- connect and read timeouts per operation, and a wall-clock limit over the whole poll
  (redirects and body included) that ends slow-drip and endless bodies;
- redirects are followed by hand, at most ``max_redirects``, every hop re-checked by the address
  policy; a loop is an error; a chain of permanent redirects (301/308) reports the new URL;
- ``Retry-After`` is read on 429 and 503; 410 Gone is reported as such;
- at most ``per_host_concurrency`` fetches to one host at a time.

Every outcome is a value (``Fetched``, ``NotModified``, ``FetchFailed``); nothing raises.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib.util
import os
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from collectors.safety import AddressPolicy, AddressRefused, GuardedTransport
from peacewatch.settings.collectors import HttpSettings

if importlib.util.find_spec("sniffio") is None:
    # httpcore runs `import sniffio` for every lock it makes; without the package each of
    # those is a full, failing search of sys.path (a quarter of a millisecond a request).
    # A cached miss makes it fail at once, with the same outcome.
    sys.modules["sniffio"] = None  # type: ignore[assignment]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;"
          "q=0.9, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5")
# Headers the parser needs to decode and resolve a body (kept lower-cased).
PARSER_HEADERS = ("content-type", "content-location", "content-language")
_CHUNK = 64 * 1024
_DRAIN_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A body to parse."""

    url: str
    body: bytes
    headers: dict[str, str]
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    status: str = "200"


@dataclass(frozen=True, slots=True)
class NotModified:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    status: str = "304"


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """Why a fetch gave nothing to parse. ``kind`` is a short, bounded label for metrics."""

    kind: str
    error: str
    retry_after_s: float | None = None
    gone: bool = False
    moved_to: str | None = None

    @property
    def status(self) -> str:
        return self.kind


FetchResult = Fetched | NotModified | FetchFailed


@dataclass(frozen=True, slots=True)
class _Redirect:
    target: str
    permanent: bool


class BodyTooLarge(Exception):
    pass


class BodyUndecodable(Exception):
    pass


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class BoundedDecoder:
    """Content-Encoding decoding that never produces more than ``limit`` bytes in total."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []
        self._zlib: zlib._Decompress | None = None
        self._deflate_probe = b""
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding not in ("", "identity", "deflate"):
            raise BodyUndecodable(f"unsupported Content-Encoding {encoding!r}")

    def _take(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise BodyTooLarge(f"body larger than {self.limit} bytes")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self.encoding == "deflate" and self._zlib is None:
            # "deflate" is zlib-wrapped by the standard and raw by many servers: try both.
            self._deflate_probe += chunk
            if len(self._deflate_probe) < 2:
                return
            wrapped = (self._deflate_probe[0] & 0x0F) == 8 and int.from_bytes(
                self._deflate_probe[:2], "big") % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            chunk, self._deflate_probe = self._deflate_probe, b""
        if self._zlib is None:
            self._take(chunk)
            return
        try:
            data = chunk
            while data:
                out = self._zlib.decompress(data, self.limit - self.size + 1)
                self._take(out)
                data = self._zlib.unconsumed_tail
                if not data and self._zlib.eof and self._zlib.unused_data:
                    # Concatenated gzip members: the body goes on in a new member.
                    data = self._zlib.unused_data
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error as exc:
            raise BodyUndecodable(f"{self.encoding} body is corrupt: {exc}") from exc

    def finish(self) -> bytes:
        if self._deflate_probe:
            self._take(self._deflate_probe)
        if self._zlib is not None:
            try:
                self._take(self._zlib.flush())
            except zlib.error as exc:
                raise BodyUndecodable(f"{self.encoding} body is corrupt: {exc}") from exc
        return b"".join(self.parts)


class _Host:
    """One server's connection pool and its concurrency limit."""

    def __init__(self, transport: httpx.AsyncBaseTransport, per_host: int) -> None:
        self.transport = transport
        self.semaphore = asyncio.Semaphore(per_host)
        self.in_use = 0


class _Hosts:
    """A pool per host, the least recently used idle ones closed beyond ``keep``.

    One shared pool for every host would make httpcore assign each request by scanning every
    connection (quadratic at thousands of feeds); a pool per host keeps that scan at
    ``per_host`` connections, and the per-host limit falls out of it.
    """

    def __init__(self, make_transport: Callable[[], httpx.AsyncBaseTransport], per_host: int,
                 keep: int = 256) -> None:
        self.make_transport = make_transport
        self.per_host = per_host
        self.keep = keep
        self.hosts: OrderedDict[tuple[str, str, int | None], _Host] = OrderedDict()

    def get(self, url: str) -> _Host:
        parts = urlsplit(url)
        key = (parts.scheme, (parts.hostname or "").lower(), parts.port)
        host = self.hosts.get(key)
        if host is None:
            host = self.hosts[key] = _Host(self.make_transport(), self.per_host)
        self.hosts.move_to_end(key)
        return host

    async def trim(self) -> None:
        excess = len(self.hosts) - self.keep
        for key in [k for k, h in self.hosts.items() if h.in_use == 0][:max(excess, 0)]:
            await self.hosts.pop(key).transport.aclose()

    async def aclose(self) -> None:
        while self.hosts:
            await self.hosts.popitem()[1].transport.aclose()


async def _drain(resp: httpx.Response, limit: int = _DRAIN_BYTES) -> None:
    """Read a small body we do not need, so the connection can be reused (a large one is
    left unread: closing that connection is cheaper than reading it)."""
    size = 0
    async for chunk in resp.aiter_raw():
        size += len(chunk)
        if size > limit:
            return


class FeedFetcher:
    """Fetches feeds; one instance per event loop (it owns connection pools and semaphores).

    Requests go straight to httpx's transport: redirects, cookies and auth are exactly what
    the client layer would add, and redirects are handled here, so skipping it saves a third
    of the CPU a request costs without changing what goes on the wire.
    """

    def __init__(
        self,
        http: HttpSettings,
        policy: AddressPolicy,
        *,
        file_roots: tuple[Path, ...] = (),
        allow_any_file: bool = False,
        verify: bool | str = True,
    ) -> None:
        self.http = http
        self.policy = policy
        self.file_roots = tuple(p.resolve() for p in file_roots)
        self.allow_any_file = allow_any_file
        self._ssl = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._limits = httpx.Limits(max_connections=http.per_host_concurrency,
                                    max_keepalive_connections=http.per_host_concurrency,
                                    keepalive_expiry=30.0)
        self._timeout = httpx.Timeout(connect=http.connect_timeout_s, read=http.read_timeout_s,
                                      write=http.read_timeout_s, pool=http.total_timeout_s)
        self._headers = {"User-Agent": http.user_agent, "Accept": ACCEPT,
                         "Accept-Encoding": "gzip, deflate"}
        self._hosts = _Hosts(self._transport, http.per_host_concurrency)
        self._global = asyncio.Semaphore(http.max_concurrency)

    def _transport(self) -> httpx.AsyncBaseTransport:
        return GuardedTransport(self.policy, self._limits, self._ssl)

    async def aclose(self) -> None:
        await self._hosts.aclose()

    async def fetch(self, request: FetchRequest) -> FetchResult:
        if request.url.startswith("file:"):
            return self.fetch_file(request)
        try:
            async with self._global, asyncio.timeout(self.http.total_timeout_s):
                return await self._fetch(request)
        except TimeoutError:
            return FetchFailed("timeout", f"no complete response within "
                               f"{self.http.total_timeout_s:g}s")
        except AddressRefused as exc:
            return FetchFailed("refused", str(exc))
        except BodyTooLarge as exc:
            return FetchFailed("too_large", str(exc))
        except BodyUndecodable as exc:
            return FetchFailed("undecodable", str(exc))
        except httpx.TimeoutException as exc:
            return FetchFailed("timeout", f"{type(exc).__name__}: {exc or 'timed out'}")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return FetchFailed("network", f"{type(exc).__name__}: {exc}")

    async def _fetch(self, request: FetchRequest) -> FetchResult:
        url = request.url
        seen = {url}
        permanent = True
        headers = {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        for _hop in range(self.http.max_redirects + 1):
            self.policy.check_url(url)
            host = self._hosts.get(url)
            moved = url if permanent and url != request.url else None
            async with host.semaphore:
                host.in_use += 1
                try:
                    result = await self._request(host.transport, url, headers, moved)
                finally:
                    host.in_use -= 1
            if not isinstance(result, _Redirect):
                await self._hosts.trim()
                return result
            if result.target in seen:
                return FetchFailed("redirect_loop", f"redirect loop at {result.target}")
            seen.add(result.target)
            permanent = permanent and result.permanent
            url = result.target
        return FetchFailed("redirect", f"more than {self.http.max_redirects} redirects "
                           f"from {request.url}")

    async def _request(
        self, transport: httpx.AsyncBaseTransport, url: str, headers: dict[str, str],
        moved: str | None,
    ) -> FetchResult | _Redirect:
        request = httpx.Request("GET", url, headers={**self._headers, **headers},
                                extensions={"timeout": self._timeout.as_dict()})
        resp = await transport.handle_async_request(request)
        try:
            return await self._handle(resp, url, moved)
        finally:
            await resp.aclose()

    async def _handle(
        self, resp: httpx.Response, url: str, moved: str | None
    ) -> FetchResult | _Redirect:
        status = resp.status_code
        if not 200 <= status < 300:
            await _drain(resp)
        if status in REDIRECTS:
            location = resp.headers.get("location")
            if not location:
                return FetchFailed("redirect", f"{status} without Location from {url}")
            return _Redirect(urljoin(url, location.strip()), status in PERMANENT_REDIRECTS)
        if status == 304:
            return NotModified(url, resp.headers.get("etag"),
                               resp.headers.get("last-modified"), moved)
        if 200 <= status < 300:
            body = await self._read_body(resp)
            kept = {k: resp.headers[k] for k in PARSER_HEADERS if k in resp.headers}
            return Fetched(url, body, kept, resp.headers.get("etag"),
                           resp.headers.get("last-modified"), moved)
        retry = (parse_retry_after(resp.headers.get("retry-after"), time.time())
                 if status in (429, 503) else None)
        return FetchFailed(f"http_{status}", f"HTTP {status} from {url}",
                           retry_after_s=retry, gone=status == 410, moved_to=moved)

    async def _read_body(self, resp: httpx.Response) -> bytes:
        limit = self.http.max_body_bytes
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"Content-Length {declared} is over the {limit} byte limit")
        encoding = resp.headers.get("content-encoding", "").strip().lower()
        decoder = BoundedDecoder(encoding, limit)
        raw = 0
        async for chunk in resp.aiter_raw(_CHUNK):
            raw += len(chunk)
            if raw > limit:
                raise BodyTooLarge(f"body larger than {limit} bytes")
            decoder.feed(chunk)
        return decoder.finish()

    def fetch_file(self, request: FetchRequest) -> FetchResult:
        """A ``file://`` feed: allowed under the feed folders; mtime and size act as ETag."""
        parts = urlsplit(request.url)
        if parts.netloc not in ("", "localhost"):
            return FetchFailed("refused", f"{request.url}: remote file URLs are not supported")
        path = Path(unquote(parts.path)).resolve()
        if not self.allow_any_file and not any(path.is_relative_to(r) for r in self.file_roots):
            return FetchFailed("refused", f"{request.url}: file feeds must be inside a "
                               "collectors.feed_folders folder (or set allow_file_urls)")
        try:
            stat = path.stat()
            etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            if request.etag == etag:
                return NotModified(request.url, etag)
            if stat.st_size > self.http.max_body_bytes:
                return FetchFailed("too_large", f"{path}: {stat.st_size} bytes is over the "
                                   f"{self.http.max_body_bytes} byte limit")
            with open(path, "rb") as f:
                body = f.read(self.http.max_body_bytes + 1)
        except OSError as exc:
            return FetchFailed("file", f"{path}: {os.strerror(exc.errno or 0) or exc}")
        return Fetched(request.url, body, {}, etag)
