#!/usr/bin/env python3
"""The labelled corpus: which items it holds, their frozen split, and their texts.

The repository keeps ids, links, splits and labels; the texts stay in the shared data folder
(``../shared``) and are rebuilt from it by this script. Standard library only.

    python eval/corpus/build.py select            # (re)write selection.jsonl: ids and splits
    python eval/corpus/build.py texts [--out F]   # every selected item: text, split, labels
    python eval/corpus/build.py stream NAME       # a whole stream in publication order

``stream`` writes every item of ``news-2022`` or ``firehose-2026-01`` (labelled or not) as
``{id, title, summary, url, published, source, language}``, oldest first: what
``peacewatch eval replay`` feeds through the pipeline.

``texts`` writes the labelled-items format that ``peacewatch train`` and ``peacewatch eval``
read: ``{id, title, summary, language, published, source, outlet, split, stratum, labels,
kind}`` (``labels`` from ``labels.jsonl``, or from the written item itself). The script needs
only the standard library and this repository's ``peacewatch/text.py``.

Ids:

* ``news2022:``, ``guardian:``, ``whitehouse:``, ``fh:`` + the first 16 hex digits of the
  sha256 of the item's link (news-2022 CSV, the two RSS snapshots, the January 2026 firehose);
* ``seed:<file stem>:p<n>``: the n-th paragraph (a line of 60 characters or more) of a seed;
* ``w-uk:``, ``w-ru:``, ``w-de:``: items we wrote ourselves (``written/*.jsonl``, text kept here).

Splits are decided by time and by outlet, never by label, and were frozen before any labelling:
see ``NOTES.md``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # peacewatch.text: standard library only

from peacewatch.text import collapse, parse_html  # noqa: E402

DEFAULT_SHARED = HERE.parents[1].parent / "shared"
SELECTION = HERE / "selection.jsonl"
LABELS = HERE / "labels.jsonl"
KINDS = HERE / "kinds.jsonl"
WRITTEN = HERE / "written"

NEWS_2022_CSV = Path("data/news-2022/items.csv")
GUARDIAN_XML = Path("data/feeds/guardian-international-2025-04-01.xml")
WHITEHOUSE_XML = Path("data/feeds/whitehouse-briefings.xml")
FIREHOSE = Path("data/firehose-2026-01/items.jsonl")
SEEDS = Path("seeds")
MIN_SEED_PARAGRAPH = 60

# Firehose items that name the war (in English, Polish or German) are all taken; so are a sample
# of near misses (other wars' truces, other sanctions, NATO, Greenland ...) and of plain noise.
WAR = re.compile(
    r"ukrain|russ|rosj|rosyj|rosji|rosję|moskw|moscow|moskau|kreml|putin|zelensk|zełensk|"
    r"selensk|kyiv|kijów|kijow|kiew|donbas|donieck|donezk|crimea|krym|krim\b|witkoff|dmitriev|"
    r"ławrow|lavrov|lawrow|peskov|pieskow|umerov|umierow|budanov|budanow|sybiha|zaporizh|"
    r"zaporoż|saporischsch|kharkiv|charków|charkiw|odesa|odessa|black sea|morze czarne|"
    r"schwarze[sn] meer|coalition of the willing|koalicj\w* chętnych|koalition der willigen|"
    r"kupiansk|kupiańsk|pokrovsk|pokrowsk|huliaipole|shadow fleet|flot\w* cieni|schattenflotte",
    re.IGNORECASE)
NEAR_MISS = re.compile(
    r"cease-?fire|truce|sanction|\bnato\b|greenland|\biran|venezuel|maduro|gaza|peace (?:talks|"
    r"deal|plan|process)|rozejm|zawieszeni\w* broni|sankcj|grenland|wenezuel|waffenruhe|"
    r"waffenstillstand|sanktion|frieden|mineral|rare earth|prisoner|hostage|tanker|"
    r"security guarantee|gwarancj|sicherheitsgarant|peacekeep|annex|territor|weapons|"
    r"military aid|jeńc|gefangen|nato-",
    re.IGNORECASE)
NEAR_MISS_QUOTA = 450
NOISE_QUOTA = 350
SAMPLE_SEED = 2026

# Outlets whose every item is held out (test) or kept for choosing (dev), whatever the day;
# picked by hand for languages and kinds of outlet, before any item was labelled.
TEST_OUTLETS = frozenset({
    "tvn24.pl", "polsatnews.pl", "wiadomosci.gazeta.pl", "themoscowtimes.com", "aljazeera.com",
    "politico.eu", "bloomberg.com", "cbsnews.com", "thehill.com", "japantoday.com",
    "feeds.skynews.com", "koreaherald.com", "lemonde.fr",
})
DEV_OUTLETS = frozenset({
    "businessinsider.com.pl", "ft.com", "newsweek.com", "channelnewsasia.com",
    "feed.theepochtimes.com",
})


@dataclass(frozen=True)
class Item:
    id: str
    source: str  # which collection: news-2022, guardian-2025-04-01, whitehouse, firehose, ...
    outlet: str
    link: str
    published: str | None
    language: str
    title: str
    summary: str


def html_to_text(markup: str) -> str:
    """The item's text on one line (the one HTML-to-text of peacewatch, collapsed)."""
    return collapse(parse_html(markup)[0])


def link_id(prefix: str, link: str) -> str:
    return f"{prefix}:{hashlib.sha256(link.encode('utf-8')).hexdigest()[:16]}"


def outlet_of(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    if host == "news.google.com":  # one aggregator per edition
        host += "/" + parse_qs(parts.query).get("hl", ["?"])[0]
    if host.startswith(("feeds.bbci.co.uk", "bbc.co.uk")):
        host = "bbc.co.uk"
    if host.endswith("cnn.com"):
        host = "cnn.com"
    return host


def _first_sentence(paragraph: str) -> str:
    match = re.search(r"(?<![A-Z])[.!?](?=\s)", paragraph)
    return paragraph[: match.end()].strip() if match else paragraph.strip()


# --- reading the shared data -------------------------------------------------------------------


def read_news_2022(shared: Path) -> Iterator[Item]:
    with (shared / NEWS_2022_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            link = row["link"]
            yield Item(link_id("news2022", link), "news-2022", outlet_of(row["source_feed"]),
                       link, row["date_published"] or None, "en", collapse(row["title"]),
                       html_to_text(row["description"]))


def read_rss(shared: Path, path: Path, prefix: str, source: str) -> Iterator[Item]:
    # Fixed snapshots in the shared folder, not untrusted input.
    for element in ET.parse(shared / path).getroot().iter("item"):  # noqa: S314
        link = (element.findtext("link") or "").strip()
        yield Item(link_id(prefix, link), source, outlet_of(link), link,
                   collapse(element.findtext("pubDate") or "") or None, "en",
                   collapse(element.findtext("title") or ""),
                   html_to_text(element.findtext("description") or ""))


def read_firehose(shared: Path) -> Iterator[Item]:
    with (shared / FIREHOSE).open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            yield Item(link_id("fh", row["url"]), "firehose", outlet_of(row["source"]),
                       row["url"], row["published"], row["language"][:2].lower(),
                       collapse(row["title"]), html_to_text(row["summary"]))


def read_seeds(shared: Path) -> Iterator[Item]:
    for path in sorted((shared / SEEDS).glob("*.txt")):
        lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        kept = [line for line in lines if len(line) >= MIN_SEED_PARAGRAPH]
        for n, paragraph in enumerate(kept):
            yield Item(f"seed:{path.stem}:p{n}", "seed", "seed", f"seeds/{path.name}", None,
                       "en", _first_sentence(paragraph), collapse(paragraph))


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            yield from (json.loads(line) for line in handle if line.strip())


def _written_rows() -> Iterator[dict[str, object]]:
    for path in sorted(WRITTEN.glob("*.jsonl")):
        yield from _jsonl(path)


def read_written() -> Iterator[Item]:
    for row in _written_rows():
        yield Item(str(row["id"]), f"written-{row['language']}", "written", "",
                   row.get("published"), str(row["language"]), str(row["title"]),
                   str(row.get("summary", "")))


def all_items(shared: Path) -> Iterator[Item]:
    yield from read_news_2022(shared)
    yield from read_rss(shared, GUARDIAN_XML, "guardian", "guardian-2025-04-01")
    yield from read_rss(shared, WHITEHOUSE_XML, "whitehouse", "whitehouse")
    yield from read_seeds(shared)
    yield from read_firehose(shared)
    yield from read_written()


# --- selection and split -----------------------------------------------------------------------


def split_of(item: Item) -> str:
    """train, dev or test: by time, and for the firehose also by outlet."""
    day = (item.published or "")[:10]
    if item.source == "news-2022":
        if item.outlet == "theguardian.com":
            return "test"  # an outlet the model never trains on
        return "test" if day >= "2022-07-01" else "dev" if day >= "2022-06-01" else "train"
    if item.source == "guardian-2025-04-01":
        return "test"
    if item.source == "whitehouse":
        return "dev"
    if item.source == "seed":
        return "train"
    if item.source == "firehose":
        if item.outlet in TEST_OUTLETS:
            return "test"
        if item.outlet == "spiegel.de":  # the only German outlet: split by day alone
            return "test" if day >= "2026-01-09" else "dev" if day >= "2026-01-07" else "train"
        if day >= "2026-01-10":
            return "test"
        if item.outlet in DEV_OUTLETS or day >= "2026-01-09":
            return "dev"
        return "train"
    # Written items: by a hash of the id, 60 / 15 / 25.
    bucket = int(hashlib.sha256(item.id.encode()).hexdigest(), 16) % 100
    return "test" if bucket < 25 else "dev" if bucket < 40 else "train"


def select(shared: Path) -> list[tuple[Item, str]]:
    """Every item of the corpus with its stratum, in a stable order."""
    chosen: list[tuple[Item, str]] = []
    near: list[Item] = []
    rest: list[Item] = []
    for item in all_items(shared):
        if item.source != "firehose":
            chosen.append((item, "all"))
        elif WAR.search(f"{item.title} {item.summary}"):
            chosen.append((item, "war-terms"))
        elif NEAR_MISS.search(f"{item.title} {item.summary}"):
            near.append(item)
        else:
            rest.append(item)
    rng = random.Random(SAMPLE_SEED)
    chosen += [(i, "near-miss") for i in rng.sample(near, min(NEAR_MISS_QUOTA, len(near)))]
    chosen += [(i, "noise") for i in rng.sample(rest, min(NOISE_QUOTA, len(rest)))]
    return chosen


def selection_record(item: Item, stratum: str) -> dict[str, object]:
    return {"id": item.id, "source": item.source, "outlet": item.outlet, "link": item.link,
            "published": item.published, "language": item.language, "stratum": stratum,
            "split": split_of(item)}


def read_selection(path: Path = SELECTION) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_labels() -> dict[str, dict[str, object]]:
    """Labels by id: ``labels.jsonl`` for items read from the shared data, and the written
    items' own; with the kind ``kinds.jsonl`` gives an item on no issue (the kind head learns
    how news tells, whatever it tells of)."""
    out = {str(r["id"]): r for r in _written_rows()}
    out.update((str(row["id"]), row) for row in _jsonl(LABELS))
    for row in _jsonl(KINDS):
        label = out.get(str(row["id"]))
        if label is None or label["labels"]:
            raise SystemExit(f"{KINDS.name}: {row['id']} is not an item labelled with no issue")
        out[str(row["id"])] = {**label, "kind": row["kind"]}
    return out


def labelled_items(shared: Path) -> Iterator[dict[str, object]]:
    """Every selected item with its text, split and (where there are some) labels."""
    selection = read_selection()
    by_id = {item.id: item for item in all_items(shared)}
    missing = [str(r["id"]) for r in selection if r["id"] not in by_id]
    if missing:
        raise SystemExit(f"{len(missing)} id(s) not found in {shared}: {', '.join(missing[:5])}")
    labels = read_labels()
    for record in selection:
        item = asdict(by_id[str(record["id"])])
        label = labels.get(str(record["id"]))
        item.update(split=record["split"], stratum=record["stratum"],
                    labels=label["labels"] if label else None,
                    kind=label.get("kind") if label else None)
        yield item


STREAMS = {"news-2022": read_news_2022, "firehose-2026-01": read_firehose}


def stream(shared: Path, name: str) -> Iterator[dict[str, object]]:
    items = sorted(STREAMS[name](shared), key=lambda i: (i.published or "", i.id))
    for item in items:
        yield {"id": item.id, "title": item.title, "summary": item.summary, "url": item.link,
               "published": item.published, "source": item.outlet, "language": item.language}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=("select", "texts", "stream"))
    parser.add_argument("name", nargs="?", choices=sorted(STREAMS), help="the stream")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    if not args.shared.is_dir():
        raise SystemExit(f"shared data folder not found: {args.shared}")
    if args.command == "select":
        records = [selection_record(i, s) for i, s in select(args.shared)]
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
        (args.out or SELECTION).write_text("".join(lines), encoding="utf-8")
        return 0
    if args.command == "stream" and args.name is None:
        parser.error("stream needs a NAME")
    records = (stream(args.shared, args.name) if args.command == "stream"
               else labelled_items(args.shared))
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
