"""``RuleClassifier``: the watchlist's reading of an item, issue by issue.

Pure and fast: every pattern is compiled once when the classifier is built; classifying is one
regex scan per issue over the folded, lower-cased text of title, summary and (a bounded part of)
content.

How an issue is decided:

1. Context: an issue bound to the Russia-Ukraine context applies only to items about the war.
   An item must name the war (``[context].terms``); optionally (``unnamed_factor``) an item
   that names no place at all may pass with that many times the evidence. A sentence that
   names another conflict or place (``elsewhere``: Iran, Gaza, Greenland ...) and nothing of
   the war is never evidence.
2. Evidence: each distinct term that matches (within its signal's ``requires`` / ``unless``
   conditions) adds its signal's weight times the weight of where it was found: the title
   weighs more than the summary, the summary more than the body.
3. The issue applies when the evidence reaches its threshold; the score is
   ``evidence / (evidence + threshold)``, so 0.5 at the threshold and rising towards 1.
   The evidence kept is the sentences that contributed most, so that an alert can quote why.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peacewatch.models import IssueMatch
from processors.patterns import TermSet, compile_terms, expand, start_scanners
from processors.text import fold, split_sentences
from processors.watchlist import IssueSpec, Watchlist, load_watchlist

TITLE, SUMMARY, CONTENT = 0, 1, 2
# How much a term weighs by where it is found: the title says what the item is about.
REGION_WEIGHTS = (2.0, 1.0, 0.5)
MAX_EVIDENCE = 3
MAX_EVIDENCE_CHARS = 400


@dataclass(slots=True)
class _Doc:
    """The item as the classifier reads it: one sentence per line, as written (folded) and
    lower-cased, each with its own offsets (lower-casing may change a string's length)."""

    text: str
    lowered: str
    starts: list[int]
    lower_starts: list[int]
    sentences: list[str]
    lowers: list[str]
    originals: list[str]
    regions: list[int]

    def sentence_at(self, offset: int, exact: bool) -> int:
        return bisect_right(self.starts if exact else self.lower_starts, offset) - 1

    def has(self, terms: TermSet, index: int) -> bool:
        return terms.search(self.sentences[index], self.lowers[index])

    def has_anywhere(self, terms: TermSet) -> bool:
        return terms.search(self.text, self.lowered)


@dataclass(frozen=True, slots=True)
class _Veto:
    """A sentence naming ``names`` does not count, unless it also names ``except_``."""

    names: TermSet
    except_: TermSet | None

    def applies(self, doc: _Doc, index: int) -> bool:
        if not doc.has(self.names, index):
            return False
        return self.except_ is None or not doc.has(self.except_, index)


@dataclass(frozen=True, slots=True)
class _Signal:
    terms: TermSet
    weight: float
    requires: TermSet | None
    scope: str
    unless: _Veto | None

    def holds(self, doc: _Doc, index: int) -> bool:
        if self.unless is not None and self.unless.applies(doc, index):
            return False
        if self.requires is None or doc.has(self.requires, index):
            return True
        if self.scope == "title_or_sentence":
            return bool(doc.regions and doc.regions[0] == TITLE and doc.has(self.requires, 0))
        if self.scope == "item":
            return doc.has_anywhere(self.requires)
        return False


@dataclass(frozen=True, slots=True)
class _Issue:
    id: str
    context: bool
    threshold: float
    terms: TermSet
    signals: tuple[_Signal, ...]
    unless: _Veto | None
    unless_anywhere: TermSet | None


@dataclass(frozen=True, slots=True)
class IssueEvidence:
    """What the rules found for one issue: how much evidence, against what threshold."""

    evidence: float
    threshold: float
    sentences: tuple[int, ...]  # indices into the reading's sentences, most telling first

    @property
    def applies(self) -> bool:
        return self.evidence >= self.threshold

    @property
    def score(self) -> float:
        """0.5 at the threshold, rising towards 1."""
        return round(self.evidence / (self.evidence + self.threshold), 4)


@dataclass(frozen=True, slots=True)
class RuleReading:
    """The rules' reading of one item: whether it names the war, and each issue's evidence."""

    doc: _Doc
    names_war: bool
    issues: dict[str, IssueEvidence]

    def applies(self) -> list[str]:
        return [issue_id for issue_id, e in self.issues.items() if e.applies]

    def quotes(self, sentences: tuple[int, ...]) -> tuple[str, ...]:
        return tuple(_quote(self.doc.originals[i]) for i in sentences)

    def match(self, issue_id: str, score: float | None = None) -> IssueMatch:
        """The issue as a label: its score (the rules' own unless given) and its evidence."""
        found = self.issues.get(issue_id)
        quotes = self.quotes(found.sentences) if found is not None else ()
        if score is None:
            score = found.score if found is not None else 0.0
        return IssueMatch(issue_id=issue_id, score=score, evidence=quotes)


class RuleClassifier:
    """Read items against a watchlist; build once, call ``read`` or ``classify`` many times."""

    def __init__(self, watchlist: Watchlist, *, content_chars: int = 16000) -> None:
        self.watchlist = watchlist
        self.content_chars = content_chars
        groups = watchlist.groups
        self._context = compile_terms(watchlist.context.terms, groups)
        self._elsewhere = (compile_terms(watchlist.context.elsewhere, groups)
                           if watchlist.context.elsewhere else None)
        self._unnamed_factor = watchlist.context.unnamed_factor
        self._issues = tuple(_compile_issue(spec, groups) for spec in watchlist.issues)
        self._all_need_context = all(issue.context for issue in self._issues)
        # One zero-width scan finds every position where some issue's term starts; each issue
        # then only tries those positions. Eleven full scans cost ten times more.
        every = [t for spec in watchlist.issues for s in spec.signals
                 for t in expand(s.terms, groups)]
        self._scan_lower, self._scan_exact = start_scanners(every)

    @classmethod
    def from_file(cls, path: Path, *, content_chars: int = 16000) -> RuleClassifier:
        return cls(load_watchlist(path), content_chars=content_chars)

    @property
    def issue_ids(self) -> tuple[str, ...]:
        return self.watchlist.issue_ids

    def classify(self, title: str, summary: str = "", content: str = "") -> tuple[IssueMatch, ...]:
        """The issues this item is about, best first; empty when none applies."""
        reading = self.read(title, summary, content)
        matches = [reading.match(issue_id) for issue_id in reading.applies()]
        matches.sort(key=lambda m: -m.score)
        return tuple(matches)

    def read(self, title: str, summary: str = "", content: str = "") -> RuleReading:
        """The rules' evidence for every issue, whether or not it reaches its threshold."""
        doc = self._read(title, summary, content)
        factor = 1.0
        named = doc.has_anywhere(self._context)
        if not named:
            unnamed = self._elsewhere is None or not doc.has_anywhere(self._elsewhere)
            factor = self._unnamed_factor if unnamed and self._unnamed_factor else 0.0
        reading = RuleReading(doc, named, {})
        if not factor and self._all_need_context:
            return reading  # most news is not about this war: no need to scan it for terms
        starts = _Starts(
            [m.start() for m in self._scan_lower.finditer(doc.lowered)]
            if self._scan_lower is not None else [],
            [m.start() for m in self._scan_exact.finditer(doc.text)]
            if self._scan_exact is not None else [],
        )
        elsewhere: dict[int, bool] = {}
        for issue in self._issues:
            if issue.context and not factor:
                continue
            found = self._judge(issue, doc, starts, elsewhere)
            if found is not None:
                evidence, sentences = found
                threshold = issue.threshold * (factor if issue.context else 1.0)
                reading.issues[issue.id] = IssueEvidence(evidence, threshold, sentences)
        return reading

    # -- internals -----------------------------------------------------------------------------

    def _read(self, title: str, summary: str, content: str) -> _Doc:
        parts: list[tuple[int, str]] = []
        if title.strip():
            parts.append((TITLE, " ".join(title.split())))
        parts += [(SUMMARY, s) for s in split_sentences(summary)]
        if content:
            parts += [(CONTENT, s) for s in split_sentences(content[: self.content_chars])]
        doc = _Doc("", "", [], [], [], [], [], [])
        offset = lower_offset = 0
        for region, sentence in parts:
            folded = fold(sentence).replace("\n", " ")
            lowered = folded.lower()
            doc.starts.append(offset)
            doc.lower_starts.append(lower_offset)
            doc.sentences.append(folded)
            doc.lowers.append(lowered)
            doc.originals.append(sentence)
            doc.regions.append(region)
            offset += len(folded) + 1
            lower_offset += len(lowered) + 1
        doc.text = "\n".join(doc.sentences)
        doc.lowered = "\n".join(doc.lowers)
        return doc

    def _is_elsewhere(self, doc: _Doc, index: int, cache: dict[int, bool]) -> bool:
        if self._elsewhere is None:
            return False
        if index not in cache:
            cache[index] = doc.has(self._elsewhere, index) and not doc.has(self._context, index)
        return cache[index]

    def _judge(
        self, issue: _Issue, doc: _Doc, starts: _Starts, elsewhere: dict[int, bool],
    ) -> tuple[float, tuple[int, ...]] | None:
        """The issue's evidence in ``doc``, and the sentences that weigh most (None: none)."""
        if issue.unless_anywhere is not None and doc.has_anywhere(issue.unless_anywhere):
            return None
        best: dict[tuple[int, str], tuple[float, int]] = {}
        vetoed: dict[int, bool] = {}
        for m, exact in _matches(issue.terms, doc, starts):
            index = doc.sentence_at(m.start(), exact)
            if issue.context and self._is_elsewhere(doc, index, elsewhere):
                continue
            if issue.unless is not None:
                if index not in vetoed:
                    vetoed[index] = issue.unless.applies(doc, index)
                if vetoed[index]:
                    continue
            n = _signal_of(issue, m.string, m.start(), exact)
            signal = issue.signals[n]
            if not signal.holds(doc, index):
                continue
            key = (n, _term_key(m.group()))
            value = signal.weight * REGION_WEIGHTS[doc.regions[index]]
            if key not in best or value > best[key][0]:
                best[key] = (value, index)
        if not best:
            return None
        by_sentence: dict[int, float] = {}
        for value, index in best.values():
            by_sentence[index] = by_sentence.get(index, 0.0) + value
        ranked = sorted(by_sentence, key=lambda i: (-by_sentence[i], i))[:MAX_EVIDENCE]
        return sum(v for v, _ in best.values()), tuple(sorted(ranked))


@dataclass(frozen=True, slots=True)
class _Starts:
    """Where some term of some issue starts, in the lower-cased and in the written text."""

    lower: list[int]
    exact: list[int]


def _matches(terms: TermSet, doc: _Doc, starts: _Starts) -> Iterator[tuple[re.Match[str], bool]]:
    """The issue's non-overlapping matches, like ``finditer``, tried only at ``starts``."""
    for pattern, text, positions, exact in (
        (terms.lower, doc.lowered, starts.lower, False),
        (terms.exact, doc.text, starts.exact, True),
    ):
        if pattern is None:
            continue
        end = -1
        for pos in positions:
            if pos < end:
                continue
            m = pattern.match(text, pos)
            if m is not None and m.end() > pos:
                end = m.end()
                yield m, exact


def _signal_of(issue: _Issue, text: str, start: int, exact: bool) -> int:
    """Which signal matched at ``start``: the one with the longest match (then the heaviest)."""
    if len(issue.signals) == 1:
        return 0
    best, best_key = 0, (-1, 0.0)
    for n, signal in enumerate(issue.signals):
        end = signal.terms.match_end(text, start, exact)
        if end >= 0 and (end, signal.weight) > best_key:
            best, best_key = n, (end, signal.weight)
    return best


def _term_key(matched: str) -> str:
    """Inflections of one term count once: "sanctions" and "sanction" are one piece of evidence."""
    key = matched.casefold().replace("-", " ")
    key = key.removesuffix("'s").removesuffix("'")
    return key[:-1] if len(key) > 3 and key.endswith("s") else key


def _quote(sentence: str) -> str:
    if len(sentence) <= MAX_EVIDENCE_CHARS:
        return sentence
    return sentence[: MAX_EVIDENCE_CHARS - 1].rsplit(" ", 1)[0] + "\u2026"


def _compile_issue(spec: IssueSpec, groups: dict[str, tuple[str, ...]]) -> _Issue:
    # One scan per issue over the terms of all its signals; the signal of a match is found
    # afterwards (matches are few), which keeps the scanning regex a plain trie.
    every_term = [t for s in spec.signals for t in expand(s.terms, groups)]
    signals = tuple(
        _Signal(
            terms=compile_terms(s.terms, groups),
            weight=s.weight,
            requires=compile_terms(s.requires, groups) if s.requires else None,
            scope=s.requires_scope,
            unless=_veto(s.unless, s.unless_except, groups),
        )
        for s in spec.signals
    )
    return _Issue(
        id=spec.id,
        context=spec.context,
        threshold=spec.threshold,
        terms=compile_terms(every_term, {}),
        signals=signals,
        unless=_veto(spec.unless, spec.unless_except, groups),
        unless_anywhere=(compile_terms(spec.unless_anywhere, groups)
                         if spec.unless_anywhere else None),
    )


def _veto(
    names: tuple[str, ...], except_: tuple[str, ...], groups: dict[str, tuple[str, ...]]
) -> _Veto | None:
    if not names:
        return None
    return _Veto(compile_terms(names, groups),
                 compile_terms(except_, groups) if except_ else None)
