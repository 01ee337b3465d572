"""``peacewatch classify``, ``peacewatch eval`` and ``peacewatch timeline``.

classify   JSON Lines items in (file or stdin: ``id``, ``title``, ``summary``, optional
           ``content``, ``url``, ``published``, ``source``; or a ``.csv`` file; the field
           names of RSS, Atom and JSON Feed are read too: ``peacewatch.itemfile``), JSON Lines
           out:
           ``{"id", "kind", "issues": [{"id", "score", "evidence": [...]}]}``. A bad line is
           reported on stderr with its line number; the others go on (exit status 1 if any was
           bad).
eval       on the labelled corpus by default (``processors.quality_cli``); with ``--gold``,
           precision / recall / F1 per issue for any gold file of ``{"id", "labels"}`` lines,
           predictions from ``--predictions`` (classify's output), from classifying
           ``--items``, or from text in the gold lines. ``eval replay``: ``processors.replay``.
timeline   an issue's stories and their developments, from the processor's state.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, TextIO

from peacewatch.errors import ConfigError, InputError, PeacewatchError
from peacewatch.itemfile import (
    ItemFields,
    fields_of,
    has_text,
    is_csv,
    item_fields,
    item_id,
    load_records,
    read_records,
)
from peacewatch.jsonl import load_jsonl
from peacewatch.models import Development
from peacewatch.settings import load_settings
from peacewatch.stage import Subcommands
from processors.classify import IssueClassifier, Judgement
from processors.evaluate import evaluate, format_report
from processors.pipeline import normalise_text
from processors.quality_cli import add_eval_arguments, eval_corpus
from processors.quality_cli import register as register_quality
from processors.replay import WINDOWS, add_replay_arguments, run_replay
from processors.stage import issue_classifier, watchlist_path
from processors.state import ProcessorState
from processors.stories import Story
from processors.watchlist import load_watchlist


def register(subparsers: Subcommands) -> None:
    register_quality(subparsers)
    p = subparsers.add_parser(
        "classify", help="classify JSON Lines items against the watchlist",
        description="Read items as JSON Lines (id, title, summary, optional content, url, "
        "published, source; RSS, Atom and JSON Feed names too: guid, description, link ...) "
        "or CSV, and write {id, kind, issues: [{id, score, evidence}]} lines.")
    p.add_argument("input", nargs="?", default="-",
                   help="JSON Lines file, or a .csv file with a header (default: stdin)")
    p.add_argument("-o", "--output", type=Path, help="output file (default: stdout)")
    p.add_argument("--watchlist", type=Path, help="watchlist TOML (default: from settings)")
    p.set_defaults(func=_classify)

    p = subparsers.add_parser(
        "eval", help="measure the classifier (labelled corpus, or --gold) or a replay",
        description="Per-issue precision, recall and F1 on the labelled corpus's test split "
        "(or --split), every split's and language's macro-F1, calibration and the learning "
        "curve; or, with --gold, on any gold file. `eval replay` runs a stream through the "
        "whole pipeline on item time.")
    p.add_argument("target", nargs="?", choices=("classify", "replay", "all"),
                   default="classify",
                   help="classify: the corpus (default); replay: one stream; all: the corpus "
                   "with its learning curve, then both streams")
    add_eval_arguments(p)
    p.add_argument("--gold", type=Path, help="gold JSON Lines {id, labels} (not the corpus)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--predictions", type=Path, help="output of `peacewatch classify`")
    source.add_argument("--items", type=Path, help="items JSON Lines to classify")
    p.add_argument("--watchlist", type=Path, help="watchlist TOML (default: from settings)")
    p.add_argument("--by", metavar="FIELD",
                   help="with --gold: also report separately for each value of this gold field")
    add_replay_arguments(p)
    p.set_defaults(func=_eval)

    p = subparsers.add_parser(
        "timeline", help="print an issue's stories and developments from the processor state")
    p.add_argument("issue", help="issue id (see the watchlist)")
    p.add_argument("--json", action="store_true", help="one JSON object per story")
    p.set_defaults(func=_timeline)


# -- classify ----------------------------------------------------------------------------------


def _classifier(args: argparse.Namespace) -> IssueClassifier:
    return issue_classifier(load_settings(args.config), args.watchlist)


def classify_stream(classifier: IssueClassifier, stream: Iterable[str], out: TextIO,
                    err: TextIO, origin: str, *, csv_rows: bool = False) -> int:
    """Classify every good item; report bad ones on ``err``; return the number of bad ones."""
    bad = 0
    for number, record in read_records(stream, origin, csv_rows=csv_rows):
        if isinstance(record, str):
            print(record, file=err)
            bad += 1
            continue
        try:
            item = item_fields(record)
        except InputError as exc:
            print(f"{origin}:{number}: {exc}", file=err)
            bad += 1
            continue
        judgement = _judge(classifier, item)
        out.write(json.dumps({
            # An id is written back as the file gave it (a number stays a number).
            "id": record["id"] if record.get("id") not in (None, "") else item.id,
            "kind": judgement.kind,
            "issues": [{"id": m.issue_id, "score": m.score, "evidence": list(m.evidence)}
                       for m in judgement.issues],
        }, ensure_ascii=False) + "\n")
    return bad


def _judge(classifier: IssueClassifier, item: ItemFields) -> Judgement:
    text = normalise_text(item.title, item.summary, item.content)
    return classifier.judge(text.title, text.summary, text.content)


def _open_input(name: str) -> IO[str]:
    if name == "-":
        return sys.stdin
    try:
        return open(name, encoding="utf-8", newline="")
    except OSError as exc:
        raise PeacewatchError(f"cannot read {name}: {exc.strerror}") from exc


def _classify(args: argparse.Namespace) -> int:
    classifier = _classifier(args)
    source = _open_input(args.input)
    origin = "stdin" if args.input == "-" else args.input
    try:
        if args.output:
            with args.output.open("w", encoding="utf-8") as out:
                bad = classify_stream(classifier, source, out, sys.stderr, origin,
                                      csv_rows=is_csv(origin))
        else:
            bad = classify_stream(classifier, source, sys.stdout, sys.stderr, origin,
                                  csv_rows=is_csv(origin))
    finally:
        if source is not sys.stdin:
            source.close()
    if bad:
        print(f"peacewatch classify: {bad} line(s) could not be classified", file=sys.stderr)
    return 1 if bad else 0


# -- eval --------------------------------------------------------------------------------------


def _gold(path: Path) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    lines = load_records(path)
    gold = {}
    for n, line in enumerate(lines, start=1):
        labels = line.get("labels")
        if isinstance(labels, str) and is_csv(path.name):  # a CSV cell: "ceasefire;black-sea"
            labels = [label.strip() for label in re.split(r"[;|,]", labels) if label.strip()]
        if not isinstance(labels, list):
            raise PeacewatchError(f"{path}: record {n}: needs a 'labels' list")
        try:
            gold[item_id(line)] = [str(label) for label in labels]
        except InputError as exc:
            raise PeacewatchError(f"{path}: record {n}: {exc}") from exc
    return gold, lines


def _predictions_from_output(path: Path) -> dict[str, list[str]]:
    out = {}
    for n, line in enumerate(load_jsonl(path), start=1):
        issues = line.get("issues")
        if "id" not in line or not isinstance(issues, list):
            raise PeacewatchError(f"{path}: record {n}: needs 'id' and an 'issues' list")
        out[str(line["id"])] = [str(i["id"] if isinstance(i, dict) else i) for i in issues]
    return out


def _classify_records(classifier: IssueClassifier, records: list[dict[str, Any]],
                      origin: Path) -> tuple[dict[str, list[str]], dict[str, ItemFields]]:
    """Each record's issues, and its fields, by id; a record that cannot be read is an error."""
    items = {item.id: item for item in fields_of(records, origin)}
    return {key: [m.issue_id for m in _judge(classifier, item).issues]
            for key, item in items.items()}, items


def _eval(args: argparse.Namespace) -> int:
    if args.target == "replay":
        return run_replay(args)
    if args.target == "all":
        return _eval_all(args)
    if args.gold is None:
        if args.predictions or args.items or args.by:
            raise PeacewatchError("--predictions, --items and --by score a --gold file")
        return eval_corpus(args)
    gold, gold_lines = _gold(args.gold)
    texts: dict[str, ItemFields] = {}
    if args.predictions:
        predicted = _predictions_from_output(args.predictions)
    else:
        classifier = _classifier(args)
        if args.items:
            origin, records = args.items, load_records(args.items)
        elif all(has_text(line) for line in gold_lines):
            origin, records = args.gold, gold_lines
        else:
            raise PeacewatchError("no predictions: give --predictions or --items "
                                  "(or gold lines with title/summary)")
        predicted, texts = _classify_records(classifier, records, origin)
        labels = classifier.issue_ids
    if args.predictions:
        labels = tuple(sorted({lab for v in gold.values() for lab in v}
                              | {lab for v in predicted.values() for lab in v}))
    report = evaluate(gold, predicted, labels)
    print(format_report(report))
    if args.by:
        groups: dict[str, list[str]] = {}
        for line in gold_lines:
            groups.setdefault(str(line.get(args.by, "?")), []).append(item_id(line))
        for value, ids in sorted(groups.items()):
            sub = evaluate({i: gold[i] for i in ids}, predicted, labels)
            (mp, mr, mf), (ap, ar, af) = sub.micro, sub.macro
            print(f"{args.by}={value} ({len(ids)} items): micro P={mp:.3f} R={mr:.3f} "
                  f"F1={mf:.3f}; macro P={ap:.3f} R={ar:.3f} F1={af:.3f}")
    if args.errors:
        _print_errors(args.errors, gold, predicted, texts)
    return 0


def _eval_all(args: argparse.Namespace) -> int:
    """Everything the judgement is measured by, in one run."""
    args.learning_curve = True
    eval_corpus(args)
    for stream in sorted(WINDOWS):
        print()
        args.stream, args.stream_file = stream, None
        run_replay(args)
    return 0


def _print_errors(issue: str, gold: dict[str, list[str]], predicted: dict[str, list[str]],
                  texts: dict[str, ItemFields]) -> None:
    for key, labels in gold.items():
        truth, guess = issue in labels, issue in predicted.get(key, [])
        if truth != guess:
            item = texts.get(key)
            print(f"{'FN' if truth else 'FP'} {key}: {item.title if item else ''}")


# -- timeline ----------------------------------------------------------------------------------


def _timeline(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    path = settings.path(settings.processors.state_path)
    if not path.exists():
        raise PeacewatchError(f"no processor state at {path}: has `peacewatch process` run "
                              "with these settings?")
    try:
        known = load_watchlist(watchlist_path(settings)).issue_ids
    except ConfigError:
        known = ()
    state = ProcessorState(path)
    try:
        timeline = state.timeline(args.issue)
        if not timeline and args.issue not in known:
            have = sorted(set(known) | set(state.issues()))
            raise PeacewatchError(f"unknown issue {args.issue!r}; known: {', '.join(have)}")
        write_timeline(timeline, sys.stdout, as_json=args.json)
    finally:
        state.close()
    return 0


def write_timeline(timeline: list[tuple[Story | None, list[Development]]], out: TextIO, *,
                   as_json: bool = False) -> None:
    if not timeline:
        print("no developments yet", file=out)
        return
    for story, developments in timeline:
        # A story past retention is known by its developments (there is always one then).
        told = story if story is not None else developments[0]
        story_id, headline, began = told.story_id, told.headline, told.first_seen
        if as_json:
            out.write(json.dumps({
                "story_id": story_id, "headline": headline, "first_seen": began.isoformat(),
                "kept": story is not None,
                "items": len(story.item_ids) if story else None,
                "sources": len(story.sources) if story else None,
                "developments": [json.loads(d.model_dump_json()) for d in developments],
            }, ensure_ascii=False) + "\n")
            continue
        if story is not None:
            mark = " [baseline]" if story.baseline else ""
            print(f"{story.first_seen:%Y-%m-%d %H:%M}  {story.severity.name.lower():<9} "
                  f"{headline}{mark}", file=out)
            print(f"{'':18}story {story_id}, {len(story.item_ids)} item(s), "
                  f"{len(story.sources)} source(s): "
                  + ", ".join(sorted({s.source for s in story.sources})), file=out)
        else:
            print(f"{began:%Y-%m-%d %H:%M}  {'':<9} {headline} [story past retention]",
                  file=out)
        for d in developments:
            base = " [baseline]" if d.baseline else ""
            print(f"{'':18}- {d.first_seen:%Y-%m-%d %H:%M} {d.kind} {d.action} "
                  f"({d.severity.name.lower()}){base}: {d.headline}", file=out)
