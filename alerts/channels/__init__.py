"""Channels: thin I/O that sends one notification and says whether a failure is worth a retry."""

from __future__ import annotations

from alerts.channels.base import Notifier
from alerts.channels.build import build_notifier
from alerts.channels.console import ConsoleNotifier
from alerts.channels.email import EmailNotifier
from alerts.channels.slack import SlackNotifier
from alerts.channels.webhook import WebhookNotifier

__all__ = [
    "ConsoleNotifier", "EmailNotifier", "Notifier", "SlackNotifier", "WebhookNotifier",
    "build_notifier",
]
