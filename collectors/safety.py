"""Where a feed URL may lead: public addresses only, unless the settings allow a network.

The check runs where the connection is made, after DNS resolution, for every connection -
the first request and every redirect - and the connection goes to the address that was checked,
so a name that resolves to a public address once and to 127.0.0.1 the next time cannot slip
through. Loopback, private, link-local (cloud metadata at 169.254.169.254 included), shared,
reserved, multicast and unspecified addresses are refused; ``allow_networks`` lets some through,
e.g. ``127.0.0.1/32`` for a test server.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from peacewatch.errors import CollectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED_SCHEMES = frozenset({"http", "https"})


class AddressRefused(CollectorError):
    """A feed URL that leads to an address the settings do not allow."""


class AddressPolicy:
    """Which IP addresses a feed may connect to."""

    def __init__(self, allow_networks: Iterable[IPNetwork] = ()) -> None:
        self.allow_networks = tuple(allow_networks)

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address.version == net.version and address in net for net in self.allow_networks):
            return True
        return address.is_global and not address.is_multicast

    def check_address(self, host: str, address: IPAddress) -> None:
        if not self.allows(address):
            what = f"address {address}" if host == str(address) else f"{host} ({address})"
            raise AddressRefused(
                f"{what} is not a public address; feeds may reach it only if "
                "collectors.allow_networks includes it")

    def check_url(self, url: str) -> None:
        """Scheme and host checks that need no DNS; literal IP hosts are checked here too."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise AddressRefused(f"{url}: not a valid URL ({exc})") from exc
        if parts.scheme not in ALLOWED_SCHEMES:
            raise AddressRefused(f"{url}: scheme {parts.scheme!r} is not allowed")
        if not host:
            raise AddressRefused(f"{url}: no host")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return
        self.check_address(host, literal)


async def resolve(host: str, port: int) -> list[IPAddress]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    return out


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address policy between DNS and connect."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        # Every address must pass: a name that also points inside is refused outright.
        for address in addresses:
            self.policy.check_address(host, address)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not feed addresses")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, connecting only through the guarded backend and never via a proxy."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits, ssl_context: ssl.SSLContext,
                 socket_options: Sequence[Any] | None = None) -> None:
        super().__init__(limits=limits, trust_env=False, verify=ssl_context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedNetworkBackend(policy),
            socket_options=socket_options,
        )
