"""Keep secrets out of logs, errors and metrics.

Settings hold secrets as ``SecretStr``, so they are never formatted by accident; but an HTTP
library may log a request line with the webhook URL, and a server may echo it in an error. Every
secret value of the alert receivers is registered here; ``redact`` replaces them (and the
patterns of ``peacewatch.logs.scrub``), and a logging filter on the loggers that might see them
applies it to every record.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from peacewatch.logs import scrub
from peacewatch.settings.alerts import AlertsSettings

MASK = "***"
# Loggers that see request URLs or our own delivery errors.
WATCHED_LOGGERS = ("httpx", "httpcore", "peacewatch.alerts", "peacewatch.daemon")

class _Registry:
    lock = threading.Lock()
    secrets: tuple[str, ...] = ()


def _parts(secret: str) -> set[str]:
    """A URL's secret is also its path or query alone (e.g. Slack's /services/T/B/token)."""
    out = {secret}
    if "://" in secret:
        parts = urlsplit(secret)
        for piece in (parts.path, parts.query, parts.password or ""):
            if len(piece) >= 8:
                out.add(piece)
        out.update(seg for seg in parts.path.split("/") if len(seg) >= 12)
    return {s for s in out if len(s) >= 4}


def register_settings(settings: AlertsSettings) -> None:
    """Remember every secret of these settings (called on start and on reload)."""
    found: set[str] = set()
    for receiver in settings.receivers.values():
        for name in ("webhook_url", "url", "authorization", "password"):
            value = getattr(receiver, name, None)
            if value is not None:
                found |= _parts(value.get_secret_value())
    register(*found)


def register(*secrets: str) -> None:
    with _Registry.lock:
        merged = set(_Registry.secrets) | {s for s in secrets if s}
        # Longest first, so a URL is masked whole before its path is.
        _Registry.secrets = tuple(sorted(merged, key=len, reverse=True))
    install_filter()


def redact(text: str) -> str:
    for secret in _Registry.secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return scrub(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # A traceback may quote a URL; keep the exception type and a redacted message only.
            exc = record.exc_info[1]
            record.msg = f"{record.msg} ({type(exc).__name__}: {redact(str(exc))})"
            record.exc_info, record.exc_text = None, None
        return True


_FILTER = RedactingFilter()


def install_filter() -> None:
    for name in WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
