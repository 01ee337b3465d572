"""``IssueClassifier``: which tracked issues an item is about, and whether it tells of an event.

Two layers make one judgement:

- the watchlist rules (``processors.rules``): explainable, editable by a user in any language,
  and the only layer for an issue the model was not trained on (a user's own);
- the learned model (``processors.model``), trained on the labelled corpus, which reads the
  item's words together with the rules' evidence. For the issues it knows, its calibrated
  probability against the threshold chosen on the dev split decides.

Evidence sentences come from the rules when they found some, else from the sentence whose words
weigh most for the issue in the model, so that every label can say why. An item that does not
name the war is not read further (most news), exactly as with the rules alone.

The item's *kind* is ``background`` (analysis, explainer, feature, recap: nothing new happened)
when the model's kind head says so, or, with no model, when its title is marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peacewatch.models import IssueMatch, ItemKind
from processors.model import KIND_HEAD, LearnedModel, item_features, sentence_features
from processors.rules import RuleClassifier, RuleReading
from processors.text import background_title
from processors.watchlist import Watchlist, load_watchlist


@dataclass(frozen=True, slots=True)
class Judgement:
    issues: tuple[IssueMatch, ...]  # best first
    kind: ItemKind


class IssueClassifier:
    """Rules and (optionally) the learned model; build once, call ``judge`` many times."""

    def __init__(self, watchlist: Watchlist, model: LearnedModel | None = None, *,
                 content_chars: int = 16000) -> None:
        self.watchlist = watchlist
        self.rules = RuleClassifier(watchlist, content_chars=content_chars)
        self.model = model
        known = set(watchlist.issue_ids)
        # The model decides the issues it was trained on that the watchlist still tracks.
        self._learned = (tuple((i, model.index[i]) for i in model.issue_ids if i in known)
                         if model is not None else ())
        self._kind = model.index.get(KIND_HEAD) if model is not None else None

    @classmethod
    def from_file(cls, path: Path, model: LearnedModel | None = None, *,
                  content_chars: int = 16000) -> IssueClassifier:
        return cls(load_watchlist(path), model, content_chars=content_chars)

    @property
    def issue_ids(self) -> tuple[str, ...]:
        return self.watchlist.issue_ids

    def classify(self, title: str, summary: str = "", content: str = "") -> tuple[IssueMatch, ...]:
        """The issues this item is about, best first; empty when none applies."""
        return self.judge(title, summary, content).issues

    def probabilities(self, title: str, summary: str = "", content: str = "") -> dict[str, float]:
        """The model's probability of each issue it decides (0 for an item that does not name
        the war: it is not read further); empty without a model."""
        reading = self.rules.read(title, summary, content)
        found = self._probabilities(reading, title, summary, content)
        return {issue: found[n] if found else 0.0 for issue, n in self._learned}

    def _probabilities(self, reading: RuleReading, title: str, summary: str,
                       content: str) -> list[float] | None:
        if self.model is None or not (reading.names_war or reading.issues):
            return None
        return self.model.probabilities(item_features(title, summary or content[:2000], reading))

    def judge(self, title: str, summary: str = "", content: str = "") -> Judgement:
        reading = self.rules.read(title, summary, content)
        probabilities = self._probabilities(reading, title, summary, content)
        if probabilities is None or self.model is None:
            matches = [reading.match(i) for i in reading.applies()]
            return Judgement(_ranked(matches), _title_kind(title))
        heads = self.model.heads
        decided = {issue for issue, _ in self._learned}
        matches = [reading.match(i) for i in reading.applies() if i not in decided]
        for issue, n in self._learned:
            if probabilities[n] >= heads[n].threshold:
                matches.append(self._match(reading, issue, round(probabilities[n], 4)))
        kind: ItemKind = _title_kind(title)
        if self._kind is not None:
            background = probabilities[self._kind] >= heads[self._kind].threshold
            kind = "background" if background else "report"
        return Judgement(_ranked(matches), kind)

    def _match(self, reading: RuleReading, issue: str, score: float) -> IssueMatch:
        if issue in reading.issues:
            return reading.match(issue, score)
        assert self.model is not None
        sentences = reading.doc.originals
        weight = {i: sum(self.model.weight(issue, f) for f in sentence_features(s))
                  for i, s in enumerate(sentences)}
        best = max(weight, key=lambda i: (weight[i], -i), default=None)
        quotes = reading.quotes((best,)) if best is not None and weight[best] > 0 else ()
        return IssueMatch(issue_id=issue, score=score, evidence=quotes)


def _ranked(matches: list[IssueMatch]) -> tuple[IssueMatch, ...]:
    return tuple(sorted(matches, key=lambda m: (-m.score, m.issue_id)))


def _title_kind(title: str) -> ItemKind:
    return "background" if background_title(title) else "report"
