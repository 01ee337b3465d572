"""Slack incoming webhooks: a Block Kit message with a plain-text fallback."""

from __future__ import annotations

import httpx

from alerts.channels.base import Notifier
from alerts.channels.http import post_json
from alerts.notification import Notification
from alerts.render import slack_payload
from peacewatch.errors import AlertError, PermanentDeliveryError
from peacewatch.settings.alerts import SlackReceiver

# Error bodies Slack answers for a webhook that will never work (with 400, 403, 404 or 410).
PERMANENT_ERRORS = frozenset({
    "invalid_token", "no_service", "no_service_id", "no_team", "team_disabled",
    "channel_not_found", "channel_is_archived", "action_prohibited", "no_active_hooks",
    "posting_to_general_channel_denied", "invalid_payload", "user_not_found",
})
# Slack's answer to a valid webhook given an empty message: the webhook exists, nothing is posted.
_EMPTY_MESSAGE_ERRORS = ("no_text", "missing_text_or_fallback_or_attachments", "invalid_payload")


class SlackNotifier(Notifier):
    channel = "slack"

    def __init__(self, name: str, settings: SlackReceiver,
                 client: httpx.Client | None = None) -> None:
        super().__init__(name)
        assert settings.webhook_url is not None  # checked by the settings
        self._url = settings.webhook_url
        self._client = client or httpx.Client(timeout=settings.timeout_s,
                                              follow_redirects=False)

    def send(self, notification: Notification) -> None:
        post_json(self._client, f"slack receiver {self.name!r}", self._url.get_secret_value(),
                  slack_payload(notification), permanent_bodies=PERMANENT_ERRORS)

    def check(self) -> str:
        """POST an empty message: Slack refuses it without posting, and says whether the
        webhook itself is valid (``no_text``) or not (``no_service``, ``invalid_token``)."""
        what = f"slack receiver {self.name!r}"
        try:
            post_json(self._client, what, self._url.get_secret_value(), {})
        except PermanentDeliveryError as exc:
            if any(e in str(exc) for e in _EMPTY_MESSAGE_ERRORS) and "HTTP 400" in str(exc):
                return "webhook valid (empty test message refused, nothing posted)"
            raise AlertError(str(exc)) from None
        return "webhook answered"

    def close(self) -> None:
        self._client.close()
