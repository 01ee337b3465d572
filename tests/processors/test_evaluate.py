from __future__ import annotations

import pytest

from processors.evaluate import evaluate, format_report


def test_per_label_counts_and_averages() -> None:
    gold = {"1": ["a"], "2": ["a", "b"], "3": [], "4": ["b"]}
    predicted = {"1": ["a"], "2": ["a"], "3": ["b"], "4": ["b"]}
    report = evaluate(gold, predicted, ["a", "b"])
    a, b = report.labels
    assert (a.tp, a.fp, a.fn) == (2, 0, 0) and a.f1 == 1.0
    assert (b.tp, b.fp, b.fn) == (1, 1, 1)
    assert b.precision == pytest.approx(0.5) and b.recall == pytest.approx(0.5)
    p, r, _ = report.micro
    assert p == pytest.approx(3 / 4) and r == pytest.approx(3 / 4)
    assert report.macro[2] == pytest.approx((1.0 + 0.5) / 2)


def test_missing_predictions_count_as_none_and_are_reported() -> None:
    report = evaluate({"1": ["a"], "2": []}, {"2": []}, ["a"])
    assert report.labels[0].fn == 1
    assert report.missing == ("1",)
    assert "1 without a prediction" in format_report(report)


def test_labels_without_any_gold_or_prediction_do_not_drag_the_macro_average() -> None:
    report = evaluate({"1": ["a"]}, {"1": ["a"]}, ["a", "never"])
    assert report.macro == (1.0, 1.0, 1.0)


def test_format_has_a_row_per_label_and_the_averages() -> None:
    text = format_report(evaluate({"1": ["a"]}, {"1": []}, ["a"]))
    assert text.splitlines()[1].split()[:4] == ["a", "0.000", "0.000", "0.000"]
    assert "micro avg" in text and "macro avg" in text
