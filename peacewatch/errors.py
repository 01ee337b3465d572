"""The one exception tree of peacewatch.

Third-party errors (kafka-python, httpx, smtplib, sqlite3, pydantic) are converted into these
where they enter our code, with ``raise ... from exc`` so the cause stays visible.

    PeacewatchError
    ├── ConfigError                  settings file, environment or seeds data refused
    ├── InputError                   an item of a user's own file that cannot be read
    ├── BusError                     the event bus
    │   ├── BusUnavailable           the bus does not answer or take writes now: retry later
    │   │   └── BrokerUnavailable    no Kafka broker answered within the configured time
    │   ├── MessageRefused           the bus refused these messages for good (too large ...)
    │   ├── MessageInvalid           bytes on a topic that are not a valid event (dead-lettered)
    │   └── CommitFailed             an offset could not be committed (partition moved away)
    ├── CollectorError               collectors/ (feed and document ingestion)
    ├── ProcessorError               processors/ (dedup, classification, developments)
    │   └── ModelError               the learned model's artefact cannot be used
    ├── RecordError                  desk/ (the record: SQLite or PostgreSQL)
    └── AlertError                   alerts/ (routing and delivery)
        ├── TransientDeliveryError   worth retrying: 429, 5xx, timeouts, connection resets
        └── PermanentDeliveryError   not worth retrying: bad webhook, auth refused
"""

from __future__ import annotations


class PeacewatchError(Exception):
    """Root of every error peacewatch raises on purpose."""


class RecordError(PeacewatchError):
    """The desk's record could not be opened, migrated, read or written."""


class ConfigError(PeacewatchError):
    """Settings or seeds data that cannot be used; the message names the key."""


class InputError(PeacewatchError):
    """An item of a user's own file (JSON Lines or CSV) that cannot be read; the message names
    the field."""


class BusError(PeacewatchError):
    """A failure of the event bus (either backend)."""


class BusUnavailable(BusError):
    """The bus does not answer, or does not take writes, right now (a broker down, no leader,
    a full disk): what failed is worth retrying once it is back."""


class BrokerUnavailable(BusUnavailable):
    """The Kafka broker could not be reached in time."""


class MessageRefused(BusError):
    """The bus refused messages for good (too large, invalid): retrying cannot help.

    ``messages`` are the refused ones as (topic, key, value, reason); they are no longer
    queued, so the caller decides what becomes of them (dead-lettered, as a rule).
    """

    def __init__(self, message: str, messages: list[tuple[str, str | None, bytes, str]]) -> None:
        super().__init__(message)
        self.messages = messages


class MessageInvalid(BusError):
    """A message whose bytes do not decode into the topic's event model."""

    def __init__(self, message: str, *, topic: str, partition: int, offset: int) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.offset = offset


class CommitFailed(BusError):
    """An offset commit was refused, usually because the partition was reassigned."""


class CollectorError(PeacewatchError):
    """A failure in the collectors stage."""


class ProcessorError(PeacewatchError):
    """A failure in the processors stage."""


class ModelError(ProcessorError):
    """The learned model's artefact is missing, unreadable, or from another version."""


class AlertError(PeacewatchError):
    """A failure in the alerts stage."""


class TransientDeliveryError(AlertError):
    """A delivery that may succeed if retried later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(AlertError):
    """A delivery that will not succeed by retrying; it goes to the dead-letter record."""
