"""What the seed documents establish: ``seeds/baseline.toml``, validated, and its matcher.

The baseline is the state of the tracked issues as of the seed documents (what was agreed,
proposed or rejected), the actors, and the sources it comes from. A development that only
restates a known state is marked ``baseline=True`` and does not alert; a stronger action (the
minerals deal *signed* where it was only pressed for) is new and does. An item restates a known
state when:

- it is on the state's issue, and reports no stronger action than the state's;
- it was published while the state was known: from its ``as_of`` date, and for ``horizon_days``
  after it (news of the same matter months later is a development of its own);
- it names every term of the state's ``all`` and one of its ``any``, and at least two distinct
  terms in all: a broad term alone ("Black Sea", "shipping") never makes an item known.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from peacewatch.errors import ConfigError
from peacewatch.models import Severity
from peacewatch.settings import parse_toml_model
from processors.patterns import TermSet, compile_terms
from processors.text import fold

Status = Literal["mentioned", "discussed", "proposed", "rejected", "agreed", "signed"]
SEVERITY_OF: dict[str, Severity] = {s.name.lower(): s for s in Severity}


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceDoc(_Spec):
    id: str
    file: str
    title: str
    summary: str
    issues: tuple[str, ...] = ()


class Actor(_Spec):
    name: str
    role: str
    party: str | None = None
    positions: tuple[str, ...] = ()


class KnownState(_Spec):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    issue: str
    summary: str
    status: Status
    as_of: date
    # An item restates this state when it names every term of ``all`` and one of ``any``.
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = Field(min_length=1)
    parties: tuple[str, ...] = ()
    source: str | None = None

    @property
    def severity(self) -> Severity:
        return SEVERITY_OF[self.status]


class Baseline(_Spec):
    version: Literal[1] = 1
    as_of: date
    sources: tuple[SourceDoc, ...] = ()
    actors: tuple[Actor, ...] = ()
    known: tuple[KnownState, ...] = ()


def parse_baseline(text: str, origin: str = "baseline",
                   issue_ids: tuple[str, ...] | None = None) -> Baseline:
    baseline = parse_toml_model(text, Baseline, origin)
    source_ids = {s.id for s in baseline.sources}
    for state in baseline.known:
        if issue_ids is not None and state.issue not in issue_ids:
            raise ConfigError(f"{origin}: known state {state.id!r}: no tracked issue "
                              f"{state.issue!r} in the watchlist")
        if state.source is not None and state.source not in source_ids:
            raise ConfigError(f"{origin}: known state {state.id!r}: no source {state.source!r}")
        for field in ("all", "any"):
            try:
                if getattr(state, field):
                    compile_terms(getattr(state, field), {})
            except ConfigError as exc:
                raise ConfigError(f"{origin}: known state {state.id!r}: {field}: {exc}") from exc
    return baseline


def load_baseline(path: Path, issue_ids: tuple[str, ...] | None = None) -> Baseline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"baseline {path}: cannot be read: {exc}") from exc
    return parse_baseline(text, f"baseline {path}", issue_ids)


class BaselineMatcher:
    """Which known state (if any) an item on an issue merely restates."""

    def __init__(self, baseline: Baseline | None, horizon: timedelta = timedelta(days=120)) -> None:
        self.baseline = baseline
        self.horizon = horizon
        self._states: list[tuple[KnownState, list[TermSet], list[TermSet]]] = []
        for state in baseline.known if baseline else ():
            every = [compile_terms([t], {}) for t in state.all]
            self._states.append((state, every, [compile_terms([t], {}) for t in state.any]))

    def known_state(self, issue_id: str, text: str, severity: Severity, *,
                    at: datetime | None = None) -> KnownState | None:
        folded = fold(text)
        lowered = folded.lower()
        for state, every, any_ in self._states:
            if state.issue != issue_id or severity > state.severity:
                continue
            if at is not None and not self._in_force(state, at):
                continue
            if not all(t.search(folded, lowered) for t in every):
                continue
            named = sum(1 for t in any_ if t.search(folded, lowered))
            if named and len(every) + named >= 2:
                return state
        return None

    def _in_force(self, state: KnownState, at: datetime) -> bool:
        start = datetime.combine(state.as_of, time.min, tzinfo=UTC)
        return start <= at <= start + self.horizon
