"""The tracked issues as data: ``seeds/watchlist.toml``, validated into frozen models.

A user edits the file, not the code: adding an ``[[issues]]`` table with its signals adds an
issue. Every problem is refused at load time with a ``ConfigError`` naming the file, the issue
and the key, so that a typo never turns into a classifier that silently matches nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from peacewatch.errors import ConfigError
from peacewatch.settings import parse_toml_model
from processors.patterns import compile_terms

RequiresScope = Literal["sentence", "title_or_sentence", "item"]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SignalSpec(_Spec):
    """Terms that count as evidence for an issue, with the conditions under which they count."""

    terms: tuple[str, ...] = Field(min_length=1)
    # Evidence weight of one distinct term; an issue applies when the weights reach its threshold.
    weight: float = Field(default=1.0, gt=0, le=10)
    # At least one of these must also be named: in the same sentence, or (by default) in the
    # same sentence or the title, or anywhere in the item.
    requires: tuple[str, ...] = ()
    requires_scope: RequiresScope = "title_or_sentence"
    # A sentence that names one of these does not count for this signal ...
    unless: tuple[str, ...] = ()
    # ... unless it also names one of these.
    unless_except: tuple[str, ...] = ()
    note: str = ""


class IssueSpec(_Spec):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    name: str
    description: str = ""
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    # True: the item must be about the Russia-Ukraine war (the watchlist's [context]).
    context: bool = True
    threshold: float = Field(default=1.0, gt=0)
    # A sentence naming one of these does not count for any signal of this issue ...
    unless: tuple[str, ...] = ()
    # ... unless it also names one of these.
    unless_except: tuple[str, ...] = ()
    # An item naming one of these anywhere is not about this issue (another story altogether).
    unless_anywhere: tuple[str, ...] = ()
    signals: tuple[SignalSpec, ...] = Field(min_length=1)


class ContextSpec(_Spec):
    # An item is in the Russia-Ukraine context when it names one of these.
    terms: tuple[str, ...] = Field(min_length=1)
    # A sentence naming one of these, and none of ``terms``, is about another conflict or
    # place and is not evidence for any context-bound issue.
    elsewhere: tuple[str, ...] = ()
    # None: the context is required. A number: an item that names neither the war nor
    # anywhere else (a paragraph cut from a longer text, a bare headline) may still be about
    # the war, and its issues need this many times their threshold.
    unnamed_factor: float | None = Field(default=None, ge=1.0)


class PartySpec(_Spec):
    """A party whose stated position makes a development (a government, an alliance...)."""

    name: str
    terms: tuple[str, ...] = Field(min_length=1)


class Watchlist(_Spec):
    version: Literal[1] = 1
    context: ContextSpec
    groups: dict[str, tuple[str, ...]] = {}
    parties: dict[str, PartySpec] = {}
    issues: tuple[IssueSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Watchlist:
        seen: set[str] = set()
        for issue in self.issues:
            if issue.id in seen:
                raise ValueError(f"issue id {issue.id!r} appears twice")
            seen.add(issue.id)
        return self

    def issue(self, issue_id: str) -> IssueSpec:
        for issue in self.issues:
            if issue.id == issue_id:
                return issue
        raise KeyError(issue_id)

    @property
    def issue_ids(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.issues)


def parse_watchlist(text: str, origin: str = "watchlist") -> Watchlist:
    """Parse and validate TOML text; every pattern is compiled once here to refuse bad ones."""
    watchlist = parse_toml_model(text, Watchlist, origin)
    _check_patterns(watchlist, origin)
    return watchlist


def load_watchlist(path: Path) -> Watchlist:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"watchlist {path}: cannot be read: {exc}") from exc
    return parse_watchlist(text, f"watchlist {path}")


def _check_patterns(watchlist: Watchlist, origin: str) -> None:
    groups = watchlist.groups

    def check(terms: tuple[str, ...], where: str) -> None:
        if not terms:
            return
        try:
            compile_terms(terms, groups)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {where}: {exc}") from exc

    check(watchlist.context.terms, "context.terms")
    check(watchlist.context.elsewhere, "context.elsewhere")
    for name, party in watchlist.parties.items():
        check(party.terms, f"parties.{name}.terms")
    for issue in watchlist.issues:
        check(issue.unless, f"issue {issue.id!r}: unless")
        check(issue.unless_except, f"issue {issue.id!r}: unless_except")
        check(issue.unless_anywhere, f"issue {issue.id!r}: unless_anywhere")
        for n, signal in enumerate(issue.signals):
            where = f"issue {issue.id!r}: signals[{n}]"
            check(signal.terms, f"{where}.terms")
            check(signal.requires, f"{where}.requires")
            check(signal.unless, f"{where}.unless")
            check(signal.unless_except, f"{where}.unless_except")
