"""Settings of the alerts stage: receivers, routes, grouping, quiet hours and digests, silences.

A receiver is one channel (Slack incoming webhook, email over SMTP, generic JSON webhook, console
or file). Routes send developments that match them to receivers; the first matching route wins
unless it says ``continue = true``; developments no route matches take ``default_route``.

Secrets (webhook URLs, SMTP passwords) are ``SecretStr``. Each can be given inline (best from the
environment, e.g. ``PEACEWATCH_ALERTS__RECEIVERS__OPS__WEBHOOK_URL``) or as ``<name>_file``, a file
whose content (stripped) is the secret, read when settings are loaded.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from peacewatch.models import Severity
from peacewatch.settings.base import Section


def _read_secret_files(data: Any, *names: str) -> Any:
    """Fill ``<name>`` from ``<name>_file`` when only the file is given."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name in names:
        file_key = f"{name}_file"
        path = out.get(file_key)
        if path is None:
            continue
        if out.get(name) is not None:
            raise ValueError(f"give {name} or {file_key}, not both")
        try:
            out[name] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror}") from exc
    return out


class _Paced(Section):
    """Delivery pacing: a token bucket per receiver (``rate_per_s`` tokens/s, ``burst`` deep)."""

    rate_per_s: float = Field(default=0.0, ge=0.0)  # 0: no pacing
    burst: int = Field(default=1, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)


class SlackReceiver(_Paced):
    kind: Literal["slack"]
    webhook_url: SecretStr | None = None
    webhook_url_file: Path | None = None
    # Slack allows about one message per second per webhook, with short bursts.
    rate_per_s: float = Field(default=1.0, ge=0.0)
    burst: int = Field(default=3, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: Any) -> Any:
        return _read_secret_files(data, "webhook_url")

    @model_validator(mode="after")
    def _required(self) -> SlackReceiver:
        if self.webhook_url is None or not self.webhook_url.get_secret_value():
            raise ValueError("a slack receiver needs webhook_url or webhook_url_file")
        return self


class WebhookReceiver(_Paced):
    kind: Literal["webhook"]
    url: SecretStr | None = None
    url_file: Path | None = None
    # Sent as the Authorization header when set.
    authorization: SecretStr | None = None
    authorization_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: Any) -> Any:
        return _read_secret_files(data, "url", "authorization")

    @model_validator(mode="after")
    def _required(self) -> WebhookReceiver:
        if self.url is None or not self.url.get_secret_value():
            raise ValueError("a webhook receiver needs url or url_file")
        return self


class EmailReceiver(_Paced):
    kind: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    # starttls: plain connection upgraded with STARTTLS (587); tls: implicit TLS (465);
    # none: no encryption, only for a relay on the same machine.
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    # Extra certificate authorities to trust (a private relay); the system store otherwise.
    ca_file: Path | None = None
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[peacewatch]"

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: Any) -> Any:
        return _read_secret_files(data, "password")

    @model_validator(mode="after")
    def _auth(self) -> EmailReceiver:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.password is not None and self.security == "none":
            raise ValueError("refusing to send a password without TLS (security = none)")
        return self


class ConsoleReceiver(_Paced):
    """Dry runs: print notifications, or append them to a file (one JSON object a line)."""

    kind: Literal["console"]
    path: Path | None = None
    format: Literal["text", "json"] = "text"


Receiver = Annotated[
    SlackReceiver | WebhookReceiver | EmailReceiver | ConsoleReceiver,
    Field(discriminator="kind"),
]

GroupLabel = Literal["issue", "severity", "story", "source"]


class QuietHours(Section):
    """A daily window (local time of the route's timezone) that collects into one digest."""

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet_hours start and end are the same time")
        return self


class Grouping(Section):
    """Alertmanager's timings: wait before the first message of a group, between messages of a
    group, and how long a notified group stays open for more developments."""

    group_by: list[GroupLabel] = Field(default_factory=lambda: list[GroupLabel](["issue"]))
    group_wait_s: float = Field(default=30.0, ge=0)
    group_interval_s: float = Field(default=300.0, ge=0)
    repeat_interval_s: float = Field(default=4 * 3600.0, gt=0)
    quiet_hours: QuietHours | None = None
    # off: send as grouped; hourly / daily: send only digests, at the top of the hour or at
    # digest_at local time.
    digest: Literal["off", "hourly", "daily"] = "off"
    digest_at: time = time(8, 0)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


def _severity(value: Any) -> Any:
    if isinstance(value, str) and not value.isdigit():
        try:
            return Severity[value.upper()]
        except KeyError as exc:
            names = ", ".join(s.name.lower() for s in Severity)
            raise ValueError(f"unknown severity {value!r} (one of {names})") from exc
    return value


class Route(Grouping):
    """Match developments and send them to receivers. Empty matchers match everything."""

    name: str = Field(min_length=1)
    receivers: list[str] = Field(min_length=1)
    issues: list[str] = Field(default_factory=list)
    min_severity: Severity | None = None
    sources: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    # Keep matching later routes after this one (Alertmanager's ``continue``).
    continue_: bool = Field(default=False, alias="continue")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("min_severity", mode="before")
    @classmethod
    def _sev(cls, value: Any) -> Any:
        return _severity(value)


class DefaultRoute(Grouping):
    # None: every receiver; []: developments no route matches are recorded as unrouted.
    receivers: list[str] | None = None


class Silence(Section):
    """Mute developments of an issue, from a source or with a keyword, for a period."""

    issue: str | None = None
    source: str | None = None
    keyword: str | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    comment: str = ""

    @model_validator(mode="after")
    def _something(self) -> Silence:
        if not (self.issue or self.source or self.keyword):
            raise ValueError("a silence needs issue, source or keyword")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Retry(Section):
    """Backoff for transient failures (5xx, timeouts): base * 2**attempt, capped, jittered."""

    base_s: float = Field(default=2.0, gt=0)
    max_s: float = Field(default=300.0, gt=0)
    # After this many attempts a notification is dead-lettered with the last reason.
    max_attempts: int = Field(default=12, ge=1)


def _default_receivers() -> dict[str, Receiver]:
    return {"console": ConsoleReceiver(kind="console")}


class AlertsSettings(Section):
    receivers: dict[str, Receiver] = Field(default_factory=_default_receivers)
    routes: list[Route] = Field(default_factory=list)
    default_route: DefaultRoute = DefaultRoute()
    silences: list[Silence] = Field(default_factory=list)
    retry: Retry = Retry()
    consumer_group: str = "peacewatch-alerts"
    # The delivery log (SQLite); relative paths are under data_dir.
    state_path: Path = Path("alerts.sqlite3")
    # Developments handled per poll.
    batch_size: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _known_receivers(self) -> AlertsSettings:
        routes: list[tuple[str, list[str]]] = [(r.name, r.receivers) for r in self.routes]
        routes.append(("default_route", self.default_route.receivers or []))
        for name, receivers in routes:
            unknown = [r for r in receivers if r not in self.receivers]
            if unknown:
                raise ValueError(f"route {name!r} names unknown receivers {unknown}")
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names) or "default" in names:
            raise ValueError("route names must be unique and not 'default'")
        return self

    def default_receivers(self) -> list[str]:
        receivers = self.default_route.receivers
        return list(self.receivers) if receivers is None else list(receivers)
