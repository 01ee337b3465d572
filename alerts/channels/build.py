"""A receiver's notifier: the one place that knows every channel (the channels know only
``base``, so there is no cycle between them)."""

from __future__ import annotations

from alerts.channels.base import Notifier
from alerts.channels.console import ConsoleNotifier
from alerts.channels.email import EmailNotifier
from alerts.channels.slack import SlackNotifier
from alerts.channels.webhook import WebhookNotifier
from peacewatch.settings.alerts import (
    ConsoleReceiver,
    EmailReceiver,
    SlackReceiver,
    WebhookReceiver,
)


def build_notifier(
    name: str, receiver: SlackReceiver | WebhookReceiver | EmailReceiver | ConsoleReceiver
) -> Notifier:
    if isinstance(receiver, SlackReceiver):
        return SlackNotifier(name, receiver)
    if isinstance(receiver, WebhookReceiver):
        return WebhookNotifier(name, receiver)
    if isinstance(receiver, EmailReceiver):
        return EmailNotifier(name, receiver)
    return ConsoleNotifier(name, receiver)
