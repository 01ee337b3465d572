#!/usr/bin/env python3
"""Rebuild the development-set items (title, summary, ...) from the shared data.

The labels file (``eval/devset/labels.jsonl``) holds only ids, links and labels;
the texts stay in the shared data directory. This script resolves every labelled
id back to its text and writes JSON Lines items, in the labels file's order::

    {"id", "title", "summary", "url", "published", "source"}

Id scheme (must match the labels file):

* news-2022 CSV rows:   ``news2022:``   + first 16 hex chars of sha256(link)
* Guardian RSS items:   ``guardian:``   + first 16 hex chars of sha256(link)
* White House items:    ``whitehouse:`` + first 16 hex chars of sha256(link)
* seed paragraphs:      ``seed:<file stem>:p<n>``, n counted over the kept
  paragraphs (non-empty lines of at least 60 characters after stripping).

Standard library only. Usage::

    python eval/devset/build_items.py [--shared ../shared] \
        [--labels eval/devset/labels.jsonl] [--out items.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO_ROOT.parent / "shared"
DEFAULT_LABELS = REPO_ROOT / "eval" / "devset" / "labels.jsonl"

NEWS_2022_CSV = Path("data/news-2022/items.csv")
GUARDIAN_XML = Path("data/feeds/guardian-international-2025-04-01.xml")
WHITEHOUSE_XML = Path("data/feeds/whitehouse-briefings.xml")
SEEDS_DIR = Path("seeds")

MIN_SEED_PARAGRAPH_CHARS = 60

# A sentence ends at . ! or ? followed by whitespace, unless the word before
# is an initialism ("U.S.") or a common title abbreviation ("Mr.").
_SENTENCE_END = re.compile(r"[.!?](?=\s)")
_ABBREVIATION = re.compile(r"(?:\b(?:[A-Z]\.)+|\b(?:Mr|Mrs|Ms|Dr|St|Sen|Gen|Rep)\.)$")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    summary: str
    url: str
    published: str | None
    source: str


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")  # keep words in adjacent blocks apart

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(" ")


def collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return collapse("".join(parser.parts))


def link_id(prefix: str, link: str) -> str:
    return f"{prefix}:{hashlib.sha256(link.encode('utf-8')).hexdigest()[:16]}"


def first_sentence(paragraph: str) -> str:
    for match in _SENTENCE_END.finditer(paragraph):
        head = paragraph[: match.end()]
        if not _ABBREVIATION.search(head):
            return head.strip()
    return paragraph.strip()


def seed_paragraphs(text: str) -> list[str]:
    """Non-empty lines of at least MIN_SEED_PARAGRAPH_CHARS characters, stripped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if len(line) >= MIN_SEED_PARAGRAPH_CHARS]


def read_news_2022(shared: Path) -> Iterator[Item]:
    with (shared / NEWS_2022_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            link = row["link"]
            yield Item(
                id=link_id("news2022", link),
                title=collapse(row["title"]),
                summary=html_to_text(row["description"]),
                url=link,
                published=row["date_published"] or None,
                source="news-2022",
            )


def read_rss(path: Path, prefix: str, source: str) -> Iterator[Item]:
    # The feed files are fixed snapshots in the shared data directory, not untrusted input.
    for element in ET.parse(path).getroot().iter("item"):  # noqa: S314
        link = (element.findtext("link") or "").strip()
        yield Item(
            id=link_id(prefix, link),
            title=collapse(element.findtext("title") or ""),
            summary=html_to_text(element.findtext("description") or ""),
            url=link,
            published=collapse(element.findtext("pubDate") or "") or None,
            source=source,
        )


def read_seeds(shared: Path) -> Iterator[Item]:
    for path in sorted((shared / SEEDS_DIR).glob("*.txt")):
        paragraphs = seed_paragraphs(path.read_text(encoding="utf-8"))
        for index, paragraph in enumerate(paragraphs):
            yield Item(
                id=f"seed:{path.stem}:p{index}",
                title=first_sentence(paragraph),
                summary=collapse(paragraph),
                url=f"{SEEDS_DIR.name}/{path.name}",
                published=None,
                source="seed",
            )


def all_items(shared: Path) -> dict[str, Item]:
    items: dict[str, Item] = {}
    sources = (
        read_news_2022(shared),
        read_rss(shared / GUARDIAN_XML, "guardian", "guardian-2025-04-01"),
        read_rss(shared / WHITEHOUSE_XML, "whitehouse", "whitehouse"),
        read_seeds(shared),
    )
    for source in sources:
        for item in source:
            items.setdefault(item.id, item)
    return items


def labelled_ids(labels_path: Path) -> list[str]:
    ids: list[str] = []
    with labels_path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    ids.append(json.loads(line)["id"])
                except (json.JSONDecodeError, KeyError) as error:
                    raise SystemExit(
                        f"{labels_path}:{number}: not a labels record ({error})"
                    ) from error
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared data directory")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="labels JSONL file")
    parser.add_argument("--out", type=Path, help="output JSONL file (default: stdout)")
    args = parser.parse_args(argv)

    if not args.shared.is_dir():
        raise SystemExit(f"shared data directory not found: {args.shared}")
    items = all_items(args.shared)
    ids = labelled_ids(args.labels)
    missing = [item_id for item_id in ids if item_id not in items]
    if missing:
        shown = ", ".join(missing[:10])
        raise SystemExit(
            f"{len(missing)} labelled id(s) not found in {args.shared}: {shown}"
            + (" ..." if len(missing) > 10 else "")
        )

    lines = (json.dumps(asdict(items[item_id]), ensure_ascii=False) + "\n" for item_id in ids)
    if args.out:
        with args.out.open("w", encoding="utf-8") as handle:
            handle.writelines(lines)
    else:
        sys.stdout.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
