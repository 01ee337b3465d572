"""The learned layer: one logistic model per head over an item's words and the rules' evidence.

A *head* is a tracked issue, or ``kind:background`` (whether an item tells nothing new: an
analysis, explainer, feature or recap). Each head scores an item with
``sigmoid(bias + sum of the weights of its features)`` and says yes at its own threshold, chosen
on the dev split when the model was trained (``processors.train``).

Features (``item_features``) are written so that they carry across languages and outlets: the
title's and the body's words, five-letter stems (a cheap stemmer for inflected languages),
word pairs, and the watchlist rules' evidence for every issue, which a user can extend in any
language without retraining. The model is data: ``model.json``, versioned. A model built by
other feature code, or in another format, is refused at start-up with ``ModelError``.

Pure: loading reads a file; scoring is arithmetic over dicts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peacewatch.errors import ModelError
from processors.rules import RuleReading
from processors.text import background_title, wordlist, words

FORMAT = 1
# Bump whenever ``item_features`` changes what it returns: a model trained on other features
# would read this code's features wrongly, silently.
FEATURES_VERSION = 3
KIND_HEAD = "kind:background"
# The features the kind head reads (genre_features): the others say what an item is about.
KIND_FEATURES = ("g:", "k:")
BODY_WORDS = 150
STEM = 5


def item_features(title: str, body: str, reading: RuleReading) -> dict[str, float]:
    """The features of one item: what the model reads. ``body`` is the summary (or content)."""
    title_words = words(title)
    body_words = words(body)[:BODY_WORDS]
    out: dict[str, float] = {}
    for word in title_words:
        out["t:" + word] = 1.0
    every = title_words + body_words
    for word in every:
        out["w:" + word] = 1.0
        if len(word) > STEM:
            out["s:" + word[:STEM]] = 1.0
    sequence = [*title_words, "|", *body_words]
    for first, second in itertools.pairwise(sequence):
        out[f"b:{first} {second}"] = 1.0
    for issue_id, found in reading.issues.items():
        out["r:" + issue_id] = math.log1p(found.evidence) / found.threshold
        if found.applies:
            out["ra:" + issue_id] = 1.0
    if reading.names_war:
        out["war"] = 1.0
    out.update(genre_features(title, body))
    return out


_QUESTION_START = wordlist("""
how why what who where when which is are can could will would should does do did
jak dlaczego czy co kto gdzie kiedy wie warum was wer wo wann ist sind kann wird
як чому що хто де коли чи как почему что кто где когда ли""")
_ADDRESS = wordlist("we you our your us i my nasz wasz wir ihr unser мы ви ми ваш наш")
# Words that say how an item tells, not what it is about: reporting verbs, the vocabulary of
# analysis, recaps, interviews and media pages, in the languages read.
_GENRE_WORDS = wordlist("""
analysis explainer explained opinion comment editorial podcast video watch live blog briefing
review recap interview profile inside feature letters papers newspaper headlines round-up
roundup takeaways glance know listen photos pictures guide timeline history ago
says said reports report told tells claims announces announced confirms confirmed agrees agreed
signs signed rejects rejected proposes proposed warns warned calls called urges urged vows
pledges could might may
analiza komentarz opinia wywiad podcast przegląd relacja mówi powiedział twierdzi ogłosił
analyse kommentar meinung interview überblick sagt erklärt kündigt
аналіз коментар інтерв'ю огляд заявив каже аналитика комментарий интервью обзор заявил
""") | _QUESTION_START | _ADDRESS


def genre_features(title: str, body: str) -> dict[str, float]:
    """How an item tells, whatever it tells of: the marks of analysis, explainers, opinion
    and recaps (``g:``), and the words of telling where they stand (``k:``). The kind head
    reads these alone, so that it judges the genre and not the topic."""
    out: dict[str, float] = {}
    head = title.strip()
    title_words = words(head)
    for n, word in enumerate(title_words):
        if word in _GENRE_WORDS:
            out["k:t:" + word] = 1.0
            if n < 2:
                out[f"k:at{n}:" + word] = 1.0
    for word in words(body[:600]):
        if word in _GENRE_WORDS:
            out["k:w:" + word] = 1.0
    out[f"k:title-length:{min(len(title_words) // 4, 5)}"] = 1.0
    first = title_words[:1]
    if background_title(head):
        out["g:background-title"] = 1.0
    if head.endswith("?") or (first and first[0] in _QUESTION_START):
        out["g:question"] = 1.0
    if ":" in head[:60] or " | " in head:
        out["g:labelled-title"] = 1.0
    if head[:1] in "'\"\u2018\u201c\u201e\u00ab":
        out["g:quote-title"] = 1.0
    if _ADDRESS & set(words(body[:400])):
        out["g:addresses-reader"] = 1.0
    if not body.strip():
        out["g:no-body"] = 1.0
    return out


def sentence_features(sentence: str) -> list[str]:
    """The word, stem and pair features of one sentence: what an evidence quote is chosen by."""
    ws = words(sentence)
    out = [f"w:{w}" for w in ws] + [f"s:{w[:STEM]}" for w in ws if len(w) > STEM]
    return out + [f"b:{a} {b}" for a, b in itertools.pairwise(ws)]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Head:
    name: str
    bias: float
    threshold: float


class LearnedModel:
    """A trained model: heads, and per feature the weights it has in each head."""

    def __init__(self, heads: Sequence[Head], weights: Mapping[str, Sequence[tuple[int, float]]],
                 meta: Mapping[str, Any] | None = None,
                 idf: Mapping[str, float] | None = None) -> None:
        self.heads = tuple(heads)
        self.index = {h.name: n for n, h in enumerate(self.heads)}
        self.weights = {f: tuple(ws) for f, ws in weights.items()}
        self.meta = dict(meta or {})
        # How rare each story term is in the training corpus (processors.stories).
        self.idf = dict(idf or {})

    @property
    def issue_ids(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.heads if h.name != KIND_HEAD)

    def probabilities(self, features: Mapping[str, float]) -> list[float]:
        """Each head's probability, in the order of ``heads``."""
        z = [h.bias for h in self.heads]
        get = self.weights.get
        for feature, value in features.items():
            found = get(feature)
            if found is not None:
                for head, weight in found:
                    z[head] += weight * value
        return [_sigmoid(v) for v in z]

    def weight(self, head: str, feature: str) -> float:
        n = self.index[head]
        return next((w for h, w in self.weights.get(feature, ()) if h == n), 0.0)

    # -- the artefact ------------------------------------------------------------------------

    def to_json(self) -> str:
        """Byte-stable: the same model always gives the same text."""
        return json.dumps({
            "format": FORMAT,
            "features_version": FEATURES_VERSION,
            "meta": self.meta,
            "heads": [{"name": h.name, "bias": h.bias, "threshold": h.threshold}
                      for h in self.heads],
            "weights": {f: [[h, w] for h, w in ws] for f, ws in sorted(self.weights.items())},
            "idf": self.idf,
        }, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str = "model") -> LearnedModel:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{origin}: not a model file (bad JSON: {exc.msg})") from exc
        if not isinstance(raw, dict):
            raise ModelError(f"{origin}: not a model file")
        if raw.get("format") != FORMAT:
            raise ModelError(f"{origin}: model format {raw.get('format')!r}; this peacewatch "
                             f"reads format {FORMAT}: run `peacewatch train` to rebuild it")
        if raw.get("features_version") != FEATURES_VERSION:
            raise ModelError(
                f"{origin}: trained on features v{raw.get('features_version')}; this "
                f"peacewatch computes v{FEATURES_VERSION}: run `peacewatch train` to rebuild it")
        try:
            heads = [Head(str(h["name"]), float(h["bias"]), float(h["threshold"]))
                     for h in raw["heads"]]
            weights = {str(f): [(int(h), float(w)) for h, w in ws]
                       for f, ws in raw["weights"].items()}
            idf = {str(t): float(v) for t, v in (raw.get("idf") or {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{origin}: malformed model ({exc!r})") from exc
        if any(h < 0 or h >= len(heads) for ws in weights.values() for h, _ in ws):
            raise ModelError(f"{origin}: malformed model (a weight names no head)")
        return cls(heads, weights, raw.get("meta") or {}, idf)

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"model {path}: cannot be read: {exc.strerror}") from exc
        return cls.from_json(text, f"model {path}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
