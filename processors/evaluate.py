"""Precision, recall and F1 of multi-label predictions against a gold set (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)


@dataclass(frozen=True, slots=True)
class Report:
    labels: tuple[LabelScore, ...]
    items: int
    missing: tuple[str, ...]  # gold ids with no prediction (counted as predicting nothing)

    @property
    def micro(self) -> tuple[float, float, float]:
        tp = sum(s.tp for s in self.labels)
        fp = sum(s.fp for s in self.labels)
        fn = sum(s.fn for s in self.labels)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r, _f1(p, r)

    @property
    def macro(self) -> tuple[float, float, float]:
        """Averages over labels that have gold positives or predictions."""
        scored = [s for s in self.labels if s.tp + s.fp + s.fn]
        if not scored:
            return 0.0, 0.0, 0.0
        n = len(scored)
        return (sum(s.precision for s in scored) / n, sum(s.recall for s in scored) / n,
                sum(s.f1 for s in scored) / n)


    def macro_f1(self, min_support: int = 1) -> float | None:
        """Mean F1 over the labels with at least ``min_support`` gold positives (None: none)."""
        scored = [s.f1 for s in self.labels if s.support >= min_support]
        return sum(scored) / len(scored) if scored else None


def calibration_error(probabilities: Sequence[float], truth: Sequence[bool],
                      bins: int = 10) -> float:
    """Expected calibration error: the mean gap between predicted probability and observed
    frequency, over equal-width probability bins, weighted by how many predictions fall in each."""
    if not probabilities:
        return 0.0
    groups: dict[int, list[tuple[float, bool]]] = {}
    for p, y in zip(probabilities, truth, strict=True):
        groups.setdefault(min(int(p * bins), bins - 1), []).append((p, y))
    gap = 0.0
    for members in groups.values():
        mean_p = sum(p for p, _ in members) / len(members)
        rate = sum(1 for _, y in members if y) / len(members)
        gap += len(members) * abs(mean_p - rate)
    return gap / len(probabilities)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(
    gold: Mapping[str, Iterable[str]],
    predicted: Mapping[str, Iterable[str]],
    labels: Sequence[str] | None = None,
) -> Report:
    """Score predictions for the gold ids; ``labels`` fixes the label order (and set)."""
    gold_sets = {k: set(v) for k, v in gold.items()}
    pred_sets = {k: set(predicted.get(k, ())) for k in gold_sets}
    if labels is None:
        seen = set().union(*gold_sets.values(), *pred_sets.values()) if gold_sets else set()
        labels = sorted(seen)
    counts = {label: [0, 0, 0] for label in labels}
    for item_id, truth in gold_sets.items():
        guess = pred_sets[item_id]
        for label in labels:
            c = counts[label]
            if label in truth and label in guess:
                c[0] += 1
            elif label in guess:
                c[1] += 1
            elif label in truth:
                c[2] += 1
    missing = tuple(k for k in gold_sets if k not in predicted)
    return Report(
        labels=tuple(LabelScore(label, *counts[label]) for label in labels),
        items=len(gold_sets),
        missing=missing,
    )


def format_report(report: Report) -> str:
    """A fixed-width table: one row per label, then micro and macro averages."""
    lines = [f"{'issue':<22}{'P':>7}{'R':>7}{'F1':>7}{'TP':>6}{'FP':>6}{'FN':>6}{'gold':>6}"]
    for s in report.labels:
        lines.append(f"{s.label:<22}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
                     f"{s.tp:>6}{s.fp:>6}{s.fn:>6}{s.support:>6}")
    for name, (p, r, f) in (("micro avg", report.micro), ("macro avg", report.macro)):
        lines.append(f"{name:<22}{p:>7.3f}{r:>7.3f}{f:>7.3f}")
    lines.append(f"items: {report.items}"
                 + (f" ({len(report.missing)} without a prediction)" if report.missing else ""))
    return "\n".join(lines)
