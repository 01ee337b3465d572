"""``peacewatch eval replay``: a stream through the whole pipeline on item time, measured.

The stream's items (``--stream news-2022`` or ``firehose-2026-01``, read from the shared data
folder by the corpus's ``build.py``; or ``--stream-file`` of your own) are published to the raw
topic in publication order, as a collector would have, and the classify, stories and alerts
stages run over them in burst mode on a fresh embedded bus, one partition, with
``daemon.clock = "item"``: story windows and alert grouping run on the items' own time, so the
replay makes the decisions the live run would have made. Alerts go to one JSON Lines file
receiver with the default route's grouping.

Then it prints what an analyst would have got, against what we wrote down by reading
(``eval/replay/``):

- developments and messages per day and per issue, beside the figure before this release
  (``before-<window>.json``, measured by ``eval/replay/before.py`` on the previous release);
- event recall: the share of the real events (``events-<window>.jsonl``) that got a
  development on the right issue within 6 hours of their first report;
- alert precision: the share of alerting developments that tell something new: by the event
  annotation (the first development of an event), and as judged by reading a sample
  (``judged-<window>.jsonl``; ``--sample N`` writes a new sample to judge);
- story pairs: precision and recall of "same story" over pairs of items from different outlets
  that the annotation and the pipeline both placed under an issue (``stories-<window>.jsonl``).

With ``--unseen`` the replay first trains a model as ``peacewatch train`` does, on the labelled
corpus without the stream's own items (those become test items: neither fitted nor chosen on),
and replays with it. The corpus's splits keep a window's later days and some outlets for test,
but its earlier days train the model: the figures of a plain replay are on a window the model
has partly read. With ``--unseen`` they are on news it never saw, as a user's next month is.

The seed documents are not replayed: they date from spring 2025, and the baseline's known
states (``baseline.toml``) carry what they establish, each from its own ``as_of`` date.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peacewatch.bus import open_bus
from peacewatch.daemon import Daemon
from peacewatch.errors import InputError, PeacewatchError
from peacewatch.identity import canonical_url, content_hash
from peacewatch.itemfile import ItemFields, fields_of, item_time, load_records
from peacewatch.jsonl import load_jsonl, parse_jsonl
from peacewatch.metrics import Metrics
from peacewatch.models import RAW_ITEMS, Development, RawItem
from peacewatch.settings import Settings, load_settings
from peacewatch.settings.alerts import ConsoleReceiver, DefaultRoute
from peacewatch.stage import StageContext, build_stages
from processors.corpus import DEFAULT_CORPUS, DEFAULT_SHARED, load_corpus
from processors.stage import load_entities_of, watchlist_path
from processors.state import ProcessorState
from processors.train import LabelledItem, TrainConfig, train
from processors.watchlist import load_watchlist

WINDOWS = {"news-2022": "2022", "firehose-2026-01": "2026-01"}
REPLAY_DIR = Path("eval/replay")
RECALL_HOURS = 6.0
NOTIFICATIONS = "notifications.jsonl"


def add_replay_arguments(p: Any) -> None:
    g = p.add_argument_group("replay (eval replay)")
    g.add_argument("--stream", choices=sorted(WINDOWS),
                   help="a stream of the shared data, replayed in publication order")
    g.add_argument("--stream-file", type=Path,
                   help="or your own: JSON Lines items (id, title, summary, url, published, "
                   "source, language)")
    g.add_argument("--annotations", type=Path, default=REPLAY_DIR,
                   help=f"folder of events-/stories-/judged-/before-<window> files "
                   f"(default: {REPLAY_DIR})")
    g.add_argument("--sample", type=int, metavar="N",
                   help="write N alerting developments, with context, to judge by reading")
    g.add_argument("--sample-out", type=Path, help="where --sample writes (default: stdout)")
    g.add_argument("--unseen", action="store_true",
                   help="first train a model on the labelled corpus without the stream's own "
                   "items, and replay with it: figures on news the model never saw")
    g.add_argument("--keep", type=Path, metavar="DIR",
                   help="run in DIR and keep its state (default: a temporary folder); a DIR "
                   "that already holds a bus must have one partition per topic, or items are "
                   "no longer read in publication order")


# -- what the replay produced -------------------------------------------------------------------


@dataclass
class ReplayOutput:
    items: int
    developments: list[Development]
    # (issue, item id) -> story id, for every item placed in a story.
    placements: dict[tuple[str, str], str]
    # One per message: (created_at, development ids).
    messages: list[tuple[datetime, tuple[str, ...]]]
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def alerted(self) -> set[str]:
        return {d for _, ids in self.messages for d in ids}

    def days(self) -> float:
        if self.first_at is None or self.last_at is None:
            return 0.0
        return max(1.0, (self.last_at - self.first_at).total_seconds() / 86400)


def raw_item(row: ItemFields) -> RawItem:
    """A replayed row as a collector would have published it: fetched when published."""
    try:
        if row.published is None:
            raise InputError("no publication time ('published'): a replay runs on item time")
        published = item_time(row.published)
        return RawItem(item_id=row.id, source=row.source or "replay", url=row.url,
                       canonical_url=canonical_url(row.url), title=row.title,
                       summary=row.summary, content=row.content, language=row.language,
                       published_at=published, fetched_at=published,
                       content_hash=content_hash(row.title, row.summary, row.content))
    except (InputError, ValueError) as exc:  # ValueError: pydantic's ValidationError
        raise PeacewatchError(f"item {row.id!r}: {exc}") from exc


def without_items(items: Sequence[LabelledItem], ids: set[str]) -> list[LabelledItem]:
    """The corpus with the items of ``ids`` moved to the test split: never fitted on, never
    chosen on."""
    return [replace(i, split="test") if i.id in ids else i for i in items]


def train_unseen(args: argparse.Namespace, base: Settings, ids: set[str],
                 out: Path) -> tuple[int, int]:
    """Train as ``peacewatch train`` does, without the items of ``ids``, into ``out``; return
    (the corpus items held out, the items fitted on)."""
    items = load_corpus(args)
    held = sum(i.id in ids and i.split != "test" for i in items)
    # The watchlist the replay classifies with: the settings', as in the live run.
    watchlist = load_watchlist(watchlist_path(base))
    result = train(without_items(items, ids), watchlist, TrainConfig(), load_entities_of(base))
    try:
        out.write_text(result.model.to_json(), encoding="utf-8")
    except OSError as exc:
        raise PeacewatchError(f"cannot write {out}: {exc.strerror}") from exc
    return held, int(result.model.meta["fitted_items"])


def replay_settings(base: Settings, folder: Path) -> Settings:
    """The user's settings (watchlist, model, story and grouping rules) on a fresh embedded bus
    in ``folder``, on item time, with one file receiver instead of the user's receivers."""
    out = folder / NOTIFICATIONS
    receiver = ConsoleReceiver(kind="console", path=out, format="json")
    alerts = base.alerts.model_copy(update={
        "receivers": {"replay": receiver}, "routes": [], "silences": [],
        "default_route": DefaultRoute(**{
            **base.alerts.default_route.model_dump(exclude={"receivers"}),
            "receivers": ["replay"]}),
    })
    processors = base.processors.model_copy(update={
        "neardup": base.processors.neardup.model_copy(update={"retention_days": 100_000.0}),
        "stories": base.processors.stories.model_copy(update={"retention_days": 100_000.0}),
    })
    return base.model_copy(update={
        "data_dir": folder,
        "bus": base.bus.model_copy(update={
            "partitions": 1, "kafka": base.bus.kafka.model_copy(update={"bootstrap_servers": []})}),
        "daemon": base.daemon.model_copy(update={"clock": "item"}),
        "metrics": base.metrics.model_copy(update={"enabled": False}),
        "processors": processors,
        "alerts": alerts,
    })


def replay(rows: Iterable[ItemFields], settings: Settings) -> ReplayOutput:
    """Publish the rows in time order, run the pipeline until it is idle, read what it did."""
    items = sorted((raw_item(r) for r in rows), key=lambda i: (i.published_at, i.item_id))
    metrics = Metrics()
    events = open_bus(settings, metrics)
    try:
        publisher = events.publisher()
        for item in items:
            publisher.publish(RAW_ITEMS, item)
        publisher.flush()
        publisher.close()
        ctx = StageContext(settings=settings, events=events, metrics=metrics)
        Daemon(build_stages(ctx, ("processors", "alerts")),
               grace_period_s=settings.daemon.grace_period_s).run_once()
    finally:
        events.close()
    state = ProcessorState(settings.path(settings.processors.state_path))
    try:
        developments = state.developments()
        placements = state.placements()
    finally:
        state.close()
    messages = []
    for n in _lines(settings.data_dir / NOTIFICATIONS):
        messages.append((item_time(n["created_at"]),
                         tuple(d["development_id"] for d in n["developments"])))
    return ReplayOutput(len(items), developments, placements, messages,
                        items[0].published_at if items else None,
                        items[-1].published_at if items else None)


# -- measuring it against what was written down by reading ------------------------------------


@dataclass(frozen=True)
class Event:
    event: str
    story: str
    issue: str
    first_id: str
    first_at: datetime
    action: str
    what: str


@dataclass
class Annotations:
    events: list[Event] = field(default_factory=list)
    # (issue, item id) -> (story, event or None)
    stories: dict[tuple[str, str], tuple[str, str | None]] = field(default_factory=dict)
    # development id -> (on the right issue, new to the analyst), as a reader judged it.
    judged: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    # item id -> its labels, for every item of the labelled corpus.
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # item id -> train, dev or test: the classifier was fitted on train and tuned on dev.
    splits: dict[str, str] = field(default_factory=dict)

    def event_items(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for (_, item), (_, event) in self.stories.items():
            if event is not None:
                out[event].add(item)
        return out


def _lines(path: Path) -> list[dict[str, Any]]:
    """The objects of an annotation file; an absent file has none."""
    return load_jsonl(path) if path.exists() else []


def load_annotations(folder: Path, window: str, corpus: Path) -> Annotations:
    a = Annotations()
    a.labels = {str(r["id"]): tuple(r["labels"]) for r in _lines(corpus / "labels.jsonl")}
    a.splits = {str(r["id"]): str(r["split"]) for r in _lines(corpus / "selection.jsonl")}
    a.events = [Event(e["event"], e["story"], e["issue"], e["first_id"], item_time(e["first_at"]),
                      e["action"], e["what"]) for e in _lines(folder / f"events-{window}.jsonl")]
    a.stories = {(s["issue"], s["id"]): (s["story"], s["event"])
                 for s in _lines(folder / f"stories-{window}.jsonl")}
    a.judged = {j["development_id"]: (bool(j.get("right_issue", True)), bool(j["new"]))
                for j in _lines(folder / f"judged-{window}.jsonl")}
    before = folder / f"before-{window}.json"
    if before.exists():
        a.before = json.loads(before.read_text(encoding="utf-8"))
    return a


def trigger(d: Development) -> str | None:
    """The item that made a development: the last of its item ids."""
    return d.item_ids[-1] if d.item_ids else None


def event_recall(events: Sequence[Event], developments: Sequence[Development],
                 event_items: dict[str, set[str]],
                 hours: float = RECALL_HOURS) -> dict[str, tuple[int, int]]:
    """Per issue: (events with a development on that issue, made by one of the event's items,
    within ``hours`` of its first report; events)."""
    by_issue: dict[str, list[Development]] = defaultdict(list)
    for d in developments:
        if not d.baseline:
            by_issue[d.issue_id].append(d)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        out[e.issue][1] += 1
        items = event_items.get(e.event, set()) | {e.first_id}
        deadline = e.first_at + timedelta(hours=hours)
        if any(trigger(d) in items and d.first_seen <= deadline for d in by_issue[e.issue]):
            out[e.issue][0] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def annotated_precision(alerting: Sequence[Development], a: Annotations) -> Counter[str]:
    """Alerting developments by what the annotation says of the item that made them:
    ``new`` (the first alerted report of an annotated event on that issue), ``repeat`` (of an
    event already alerted), ``no event`` (on the issue, but background: nothing happened),
    ``wrong issue`` (the item is not labelled with it), ``unlabelled`` (not in the corpus)."""
    seen: set[tuple[str, str]] = set()
    out: Counter[str] = Counter()
    for d in sorted(alerting, key=lambda d: d.first_seen):
        item = trigger(d) or ""
        story_event = a.stories.get((d.issue_id, item))
        if item not in a.labels:
            out["unlabelled"] += 1
        elif d.issue_id not in a.labels[item]:
            out["wrong issue"] += 1
        elif story_event is None or story_event[1] is None:
            out["no event"] += 1
        elif (d.issue_id, story_event[1]) in seen:
            out["repeat"] += 1
        else:
            seen.add((d.issue_id, story_event[1]))
            out["new"] += 1
    return out


def story_pairs(annotated: dict[tuple[str, str], tuple[str, str | None]],
                placed: dict[tuple[str, str], str],
                outlets: dict[str, str]) -> tuple[float, float, int, int]:
    """Precision and recall of "same story" over pairs of items from different outlets that
    both the annotation and the pipeline placed under the same issue; and the pair counts
    (same story in the annotation, in the pipeline)."""
    by_issue: dict[str, list[str]] = defaultdict(list)
    for (issue, item) in annotated:
        if (issue, item) in placed:
            by_issue[issue].append(item)
    tp = fp = fn = 0
    for issue, items in by_issue.items():
        for n, a in enumerate(items):
            for b in items[n + 1:]:
                if outlets.get(a) == outlets.get(b):
                    continue
                truth = annotated[issue, a][0] == annotated[issue, b][0]
                guess = placed[issue, a] == placed[issue, b]
                tp += truth and guess
                fp += guess and not truth
                fn += truth and not guess
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, tp + fn, tp + fp


# -- the command --------------------------------------------------------------------------------


def _rows(args: argparse.Namespace) -> list[ItemFields]:
    if args.stream_file is not None:
        return fields_of(load_records(args.stream_file), args.stream_file)
    if args.stream is None:
        raise PeacewatchError("eval replay needs --stream NAME or --stream-file FILE")
    corpus: Path = args.corpus or DEFAULT_CORPUS
    shared: Path = args.shared or DEFAULT_SHARED
    done = subprocess.run([sys.executable, str(corpus / "build.py"), "stream", args.stream,
                           "--shared", str(shared)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PeacewatchError(f"{corpus / 'build.py'} stream failed: {done.stderr[-500:]}")
    origin = f"{corpus / 'build.py'} stream"
    return fields_of(parse_jsonl(done.stdout.splitlines(), origin), origin)


def run_replay(args: argparse.Namespace) -> int:
    rows = _rows(args)
    window = WINDOWS.get(args.stream or "", args.stream_file.stem if args.stream_file else "")
    base = load_settings(args.config)
    with tempfile.TemporaryDirectory(prefix="peacewatch-replay-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        if args.unseen:
            model = folder / "model-unseen.json"
            held, fitted = train_unseen(args, base, {r.id for r in rows}, model)
            print(f"model: trained on {fitted} labelled items, without the stream's own "
                  f"({held} of them were in train or dev): figures on news it never saw")
            base = base.model_copy(update={"processors": base.processors.model_copy(
                update={"model": model, "use_model": True})})
        output = replay(rows, replay_settings(base, folder))
    annotations = load_annotations(args.annotations, window, args.corpus or DEFAULT_CORPUS)
    outlets = {r.id: r.source or "" for r in rows}
    print(format_replay(window, output, annotations, outlets))
    if args.sample:
        _write_sample(output, rows, args.sample, args.sample_out)
    return 0


def format_replay(window: str, out: ReplayOutput, a: Annotations,
                  outlets: dict[str, str]) -> str:
    alerted = out.alerted
    alerting = [d for d in out.developments if d.development_id in alerted]
    days = out.days()
    lines = [f"replay {window}: {out.items} items over {days:.1f} days, on item time"]
    lines.append(f"{'':<34}{'now':>10}{'before':>10}")
    before = a.before
    for label, now, key in (
            ("developments (not baseline)", sum(not d.baseline for d in out.developments),
             "developments"),
            ("alerting developments", len(alerting), "alerting"),
            ("alerting developments per day", len(alerting) / days if days else 0.0,
             "alerting_per_day"),
            ("messages", len(out.messages), "messages"),
            ("messages per day", len(out.messages) / days if days else 0.0, "messages_per_day")):
        was = before.get(key)
        lines.append(f"{label:<34}{_num(now):>10}{'-' if was is None else _num(was):>10}")
    if before.get("note"):
        lines.append(f"  before: {before['note']}")
    per_issue = Counter(d.issue_id for d in alerting)
    lines.append("alerting developments per issue: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(per_issue.items())))
    if a.events:
        lines += _judgement_lines(out, alerting, a, outlets, "")
        if "event_recall" in before:
            lines.append(f"  before: event recall {before['event_recall']:.3f}, alert precision "
                         f"by the annotation {before['annotated_precision']:.3f}, story pairs "
                         f"precision {before['story_pair_precision']:.3f}, recall "
                         f"{before['story_pair_recall']:.3f}")
        # The classifier learned from the train split and was tuned on dev: the test split's
        # part of the window is what it never saw.
        test = {i for i, split in a.splits.items() if split == "test"}
        held = Annotations(events=[e for e in a.events if e.first_id in test],
                           stories={k: v for k, v in a.stories.items() if k[1] in test},
                           labels=a.labels)
        if held.events:
            lines.append("on the test split's items only (neither trained nor tuned on):")
            lines += _judgement_lines(out, [d for d in alerting if trigger(d) in test], held,
                                      outlets, "  ")
    judged = [a.judged[d.development_id] for d in alerting if d.development_id in a.judged]
    if judged:
        new = sum(1 for _, is_new in judged if is_new)
        right = sum(1 for on_issue, _ in judged if on_issue)
        lines.append(f"alert precision judged by reading: {new}/{len(judged)} = "
                     f"{new / len(judged):.3f} new; {right}/{len(judged)} = "
                     f"{right / len(judged):.3f} on the right issue")
    elif a.judged:
        lines.append("alert precision judged by reading: the judged sample names no "
                     "development of this run (judge a new --sample)")
    return "\n".join(lines)


def _judgement_lines(out: ReplayOutput, alerting: list[Development], a: Annotations,
                     outlets: dict[str, str], indent: str) -> list[str]:
    lines = []
    recall = event_recall(a.events, out.developments, a.event_items())
    hit = sum(h for h, _ in recall.values())
    total = sum(t for _, t in recall.values())
    lines.append(f"{indent}event recall within {RECALL_HOURS:.0f} h: {hit}/{total} = "
                 f"{hit / total if total else 0:.3f}  ("
                 + ", ".join(f"{k} {h}/{t}" for k, (h, t) in sorted(recall.items())) + ")")
    found = annotated_precision(alerting, a)
    judged_n = sum(found.values()) - found["unlabelled"]
    lines.append(f"{indent}alert precision by the annotation: {found['new']}/{judged_n} = "
                 f"{found['new'] / judged_n if judged_n else 0:.3f} new ("
                 + ", ".join(f"{k} {found[k]}" for k in
                             ("new", "repeat", "no event", "wrong issue", "unlabelled")) + ")")
    p, r, truth_pairs, guessed = story_pairs(a.stories, out.placements, outlets)
    lines.append(f"{indent}story pairs across outlets: precision {p:.3f}, recall {r:.3f} "
                 f"({truth_pairs} annotated same-story pairs, {guessed} placed together)")
    return lines


def _num(value: float) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _write_sample(out: ReplayOutput, rows: list[ItemFields], n: int,
                  path: Path | None) -> None:
    """A seeded sample of alerting developments, each with what an analyst already had: the
    issue's alerting developments of the 72 hours before."""
    text = {r.id: r for r in rows}
    alerting = sorted((d for d in out.developments if d.development_id in out.alerted),
                      key=lambda d: d.first_seen)
    chosen = sorted(random.Random(0).sample(alerting, min(n, len(alerting))),
                    key=lambda d: d.first_seen)
    lines = []
    for d in chosen:
        earlier = [e for e in alerting if e.issue_id == d.issue_id
                   and d.first_seen - timedelta(hours=72) <= e.first_seen < d.first_seen]
        item = text.get(trigger(d) or "")
        lines.append(json.dumps({
            "development_id": d.development_id, "issue": d.issue_id, "kind": d.kind,
            "action": d.action, "at": d.first_seen.isoformat(), "headline": d.headline,
            "summary": item.summary if item else "", "source": item.source or "" if item else "",
            "already_alerted": [{"at": e.first_seen.isoformat(), "headline": e.headline}
                                for e in earlier],
        }, ensure_ascii=False))
    target = path.open("w", encoding="utf-8") if path else sys.stdout
    try:
        target.write("\n".join(lines) + "\n")
    finally:
        if path:
            target.close()
