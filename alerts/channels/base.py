"""The one base class of every channel: implement ``send``.

``send`` returns when the remote has accepted the notification; it raises
``TransientDeliveryError`` (worth retrying, maybe with ``retry_after``) or
``PermanentDeliveryError`` (dead-letter it). Messages of those errors are redacted and never
carry a secret.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from alerts.notification import Notification


class Notifier(ABC):
    channel: ClassVar[str] = "?"

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver one notification, or raise Transient/PermanentDeliveryError."""

    def check(self) -> str:
        """Reach the remote without sending a notification; return what was checked.

        Raise AlertError when it cannot be reached. The default says nothing was checked.
        """
        return "not checked"

    def close(self) -> None:
        """Release connections."""
