"""Dry runs: print each notification, or append it to a file as one JSON object a line."""

from __future__ import annotations

import json
import os
import sys
import threading

from alerts.channels.base import Notifier
from alerts.notification import Notification
from alerts.render import plain_text, webhook_payload
from peacewatch.errors import AlertError, PermanentDeliveryError, TransientDeliveryError
from peacewatch.settings.alerts import ConsoleReceiver


class ConsoleNotifier(Notifier):
    channel = "console"

    def __init__(self, name: str, settings: ConsoleReceiver) -> None:
        super().__init__(name)
        self.settings = settings
        self._lock = threading.Lock()

    def _render(self, notification: Notification) -> str:
        if self.settings.format == "json":
            return json.dumps(webhook_payload(notification), ensure_ascii=False) + "\n"
        return plain_text(notification) + "\n"

    def send(self, notification: Notification) -> None:
        text = self._render(notification)
        path = self.settings.path
        if path is None:
            with self._lock:
                sys.stdout.write(text)
                sys.stdout.flush()
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, path.open("a", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
        except PermissionError as exc:
            raise PermanentDeliveryError(f"console receiver {self.name!r}: {exc}") from exc
        except OSError as exc:
            raise TransientDeliveryError(f"console receiver {self.name!r}: {exc}") from exc

    def check(self) -> str:
        path = self.settings.path
        if path is None:
            return "stdout"
        directory = path.parent if path.parent != path else path
        if directory.exists() and not os.access(directory, os.W_OK):
            raise AlertError(f"console receiver {self.name!r}: {directory} is not writable")
        return f"file {path}"
