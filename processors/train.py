"""``peacewatch train``: the learned model, built from a labelled corpus, reproducibly.

The corpus is JSON Lines of labelled items (``eval/corpus/build.py texts`` writes them from
the shared data; ``peacewatch feedback export`` will write a user's own), each with ``split``:

- ``train``: each head is fitted on it to be chosen;
- ``dev``: each head's regularisation and threshold are chosen on it (pooled with out-of-fold
  predictions on train, since dev alone holds only a handful of some issues' positives). Once
  chosen, each head is fitted again on train and dev together, with that regularisation and
  threshold: the shipped model learns from every item it may, and the dev figures recorded in
  it are those of the fit on train alone, before dev was learned (``meta["selection"]``);
- ``test``: never read here. ``peacewatch eval`` reports it.

One logistic regression per head (``processors.model``): each issue of the watchlist with at
least ``min_positives`` training positives, and the kind head (background or report). The same
data, watchlist and seed give the same model, byte for byte: features are sorted, liblinear is
seeded, folds are seeded, weights are rounded. scikit-learn is needed here only (the ``train``
extra); the daemon scores with plain Python.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peacewatch.errors import InputError, ModelError
from peacewatch.itemfile import item_fields, item_id
from peacewatch.jsonl import read_jsonl
from processors.classify import IssueClassifier
from processors.entities import NO_ENTITIES, Entities
from processors.evaluate import evaluate
from processors.model import KIND_FEATURES, KIND_HEAD, Head, LearnedModel, item_features
from processors.rules import RuleClassifier
from processors.stories import story_stems
from processors.watchlist import Watchlist

SPLITS = ("train", "dev", "test")
KIND_BETA = 0.5


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    title: str
    summary: str
    split: str
    labels: tuple[str, ...]
    kind: str | None = None
    language: str | None = None
    source: str | None = None

    def has(self, head: str) -> bool:
        if head == KIND_HEAD:
            return self.kind == "background"
        return head in self.labels


def read_labelled(lines: Iterable[str], origin: str) -> list[LabelledItem]:
    """Labelled items from JSON Lines; items without labels are skipped (not yet labelled)."""
    out = []
    for number, raw in read_jsonl(lines, origin):
        if isinstance(raw, str):
            raise ModelError(raw)
        try:
            item_id(raw)  # every line has one, labelled or not yet
        except InputError as exc:
            raise ModelError(f"{origin}:{number}: {exc}") from exc
        if raw.get("labels") is None:
            continue
        split = raw.get("split")
        if split not in SPLITS:
            raise ModelError(f"{origin}:{number}: 'split' must be one of {', '.join(SPLITS)}")
        try:
            item = item_fields(raw)
        except InputError as exc:
            raise ModelError(f"{origin}:{number}: {exc}") from exc
        out.append(LabelledItem(
            id=item.id, title=item.title, summary=item.summary or item.content, split=split,
            labels=tuple(sorted(raw["labels"])), kind=raw.get("kind"), language=item.language,
            source=item.source))
    return out


def read_labelled_file(path: Path) -> list[LabelledItem]:
    try:
        with path.open(encoding="utf-8") as handle:
            return read_labelled(handle, str(path))
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror}") from exc


@dataclass(frozen=True, slots=True)
class TrainConfig:
    seed: int = 0
    c_grid: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    folds: int = 5
    min_positives: int = 3
    # Features seen in fewer training items than this are not learned (names, typos, one-offs).
    min_count: int = 2
    # Weights smaller than this are dropped from the artefact: they change no decision.
    min_weight: float = 0.01
    # A subset of the train split (the learning curve), drawn with ``seed``.
    train_fraction: float = 1.0


@dataclass
class HeadReport:
    name: str
    c: float
    threshold: float
    train_positives: int
    dev_positives: int
    dev_f1: float


@dataclass
class TrainResult:
    model: LearnedModel  # fitted on train and dev, as chosen
    heads: list[HeadReport] = field(default_factory=list)
    # Fitted on train alone: the model that was chosen on dev, whose dev figures are honest.
    selection: LearnedModel | None = None


def data_digest(items: Sequence[LabelledItem]) -> str:
    h = hashlib.sha256()
    for item in sorted(items, key=lambda i: i.id):
        h.update(json.dumps([item.id, item.split, item.labels, item.kind, item.title,
                             item.summary], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


@dataclass
class _Fitted:
    head: Head
    coef: Any
    report: HeadReport


class _Learner:
    """scikit-learn, imported when training starts (the daemon never needs it)."""

    def __init__(self, config: TrainConfig) -> None:
        try:
            import numpy as np  # noqa: PLC0415 - optional dependency, imported when used
            from scipy.sparse import csr_matrix  # noqa: PLC0415 - optional dependency, imported when used
            from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - optional dependency, imported when used
            from sklearn.model_selection import StratifiedKFold  # noqa: PLC0415 - optional dependency, imported when used
        except ImportError as exc:
            raise ModelError("peacewatch train needs scikit-learn: pip install "
                             "'peacewatch[train]' (make test and make run install it)") from exc
        self.np, self.csr_matrix = np, csr_matrix
        self._logistic, self._folds = LogisticRegression, StratifiedKFold
        self.config = config

    def matrix(self, features: list[dict[str, float]], vocabulary: list[str]) -> Any:
        """Items as a sparse matrix over a sorted vocabulary (the train split's features)."""
        column = {f: n for n, f in enumerate(vocabulary)}
        data: list[float] = []
        indices: list[int] = []
        indptr = [0]
        for row in features:
            cells = sorted((column[f], v) for f, v in row.items() if f in column)
            indices += [c for c, _ in cells]
            data += [v for _, v in cells]
            indptr.append(len(indices))
        return self.csr_matrix((data, indices, indptr), shape=(len(features), len(vocabulary)))

    def fit(self, x: Any, y: Any, c: float) -> Any:
        return self._logistic(C=c, solver="liblinear", class_weight="balanced", max_iter=2000,
                              random_state=self.config.seed).fit(x, y)

    def head(self, name: str, x: Any, y: Any, x_dev: Any, y_dev: list[bool]) -> _Fitted:
        """One head fitted on train: its C and threshold chosen on dev (with out-of-fold
        predictions on train)."""
        best: tuple[float, float, float, Any] | None = None
        for c in self.config.c_grid:
            model = self.fit(x, y, c)
            pooled_p = [*model.predict_proba(x_dev)[:, 1], *self.out_of_fold(x, y, c)]
            pooled_y = [*y_dev, *map(bool, y)]
            # A report taken for background loses an event; an explainer taken for a report
            # costs one needless alert: the kind head says "background" only when sure.
            threshold, score = best_threshold(pooled_p, pooled_y,
                                              beta=KIND_BETA if name == KIND_HEAD else 1.0)
            if best is None or score > best[0] + 1e-9:
                best = (score, c, threshold, model)
        assert best is not None
        _, c, threshold, model = best
        dev_f1 = _f1([p >= threshold for p in model.predict_proba(x_dev)[:, 1]], y_dev)
        return _Fitted(Head(name, round(float(model.intercept_[0]), 6), threshold),
                       model.coef_[0],
                       HeadReport(name, c, threshold, int(y.sum()), sum(y_dev), dev_f1))

    def out_of_fold(self, x: Any, y: Any, c: float) -> list[float]:
        """Each training item's probability from a model fitted without it."""
        out = self.np.zeros(len(y))
        folds = self._folds(min(self.config.folds, int(y.sum())), shuffle=True,
                            random_state=self.config.seed)
        for fit_rows, held_rows in folds.split(self.np.zeros(len(y)), y):
            model = self.fit(x[fit_rows], y[fit_rows], c)
            out[held_rows] = model.predict_proba(x[held_rows])[:, 1]
        return [float(p) for p in out]


def best_threshold(probabilities: Sequence[float], truth: Sequence[bool],
                   beta: float = 1.0) -> tuple[float, float]:
    """The threshold (on a 0.025 grid) with the best F-beta, and that score; ties go to the
    higher threshold. beta < 1 weighs precision more."""
    best = (0.0, 0.5)
    b2 = beta * beta
    pairs = sorted(zip(probabilities, truth, strict=True))
    positives = sum(1 for _, y in pairs if y)
    for step in range(2, 39):
        t = round(step * 0.025, 3)
        above = [y for p, y in pairs if p >= t]
        tp = sum(above)
        fp, fn = len(above) - tp, positives - tp
        score = (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp) if tp else 0.0
        if score >= best[0]:
            best = (score, t)
    return round(best[1], 3), best[0]


def story_idf(items: Sequence[LabelledItem], entities: Entities) -> dict[str, float]:
    """How rare each story term (stem or entity) is over ``items``: log((n + 1) / (df + 1)),
    kept for terms seen at least twice (rarer ones count as unseen)."""
    df: dict[str, int] = {}
    for item in items:
        text = f"{item.title}\n{item.summary}"
        terms = set(story_stems(text)) | {"e:" + e for e in entities.found_in(text)}
        for term in terms:
            df[term] = df.get(term, 0) + 1
    n = len(items)
    return {t: round(math.log((n + 1) / (d + 1)), 3) for t, d in sorted(df.items()) if d >= 2}


def train(items: Sequence[LabelledItem], watchlist: Watchlist,
          config: TrainConfig | None = None, entities: Entities = NO_ENTITIES) -> TrainResult:
    """Fit every head on train and choose its C and threshold on dev; then fit the chosen
    heads again on train and dev together. Never reads test."""
    config = config or TrainConfig()
    learn = _Learner(config)
    rules = RuleClassifier(watchlist)
    # Sorted: the same items in any order give the same model.
    items = sorted(items, key=lambda i: i.id)
    train_items = [i for i in items if i.split == "train"]
    if config.train_fraction < 1.0:
        rng = random.Random(config.seed)
        train_items = rng.sample(train_items, round(len(train_items) * config.train_fraction))
        train_items.sort(key=lambda i: i.id)
    dev_items = [i for i in items if i.split == "dev"]
    if not train_items or not dev_items:
        raise ModelError("the corpus needs items in both the train and the dev split")
    features = {i.id: item_features(i.title, i.summary, rules.read(i.title, i.summary))
                for i in (*train_items, *dev_items)}

    chosen = _Fit(learn, watchlist, train_items, features)
    reports = [chosen.choose(name, dev_items) for name in chosen.trainable()]
    both = sorted((*train_items, *dev_items), key=lambda i: i.id)
    final = _Fit(learn, watchlist, both, features)
    for report in reports:
        final.refit(report)

    idf = story_idf([i for i in items if i.split != "test"], entities)
    selection = chosen.model({}, idf)
    meta = {
        "data": data_digest(items), "seed": config.seed, "train_items": len(train_items),
        "dev_items": len(dev_items), "fitted_items": len(both),
        "train_fraction": config.train_fraction,
        "watchlist_issues": list(watchlist.issue_ids),
        "selection": _dev_figures(selection, watchlist, dev_items),
    }
    return TrainResult(final.model(meta, idf), reports, selection)


class _Fit:
    """The heads of one model fitted on one set of items, over those items' vocabulary."""

    def __init__(self, learn: _Learner, watchlist: Watchlist, items: list[LabelledItem],
                 features: dict[str, dict[str, float]]) -> None:
        self.learn, self.watchlist, self.items, self.features = learn, watchlist, items, features
        counts: dict[str, int] = {}
        for item in items:
            for f in features[item.id]:
                counts[f] = counts.get(f, 0) + 1
        self.vocabulary = sorted(f for f, n in counts.items() if n >= learn.config.min_count)
        self.x = learn.matrix([features[i.id] for i in items], self.vocabulary)
        self.kind_columns = learn.np.array(
            [n for n, f in enumerate(self.vocabulary) if f.startswith(KIND_FEATURES)])
        self.heads: list[Head] = []
        self.columns: list[Any] = []

    def trainable(self) -> list[str]:
        """The heads with enough positives to learn; the rules alone decide the others."""
        return [name for name in (*self.watchlist.issue_ids, KIND_HEAD)
                if sum(self._truth(name, self.items)) >= self.learn.config.min_positives]

    def choose(self, name: str, dev_items: list[LabelledItem]) -> HeadReport:
        """Fit ``name`` here, its C and threshold chosen on ``dev_items``."""
        dev = [i for i in dev_items if _asked(name, i)]
        x_dev = self.learn.matrix([self.features[i.id] for i in dev], self.vocabulary)
        rows = self._rows(name)
        fitted = self.learn.head(name, self.x[rows][:, self._columns(name)],
                                 self.np.array(self._truth(name, self.items)),
                                 x_dev[:, self._columns(name)], self._truth(name, dev))
        self._add(fitted.head, fitted.coef, name)
        return fitted.report

    def refit(self, report: HeadReport) -> None:
        """Fit a head chosen elsewhere here, with its C and threshold."""
        fitted = self.learn.fit(self.x[self._rows(report.name)][:, self._columns(report.name)],
                                self.np.array(self._truth(report.name, self.items)), report.c)
        head = Head(report.name, round(float(fitted.intercept_[0]), 6), report.threshold)
        self._add(head, fitted.coef_[0], report.name)

    def model(self, meta: dict[str, Any], idf: dict[str, float]) -> LearnedModel:
        weights: dict[str, list[tuple[int, float]]] = {}
        for n, coef in enumerate(self.columns):
            for j in self.np.flatnonzero(self.np.abs(coef) >= self.learn.config.min_weight):
                weights.setdefault(self.vocabulary[int(j)], []).append(
                    (n, round(float(coef[j]), 6)))
        return LearnedModel(self.heads, weights, meta, idf)

    @property
    def np(self) -> Any:
        return self.learn.np

    def _add(self, head: Head, coef: Any, name: str) -> None:
        if name == KIND_HEAD:  # back onto the whole vocabulary, zero off the genre features
            full = self.np.zeros(len(self.vocabulary))
            full[self.kind_columns] = coef
            coef = full
        self.heads.append(head)
        self.columns.append(coef)

    def _rows(self, name: str) -> Any:
        return self.np.array([_asked(name, i) for i in self.items])

    def _columns(self, name: str) -> Any:
        return self.kind_columns if name == KIND_HEAD else slice(None)

    @staticmethod
    def _truth(name: str, items: Sequence[LabelledItem]) -> list[bool]:
        return [i.has(name) for i in items if _asked(name, i)]


def _asked(head: str, item: LabelledItem) -> bool:
    """Whether a head is asked of an item: the kind only of items on an issue."""
    return head != KIND_HEAD or bool(item.labels)


def _dev_figures(model: LearnedModel, watchlist: Watchlist,
                 dev_items: Sequence[LabelledItem]) -> dict[str, Any]:
    """The classifier's F1 per issue, and macro-F1, on dev, with the model chosen on it."""
    classifier = IssueClassifier(watchlist, model)
    predicted = {i.id: [m.issue_id for m in classifier.classify(i.title, i.summary)]
                 for i in dev_items}
    report = evaluate({i.id: i.labels for i in dev_items}, predicted, watchlist.issue_ids)
    return {"dev_macro_f1": round(report.macro[2], 4),
            "dev_f1": {s.label: round(s.f1, 4) for s in report.labels}}


def _f1(predicted: Sequence[bool], truth: Sequence[bool]) -> float:
    tp = sum(1 for p, y in zip(predicted, truth, strict=True) if p and y)
    fp = sum(1 for p, y in zip(predicted, truth, strict=True) if p and not y)
    fn = sum(1 for p, y in zip(predicted, truth, strict=True) if not p and y)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
