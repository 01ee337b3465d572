"""A generic webhook: the notification as JSON, POSTed with an Idempotency-Key header.

The key is the notification id: a receiver that honours it drops the resend that can follow a
crash between its answer and our log write (the one window at-least-once cannot close).
"""

from __future__ import annotations

import httpx

from alerts.channels.base import Notifier
from alerts.channels.http import post_json, reach
from alerts.notification import Notification
from alerts.render import webhook_payload
from peacewatch.settings.alerts import WebhookReceiver


class WebhookNotifier(Notifier):
    channel = "webhook"

    def __init__(self, name: str, settings: WebhookReceiver,
                 client: httpx.Client | None = None) -> None:
        super().__init__(name)
        assert settings.url is not None  # checked by the settings
        self._url = settings.url
        self._authorization = settings.authorization
        self._timeout_s = settings.timeout_s
        self._client = client or httpx.Client(timeout=settings.timeout_s,
                                              follow_redirects=False)

    def send(self, notification: Notification) -> None:
        headers = {"Idempotency-Key": notification.notification_id,
                   "User-Agent": "peacewatch-alerts"}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization.get_secret_value()
        post_json(self._client, f"webhook receiver {self.name!r}", self._url.get_secret_value(),
                  webhook_payload(notification), headers=headers)

    def check(self) -> str:
        return reach(f"webhook receiver {self.name!r}", self._url.get_secret_value(),
                     self._timeout_s)

    def close(self) -> None:
        self._client.close()
