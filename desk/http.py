"""Requests, responses and the checks every route shares: query parameters, cursors, ETags,
tokens. Pure: no sockets here (``desk.server`` serves them), so routes are tested directly too.

Every refusal is an ``HttpError``: the API answers it as ``{"error": {"code", "message"}}``
with a 4xx status, the page as a short HTML page, and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

from pydantic import SecretStr

from peacewatch.models import Severity

JSON = "application/json"


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""

    def cookie(self, name: str) -> str | None:
        try:
            jar = SimpleCookie(self.headers.get("cookie", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, JSON, dict(headers or {}))


def error_body(err: HttpError) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": err.message, "status": err.status}}


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def with_etag(request: Request, response: Response) -> Response:
    """A 200 GET answer gets an ETag; a client that has it gets 304 and no body."""
    if request.method != "GET" or response.status != 200:
        return response
    tag = etag_of(response.body)
    response.headers["ETag"] = tag
    wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if tag in wanted or "*" in wanted:
        return Response(304, b"", response.content_type, {"ETag": tag})
    return response


# -- query parameters --------------------------------------------------------------------------


class Query:
    """A route's query parameters: each read once, checked, and any left over refused."""

    def __init__(self, request: Request, allowed: frozenset[str]) -> None:
        unknown = sorted(set(request.query) - allowed)
        if unknown:
            raise HttpError(400, "bad_query", f"unknown query parameter {unknown[0]!r}; "
                            f"this route takes: {', '.join(sorted(allowed)) or 'none'}")
        self._q = request.query

    def text(self, name: str, max_len: int = 200) -> str | None:
        values = self._q.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise HttpError(400, "bad_query", f"{name}: give it once")
        value = values[0].strip()
        if len(value) > max_len:
            raise HttpError(400, "bad_query", f"{name}: longer than {max_len} characters")
        return value or None

    def time(self, name: str, *, end: bool = False) -> float | None:
        """A date (YYYY-MM-DD: its start, or with ``end`` the start of the next day) or an ISO
        8601 time with a zone."""
        value = self.text(name, 40)
        if value is None:
            return None
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
                return start + 86400 if end else start
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise HttpError(400, "bad_query", f"{name}: {value!r} is not a date (YYYY-MM-DD) "
                            "or an ISO 8601 time") from None
        if at.tzinfo is None:
            raise HttpError(400, "bad_query", f"{name}: {value!r} has no time zone")
        return at.timestamp()

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name, 12)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise HttpError(400, "bad_query", f"{name}: {value!r} is not a whole number") from None
        if not low <= number <= high:
            raise HttpError(400, "bad_query", f"{name}: must be between {low} and {high}")
        return number

    def severity(self, name: str) -> int | None:
        value = self.text(name, 20)
        if value is None:
            return None
        try:
            return int(Severity[value.upper()])
        except KeyError:
            names = ", ".join(s.name.lower() for s in Severity)
            raise HttpError(400, "bad_query", f"{name}: {value!r} is not a severity "
                            f"(one of {names})") from None

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, 40) or default
        if value not in choices:
            raise HttpError(400, "bad_query", f"{name}: one of {', '.join(choices)}")
        return value

    def cursor(self, size: int) -> tuple[Any, ...] | None:
        value = self.text("cursor", 400)
        if value is None:
            return None
        return decode_cursor(value, size)


def encode_cursor(key: tuple[Any, ...] | None) -> str | None:
    if key is None:
        return None
    raw = json.dumps(list(key), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(value: str, size: int) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise HttpError(400, "bad_cursor", "cursor: not a cursor this API gave") from None
    if (not isinstance(key, list) or len(key) != size
            or not all(isinstance(k, int | float | str) for k in key)):
        raise HttpError(400, "bad_cursor", "cursor: not a cursor of this list")
    return tuple(key)


# -- tokens ------------------------------------------------------------------------------------


def same(given: str | None, secret: SecretStr | None) -> bool:
    return (given is not None and secret is not None
            and hmac.compare_digest(given.encode("utf-8"),
                                    secret.get_secret_value().encode("utf-8")))


def form_token(secret: bytes, development_id: str) -> str:
    """What the page's feedback buttons carry: the server's signature of the development."""
    return hmac.new(secret, development_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def check_form_token(secret: bytes, development_id: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(form_token(secret, development_id), given)


Handler = Callable[[Request, dict[str, str]], Response]
