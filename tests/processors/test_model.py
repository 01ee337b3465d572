"""The learned layer: features, the artefact and its checks, and the trainer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peacewatch.errors import ModelError
from processors.classify import IssueClassifier
from processors.evaluate import evaluate
from processors.model import FEATURES_VERSION, KIND_HEAD, Head, LearnedModel, item_features
from processors.rules import RuleClassifier
from processors.train import (
    LabelledItem,
    TrainConfig,
    best_threshold,
    read_labelled,
    train,
)
from processors.watchlist import Watchlist

# Items written for these tests: truces and prisoner swaps on the war, and noise.
TRUCES = [
    "Kremlin offers a holiday truce along the front", "Kyiv weighs a thirty-day truce",
    "Envoys draft terms of a ceasefire in Ukraine", "Russia and Ukraine agree energy truce",
    "Ukraine accepts truce proposal from Washington", "Moscow rejects ceasefire offer",
    "Zelensky backs an unconditional ceasefire", "Putin sets conditions for a truce",
]
SWAPS = [
    "Ukraine and Russia swap 150 prisoners of war", "Prisoner exchange frees Ukrainian medics",
    "Russia returns bodies of fallen Ukrainian soldiers", "POW exchange brokered by the UAE",
    "Ukrainian children deported to Russia brought home", "Kyiv and Moscow trade captives",
]
NOISE = [
    "Markets rally as rates hold", "Storm closes schools in the north", "Cup final ends in draw",
    "Gaza ceasefire talks resume in Cairo", "Iran sanctions tightened by Washington",
    "Election campaign enters final week", "New phone model goes on sale",
    "Heatwave warning for the weekend", "Parliament debates budget",
]


def corpus() -> list[LabelledItem]:
    items = []
    for n, title in enumerate(TRUCES):
        items.append(LabelledItem(f"t{n}", title, "", "train" if n < 6 else "dev",
                                  ("ceasefire",), "report", "en"))
    for n, title in enumerate(SWAPS):
        items.append(LabelledItem(f"s{n}", title, "", "train" if n < 4 else "dev",
                                  ("prisoners",), "background" if n in (0, 1, 2, 5) else "report",
                                  "en"))
    for n, title in enumerate(NOISE):
        items.append(LabelledItem(f"n{n}", title, "", "train" if n < 6 else "dev", (), None,
                                  "en"))
    items.append(LabelledItem("x", "Never read", "", "test", ("ceasefire",), "report", "en"))
    return items


def test_features_carry_words_stems_pairs_rules_and_genre(watchlist: Watchlist) -> None:
    rules = RuleClassifier(watchlist)
    title = "Analysis: Russia rejects the ceasefire"
    features = item_features(title, "Negotiations stalled.", rules.read(title))
    assert {"t:ceasefire", "w:negotiations", "s:negot", "b:rejects the", "war",
            "g:background-title", "g:labelled-title"} <= set(features)
    assert "r:ceasefire" in features and "ra:ceasefire" in features


def test_the_artefact_is_byte_stable_and_versioned(tmp_path: Path) -> None:
    model = LearnedModel([Head("ceasefire", -1.0, 0.5), Head(KIND_HEAD, -2.0, 0.4)],
                         {"w:truce": [(0, 2.5)], "t:truce": [(0, 1.0), (1, -0.5)]},
                         {"data": "abc"}, {"truce": 1.2})
    text = model.to_json()
    again = LearnedModel.from_json(text)
    assert again.to_json() == text
    assert again.idf == {"truce": 1.2} and again.issue_ids == ("ceasefire",)
    (p_issue, p_kind) = again.probabilities({"w:truce": 1.0, "t:truce": 1.0})
    assert p_issue == pytest.approx(1 / (1 + 2.718281828 ** -2.5), rel=1e-6)
    assert p_kind == pytest.approx(1 / (1 + 2.718281828 ** 2.5), rel=1e-6)

    older = json.loads(text) | {"features_version": FEATURES_VERSION - 1}
    with pytest.raises(ModelError, match="run `peacewatch train`"):
        LearnedModel.from_json(json.dumps(older), "model m.json")
    with pytest.raises(ModelError, match="format"):
        LearnedModel.from_json(json.dumps(json.loads(text) | {"format": 99}))
    with pytest.raises(ModelError, match="names no head"):
        LearnedModel.from_json(json.dumps(json.loads(text) | {"weights": {"w:x": [[5, 1.0]]}}))
    with pytest.raises(ModelError, match="not a model file"):
        LearnedModel.from_json("{not json")
    with pytest.raises(ModelError, match="cannot be read"):
        LearnedModel.load(tmp_path / "absent.json")


def test_training_is_reproducible_and_never_reads_test(watchlist: Watchlist) -> None:
    items = corpus()
    first = train(items, watchlist, TrainConfig(c_grid=(1.0,), folds=2))
    second = train(list(reversed(items)), watchlist, TrainConfig(c_grid=(1.0,), folds=2))
    assert first.model.to_json() == second.model.to_json()
    assert {h.name for h in first.heads} == {"ceasefire", "prisoners", KIND_HEAD}
    assert first.model.meta["train_items"] == 16 and first.model.meta["dev_items"] == 7
    assert first.model.meta["fitted_items"] == 23
    # The test item's words were never seen: no feature of it is in the model.
    assert "t:never" not in first.model.weights and "w:read" not in first.model.weights
    other = train(items, watchlist, TrainConfig(c_grid=(1.0,), folds=2, seed=1))
    assert other.model.meta["seed"] == 1


def test_the_chosen_heads_are_fitted_again_on_train_and_dev(watchlist: Watchlist) -> None:
    items = corpus()
    result = train(items, watchlist, TrainConfig(c_grid=(1.0,), folds=2))
    assert result.selection is not None
    # The final model knows words only dev items carry; the model that was chosen does not.
    learned = set(result.model.weights) - set(result.selection.weights)
    # "Moscow" is in one train item and one dev item: seen twice only with dev.
    assert {"w:moscow", "t:moscow"} <= learned
    rules = RuleClassifier(watchlist)
    dev_features: set[str] = set()
    for item in items:
        if item.split == "dev":
            dev_features |= set(item_features(item.title, item.summary, rules.read(item.title)))
    assert learned <= dev_features
    # Same heads, same thresholds: only the weights moved.
    assert [(h.name, h.threshold) for h in result.model.heads] == \
        [(h.name, h.threshold) for h in result.selection.heads]
    # The dev figure recorded is the chosen model's, not the refitted one's.
    dev = [i for i in items if i.split == "dev"]
    chosen = IssueClassifier(watchlist, result.selection)
    predicted = {i.id: [m.issue_id for m in chosen.classify(i.title)] for i in dev}
    report = evaluate({i.id: i.labels for i in dev}, predicted, watchlist.issue_ids)
    assert result.model.meta["selection"]["dev_macro_f1"] == round(report.macro[2], 4)


def test_issues_too_rare_to_learn_stay_with_the_rules(watchlist: Watchlist) -> None:
    result = train(corpus(), watchlist, TrainConfig(c_grid=(1.0,), folds=2))
    classifier = IssueClassifier(watchlist, result.model)
    assert "black-sea" not in result.model.index  # no training example at all
    issues = [m.issue_id for m in classifier.classify("Russian warship sunk in the Black Sea")]
    assert issues == ["black-sea"]  # decided by the watchlist rules alone


def test_thresholds_are_chosen_for_f1_or_for_precision() -> None:
    probabilities = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2]
    truth = [True, True, False, True, False, False]
    threshold, f1 = best_threshold(probabilities, truth)
    assert threshold == pytest.approx(0.6) and f1 == pytest.approx(6 / 7)
    strict, _ = best_threshold(probabilities, truth, beta=0.25)
    assert strict > threshold


def test_labelled_lines_are_checked() -> None:
    good = ['{"id": "a", "title": "T", "split": "train", "labels": ["ceasefire"]}',
            '{"id": "b", "title": "U", "split": "dev", "labels": null}', ""]
    (item,) = read_labelled(good, "corpus")
    assert item.labels == ("ceasefire",)
    for line, message in (("not json", "not JSON"), ('{"title": "x"}', "empty 'id'"),
                          ('{"id": "a", "labels": [], "split": "other"}', "'split'")):
        with pytest.raises(ModelError, match=message):
            read_labelled([line], "corpus")
