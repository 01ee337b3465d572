"""``peacewatch check`` for alerts: reach every receiver without sending a notification.

SMTP: connect, TLS, log in, NOOP, QUIT. Slack: an empty message, which Slack refuses without
posting while saying whether the webhook is valid. Generic webhooks: a TCP connection. Console:
the file's folder is writable. Prints one line per receiver; returns the number of failures.
"""

from __future__ import annotations

from alerts.channels.build import build_notifier
from alerts.redact import redact, register_settings
from peacewatch.errors import AlertError
from peacewatch.settings import Settings


def check(settings: Settings) -> int:
    register_settings(settings.alerts)
    failures = 0
    for name, receiver in settings.alerts.receivers.items():
        notifier = build_notifier(name, receiver)
        try:
            detail = notifier.check()
        except AlertError as exc:
            print(f"alerts receiver {name} ({notifier.channel}): FAILED {redact(str(exc))}")
            failures += 1
        else:
            print(f"alerts receiver {name} ({notifier.channel}): ok ({detail})")
        finally:
            notifier.close()
    return failures
