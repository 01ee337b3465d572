"""Logging set-up: one line per meaningful event, plain or JSON, with secrets scrubbed.

Secrets are ``SecretStr`` in settings and so never formatted in the first place; the filter here
is the second line of defence for URLs that carry credentials (Slack webhook paths, user:pass@).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

_SECRET_PATTERNS = (
    (re.compile(r"(hooks\.slack\.com/services/)[^\s\"']+"), r"\1***"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(?i)((?:password|token|secret)[\"']?\s*[=:]\s*[\"']?)[^\s\"',]+"), r"\1***"),
)


def scrub(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ScrubbingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


class KafkaLogFilter(logging.Filter):
    """kafka-python's own warnings, without the flood an outage makes of them.

    Its connection layer logs each failed attempt to reach a broker, several a second while one
    is down: the process's one "bus down" line (``peacewatch.bus.watch``) says that instead.
    Its other warnings and errors (a group member that must rejoin, a batch that expired, a
    request the broker refused) pass, each message at most once per ``interval_s``.
    """

    _CONNECTION = ("kafka.net", "kafka.conn", "kafka.client", "kafka.cluster")
    _REMEMBERED = 1000  # messages remembered at most (kafka-python formats some itself)

    def __init__(self, interval_s: float = 600.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kafka"):
            return True
        if record.name.startswith(self._CONNECTION):
            return record.levelno >= logging.CRITICAL
        key, now = (record.name, str(record.msg)), time.monotonic()
        if now - self._last.get(key, -self.interval_s) < self.interval_s:
            return False
        if len(self._last) >= self._REMEMBERED:
            self._last.clear()
        self._last[key] = now
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "info", json_format: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(KafkaLogFilter())
    handler.addFilter(ScrubbingFilter())
    handler.setFormatter(
        JsonFormatter() if json_format
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kafka-python at WARNING, through KafkaLogFilter: its connection attempts stay quiet.
    logging.getLogger("kafka").setLevel(logging.WARNING)
