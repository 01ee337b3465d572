"""``peacewatch train`` and ``peacewatch eval``: build the learned model, and measure judgement.

train   fit the model on the corpus's train split, choose on dev, write ``model.json``.
eval    precision, recall and F1 per issue on one split (default: test, the frozen one), the
        macro and micro averages of every split, each language's, the calibration of the
        model's probabilities, and (``--learning-curve``) test macro-F1 for models trained on
        25, 50 and 100% of the train split. ``--gold`` scores any gold file instead.
eval replay   see ``processors.replay``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from peacewatch.errors import PeacewatchError
from peacewatch.settings import load_settings
from peacewatch.stage import Subcommands
from processors.classify import IssueClassifier
from processors.corpus import add_corpus_arguments, load_corpus
from processors.evaluate import Report, calibration_error, evaluate, format_report
from processors.model import LearnedModel
from processors.stage import issue_classifier, load_entities_of, watchlist_path
from processors.train import SPLITS, LabelledItem, TrainConfig, train
from processors.watchlist import load_watchlist

LANGUAGE_MIN_SUPPORT = 5
CURVE = (0.25, 0.5, 1.0)


def register(subparsers: Subcommands) -> None:
    p = subparsers.add_parser(
        "train", help="build the learned model from the labelled corpus",
        description="Fit the model on the corpus's train split, choose each issue's "
        "regularisation and threshold on dev, and write the model file. The same data, "
        "watchlist and seed give the same file.")
    add_corpus_arguments(p)
    p.add_argument("-o", "--out", type=Path,
                   help="model file to write (default: <seeds_dir>/model.json)")
    p.add_argument("--watchlist", type=Path, help="watchlist TOML (default: from settings)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_train)


def add_eval_arguments(p: Any) -> None:
    add_corpus_arguments(p)
    p.add_argument("--split", choices=[*SPLITS, "all"], default="test",
                   help="the split of the per-issue table (default: test)")
    p.add_argument("--rules-only", action="store_true",
                   help="classify with the watchlist rules alone (no model)")
    p.add_argument("--learning-curve", action="store_true",
                   help="also train on 25/50/100%% of the train split and report test macro-F1")
    p.add_argument("--errors", metavar="ISSUE",
                   help="list the items of the split where this issue is predicted wrong")


def _labelled_classifier(args: argparse.Namespace) -> IssueClassifier:
    settings = load_settings(args.config)
    if args.rules_only:
        path: Path = args.watchlist or watchlist_path(settings)
        return IssueClassifier(load_watchlist(path),
                               content_chars=settings.processors.content_chars)
    return issue_classifier(settings, args.watchlist)


def eval_corpus(args: argparse.Namespace) -> int:
    items = load_corpus(args)
    classifier = _labelled_classifier(args)
    issues = classifier.issue_ids
    predicted = {i.id: [m.issue_id for m in classifier.classify(i.title, i.summary)]
                 for i in items}
    chosen = [i for i in items if args.split in ("all", i.split)]
    print(f"split: {args.split} ({len(chosen)} items); model: "
          f"{'none (rules only)' if classifier.model is None else 'yes'}")
    print(format_report(_score(chosen, predicted, issues)))
    print()
    print(_table("split", [(s, [i for i in items if i.split == s]) for s in SPLITS],
                 predicted, issues))
    if classifier.model is not None:
        print(_selection(classifier.model))
    print()
    languages = sorted({i.language or "?" for i in chosen})
    print(_table(f"language ({args.split})",
                 [(lang, [i for i in chosen if (i.language or "?") == lang])
                  for lang in languages], predicted, issues))
    print()
    sources = sorted({i.source or "?" for i in chosen})
    print(_table(f"source ({args.split})",
                 [(src, [i for i in chosen if (i.source or "?") == src]) for src in sources],
                 predicted, issues))
    if classifier.model is not None:
        print()
        print(_calibration(classifier, chosen))
    if args.learning_curve:
        print()
        print(_learning_curve(args, items, issues))
    if args.errors:
        print()
        for item in chosen:
            truth, guess = args.errors in item.labels, args.errors in predicted[item.id]
            if truth != guess:
                print(f"{'FN' if truth else 'FP'} {item.id}: {item.title}")
    return 0


def _score(items: Sequence[LabelledItem], predicted: dict[str, list[str]],
           issues: Sequence[str]) -> Report:
    return evaluate({i.id: i.labels for i in items}, predicted, issues)


def _table(name: str, groups: Iterable[tuple[str, Sequence[LabelledItem]]],
           predicted: dict[str, list[str]], issues: Sequence[str]) -> str:
    lines = [f"{name:<20}{'items':>7}{'macro-F1':>10}{'macro-F1*':>11}{'micro-F1':>10}"
             f"{'issues*':>9}"]
    for value, members in groups:
        if not members:
            continue
        report = _score(members, predicted, issues)
        strong = report.macro_f1(LANGUAGE_MIN_SUPPORT)
        counted = sum(1 for s in report.labels if s.support >= LANGUAGE_MIN_SUPPORT)
        lines.append(f"{value:<20}{len(members):>7}{report.macro[2]:>10.3f}"
                     f"{'-' if strong is None else f'{strong:.3f}':>11}"
                     f"{report.micro[2]:>10.3f}{counted:>9}")
    lines.append(f"* over the issues with at least {LANGUAGE_MIN_SUPPORT} positives in the group")
    return "\n".join(lines)


def _selection(model: LearnedModel) -> str:
    """The dev figure that chose the model: the shipped model has learned dev too."""
    chosen = model.meta.get("selection")
    if not isinstance(chosen, dict):
        return "the model was fitted on train alone: its dev figure above is the chosen one"
    return (f"the model was fitted on train and dev ({model.meta.get('fitted_items')} items): "
            "its dev figures above are of items it learned; chosen on dev when fitted on train "
            f"alone: macro-F1 {chosen['dev_macro_f1']:.3f}")


def _calibration(classifier: IssueClassifier, items: Sequence[LabelledItem]) -> str:
    probabilities: list[float] = []
    truth: list[bool] = []
    for item in items:
        for issue, p in classifier.probabilities(item.title, item.summary).items():
            probabilities.append(p)
            truth.append(issue in item.labels)
    error = calibration_error(probabilities, truth)
    return (f"calibration: expected calibration error {error:.3f} over {len(probabilities)} "
            "item-issue probabilities of the model")


def _learning_curve(args: argparse.Namespace, items: Sequence[LabelledItem],
                    issues: Sequence[str]) -> str:
    settings = load_settings(args.config)
    watchlist = load_watchlist(args.watchlist or watchlist_path(settings))
    test = [i for i in items if i.split == "test"]
    lines = ["learning curve (test macro-F1 of a model chosen on dev with part of the train "
             "split, then fitted on that part and dev)",
             f"{'train share':<14}{'items':>7}{'macro-F1':>10}{'micro-F1':>10}"]
    for fraction in CURVE:
        result = train(items, watchlist, TrainConfig(train_fraction=fraction))
        classifier = IssueClassifier(watchlist, result.model)
        predicted = {i.id: [m.issue_id for m in classifier.classify(i.title, i.summary)]
                     for i in test}
        report = _score(test, predicted, issues)
        lines.append(f"{fraction:<14.0%}{result.model.meta['train_items']:>7}"
                     f"{report.macro[2]:>10.3f}{report.micro[2]:>10.3f}")
    return "\n".join(lines)


def _train(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    watchlist = load_watchlist(args.watchlist or watchlist_path(settings))
    items = load_corpus(args)
    result = train(items, watchlist, TrainConfig(seed=args.seed), load_entities_of(settings))
    out: Path = args.out or settings.seeds_dir / "model.json"
    try:
        out.write_text(result.model.to_json(), encoding="utf-8")
    except OSError as exc:
        raise PeacewatchError(f"cannot write {out}: {exc.strerror}") from exc
    print(f"{'head':<22}{'C':>6}{'threshold':>11}{'train+':>8}{'dev+':>6}{'dev F1':>8}")
    for h in result.heads:
        print(f"{h.name:<22}{h.c:>6}{h.threshold:>11.3f}{h.train_positives:>8}"
              f"{h.dev_positives:>6}{h.dev_f1:>8.3f}")
    print(f"dev macro-F1 of the heads fitted on train, as chosen: "
          f"{result.model.meta['selection']['dev_macro_f1']:.3f}; then fitted on train and dev")
    untrained = [i for i in watchlist.issue_ids if i not in result.model.index]
    if untrained:
        print(f"rules alone (too few training examples): {', '.join(untrained)}")
    meta = result.model.meta
    print(f"wrote {out}: {len(result.model.weights)} features, data {meta['data']}, "
          f"seed {meta['seed']}, {meta['fitted_items']} items ({meta['train_items']} train, "
          f"{meta['dev_items']} dev)",
          file=sys.stderr)
    return 0
