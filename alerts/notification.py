"""What a channel sends: one message about one or more developments, for one receiver."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from peacewatch.models import Development, stable_hash

NotificationKind = Literal["alert", "follow_up", "digest"]


class Notification(BaseModel):
    """A grouped message. Its id is the idempotency key of the delivery, its Message-ID (email)
    is derived from the id, so a resend after a crash carries the same Message-ID."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: str
    receiver: str
    route: str
    kind: NotificationKind
    # The group's labels as text, e.g. "issue=black-sea"; "digest" for a digest.
    group: str
    developments: tuple[Development, ...]
    created_at: AwareDatetime
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()

    @property
    def development_ids(self) -> tuple[str, ...]:
        return tuple(d.development_id for d in self.developments)

    @property
    def issues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.issue_id for d in self.developments))

    @property
    def title(self) -> str:
        first = self.developments[0]
        more = len(self.developments) - 1
        suffix = f" (+{more} more)" if more else ""
        if self.kind == "digest":
            n = len(self.developments)
            issues = ", ".join(self.issues[:5])
            return f"Digest: {n} development{'s' if n != 1 else ''} on {issues}"
        if self.kind == "follow_up":
            return f"Update on {first.issue_id}: {first.headline}{suffix}"
        return f"New on {first.issue_id}: {first.headline}{suffix}"


def notification_id(receiver: str, group: str, development_ids: tuple[str, ...]) -> str:
    """The same receiver, group and developments always make the same id."""
    return stable_hash("notification", receiver, group, *sorted(development_ids), length=24)


def message_id(notification_id: str, domain: str = "peacewatch.invalid") -> str:
    return f"<{notification_id}@{domain}>"


def make_notification(
    *,
    receiver: str,
    route: str,
    group: str,
    kind: NotificationKind,
    developments: tuple[Development, ...],
    now: datetime,
    thread: tuple[str, ...] = (),
    domain: str = "peacewatch.invalid",
) -> Notification:
    """``thread`` is the story's earlier Message-IDs, first first (empty for a new story)."""
    nid = notification_id(receiver, group, tuple(d.development_id for d in developments))
    return Notification(
        notification_id=nid,
        receiver=receiver,
        route=route,
        kind=kind,
        group=group,
        developments=developments,
        created_at=now,
        message_id=message_id(nid, domain),
        in_reply_to=thread[0] if thread else None,
        references=thread,
    )
