#!/usr/bin/env python3
"""Draw the candidate pairs that were labelled in ``pairs.jsonl`` (reproducible).

Candidates are pairs of rows of ``../shared/data/news-2022/items.csv`` that share at least two
content words (words seen in more than 200 rows are ignored). Each is put in a stratum by its
highest similarity (title words, body word pairs, all words; Jaccard): ``high`` >= 0.5,
``mid`` >= 0.3, ``low`` >= 0.15, else ``floor``. Every ``high`` pair is taken, and a random
sample of the others (60 / 40 / 20, ``random.Random(7)``).

Each pair was then labelled by reading both title and summary:

* ``copy``        the same report re-published, retitled or lightly edited (what dedup merges)
* ``same-event``  different reports of one event or story thread (what stories group)
* ``different``   anything else

Usage: ``python eval/neardup/build_pairs.py [--shared ../shared] [--show]`` prints the sample
(``--show`` adds the texts, for reading). Item ids are ``news2022:`` + 16 hex of sha256(link),
as in the labelled corpus (``eval/corpus``).
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from processors.text import canonical_title, collapse, content_words, html_to_text  # noqa: E402

QUOTAS = (("high", None), ("mid", 60), ("low", 40), ("floor", 20))


def load_items(shared: Path) -> list[dict[str, str]]:
    items = []
    with (shared / "data/news-2022/items.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            link = row["link"]
            items.append({
                "id": "news2022:" + hashlib.sha256(link.encode()).hexdigest()[:16],
                "link": link,
                "title": collapse(row["title"]),
                "body": html_to_text(row["description"]).replace("\n", " "),
                "date": row["date_published"][:10],
            })
    return items


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    return {(words[i], words[i + 1]) for i in range(len(words) - 1)}


def _jaccard(a: set[object], b: set[object]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def stratum(best: float) -> str:
    if best >= 0.5:
        return "high"
    if best >= 0.3:
        return "mid"
    return "low" if best >= 0.15 else "floor"


def candidates(items: list[dict[str, str]]) -> dict[tuple[int, int], str]:
    titles = [set(content_words(canonical_title(it["title"]))) for it in items]
    bodies = [_pairs(content_words(it["body"])) for it in items]
    alls = [set(content_words(it["title"] + " " + it["body"])) for it in items]
    index: dict[str, set[int]] = collections.defaultdict(set)
    for i, words in enumerate(alls):
        for w in words:
            index[w].add(i)
    out = {}
    for i in range(len(alls)):
        words = alls[i]
        shared: collections.Counter[int] = collections.Counter()
        for w in words:
            if len(index[w]) <= 200:
                shared.update(j for j in index[w] if j > i)
        for j, count in shared.items():
            if count >= 2:
                best = max(_jaccard(titles[i], titles[j]),  # type: ignore[arg-type]
                           _jaccard(bodies[i], bodies[j]),  # type: ignore[arg-type]
                           _jaccard(alls[i], alls[j]))  # type: ignore[arg-type]
                out[(i, j)] = stratum(best)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--show", action="store_true", help="print titles and summaries too")
    args = parser.parse_args(argv)
    items = load_items(args.shared)
    cands = candidates(items)
    by: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for pair, name in cands.items():
        by[name].append(pair)
    rng = random.Random(7)
    for name, quota in QUOTAS:
        keys = sorted(by[name])
        chosen = keys if quota is None or len(keys) <= quota else rng.sample(keys, quota)
        for i, j in chosen:
            a, b = items[i], items[j]
            line = {"a": a["id"], "b": b["id"], "link_a": a["link"], "link_b": b["link"],
                    "stratum": name, "population": len(keys)}
            if args.show:
                line |= {"text_a": f"{a['title']} || {a['body']}",
                         "text_b": f"{b['title']} || {b['body']}"}
            print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
