"""What Slack and the generic webhook share: one JSON POST and the meaning of its answer."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from alerts.redact import redact
from peacewatch.errors import AlertError, PermanentDeliveryError, TransientDeliveryError

# Answers that mean the request may succeed later.
_TRANSIENT_STATUS = {408, 425, 429}
_MAX_RETRY_AFTER_S = 3600.0


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare for webhooks; it counts as absent)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(_MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        return None


def post_json(
    client: httpx.Client, what: str, url: str, payload: dict[str, Any], *,
    headers: dict[str, str] | None = None,
    permanent_bodies: frozenset[str] = frozenset(),
) -> httpx.Response:
    """POST; return a 2xx response or raise a delivery error whose message holds no secret.

    Library errors are re-raised ``from None``: their text and request can quote the URL, and a
    logged traceback would print it. The type name is kept in the message.
    """
    try:
        response = client.post(url, json=payload, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(f"{what}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransientDeliveryError(
            f"{what}: connection failed ({type(exc).__name__}: {redact(str(exc))})") from None
    except httpx.HTTPError as exc:  # an invalid URL and the like: no retry will help
        raise PermanentDeliveryError(
            f"{what}: request refused ({type(exc).__name__}: {redact(str(exc))})") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    body = redact(response.text[:200].strip())
    reason = f"{what}: HTTP {status}" + (f" {body}" if body else "")
    if status in _TRANSIENT_STATUS or status >= 500:
        raise TransientDeliveryError(reason, retry_after=retry_after(response))
    if body in permanent_bodies or 400 <= status < 500:
        raise PermanentDeliveryError(reason)
    raise PermanentDeliveryError(f"{reason} (unexpected answer)")


def reach(what: str, url: str, timeout_s: float) -> str:
    """Open a TCP connection to the URL's host and port and close it; nothing is sent."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise AlertError(f"{what}: URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise AlertError(f"{what}: cannot connect to {host}:{port} ({exc.strerror or exc})"
                         ) from None
    return f"{host}:{port} reachable"
