"""What every route of the desk shares: settings, the record, the issue catalogue, metrics,
and the checks that refuse a request before anything is read or written."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from desk.http import HttpError, Request, same
from desk.store.db import Row
from desk.store.record import RecordStore
from desk.views import Catalog
from peacewatch.metrics import Metrics
from peacewatch.models import Development
from peacewatch.settings import Settings


@dataclass
class DeskContext:
    settings: Settings
    store: RecordStore
    metrics: Metrics
    catalog: Catalog
    # Signs the page's feedback buttons: the write token when there is one (so that several
    # servers agree), else a secret of this process.
    form_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def create(cls, settings: Settings, store: RecordStore, metrics: Metrics) -> DeskContext:
        ctx = cls(settings, store, metrics, Catalog.from_settings(settings))
        token = settings.desk.write_token
        if token is not None:
            ctx.form_secret = b"form:" + token.get_secret_value().encode("utf-8")
        ctx.refresh_precision()
        return ctx

    def known_issue(self, issue_id: str) -> str:
        if self.catalog.issue(issue_id) is None and issue_id not in self.store.issue_ids():
            known = ", ".join(i.id for i in self.catalog.with_record(self.store.issue_ids()))
            raise HttpError(404, "unknown_issue", f"no issue {issue_id!r}; known: {known}")
        return issue_id

    def development(self, development_id: str) -> Development:
        found = self.store.development(development_id)
        if found is None:
            raise HttpError(404, "unknown_development",
                            f"no development {development_id!r} in the record")
        return found

    def can_read(self, request: Request) -> bool:
        token = self.settings.desk.read_token
        return token is None or same(request.bearer(), token) or same(
            request.cookie("peacewatch_token"), token)

    def require_write_token(self, request: Request) -> None:
        token = self.settings.desk.write_token
        if token is None:
            raise HttpError(403, "writes_disabled", "this server takes no writes through the "
                            "API: set desk.write_token")
        given = request.bearer()
        if given is None:
            raise HttpError(401, "token_required", "writes need 'Authorization: Bearer <token>'",
                            {"WWW-Authenticate": 'Bearer realm="peacewatch"'})
        if not same(given, token):
            raise HttpError(403, "bad_token", "the token is not the write token")

    def record_feedback(self, development: Development, verdict: str, note: str,
                        via: str) -> Row:
        row = self.store.add_feedback(development, verdict, note, via)
        self.metrics.feedback.labels(verdict=verdict).inc()
        self.refresh_precision()
        return row

    def refresh_precision(self) -> None:
        for issue, (useful, judged) in self.store.precision_by_issue().items():
            if judged:
                self.metrics.feedback_precision.labels(issue=issue).set(useful / judged)
