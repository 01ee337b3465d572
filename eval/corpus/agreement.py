#!/usr/bin/env python3
"""Agreement between two annotators who labelled the same items apart: the issues of
``double.jsonl`` (items read from outlets, then items we wrote), then the kind (background or
report) of ``kinds-double.jsonl``.

    python eval/corpus/agreement.py [--sample random-200|rare-issue-keywords-116]

Per issue: positives each annotator gave, how many both gave, raw agreement, Cohen's kappa and
positive agreement (2 x both / (first + second)); a dash where neither gave any. Standard
library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ISSUES = ("negotiations", "crimea", "security-guarantees", "sanctions", "ceasefire", "territory",
          "nato-membership", "black-sea", "minerals-deal", "military-aid", "prisoners")


HEADER = (f"{'':<22}{'first':>7}{'second':>8}{'both':>6}{'agree':>8}{'kappa':>7}"
          f"{'pos. agr.':>11}")


def row(name: str, a: list[bool], b: list[bool]) -> str:
    """One positive class: how often each annotator gave it, and how far they agree."""
    n = len(a)
    both = sum(x and y for x, y in zip(a, b, strict=True))
    neither = n - sum(a) - sum(b) + both
    observed = (both + neither) / n
    chance = (sum(a) / n) * (sum(b) / n) + (1 - sum(a) / n) * (1 - sum(b) / n)
    kappa = "-" if chance == 1 else f"{(observed - chance) / (1 - chance):.2f}"
    positive = "-" if not sum(a) + sum(b) else f"{2 * both / (sum(a) + sum(b)):.2f}"
    return (f"{name:<22}{sum(a):>7}{sum(b):>8}{both:>6}{observed:>8.1%}{kappa:>7}"
            f"{positive:>11}")


def table(rows: list[dict[str, list[str]]]) -> str:
    n = len(rows)
    out = [HEADER.replace(" " * 22, f"{'issue':<22}", 1)]
    out += [row(issue, [issue in r["first"] for r in rows], [issue in r["second"] for r in rows])
            for issue in ISSUES]
    same = sum(r["first"] == r["second"] for r in rows)
    out.append(f"{n} items; identical label sets {same} ({same / n:.1%})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sample", help="only this sample (default: all)")
    args = parser.parse_args(argv)
    with (HERE / "double.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    if args.sample:
        rows = [r for r in rows if r["sample"] == args.sample]
        if not rows:
            raise SystemExit(f"no items in sample {args.sample!r}")
        print(table(rows))
        return 0
    # Items we wrote were labelled by their writer first: their agreement is reported apart
    # from that of the items read from outlets, which it would flatter.
    print(table([r for r in rows if not r["sample"].startswith("written")]))
    print("\nitems we wrote, labelled by their writer, then by a second reader:")
    print(table([r for r in rows if r["sample"].startswith("written")]))
    print(kind_table())
    return 0


def kind_table() -> str:
    """The kind of war items on no tracked issue (``kinds.jsonl``), labelled twice apart."""
    with (HERE / "kinds-double.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    first = [r["first"] == "background" for r in rows]
    second = [r["second"] == "background" for r in rows]
    return "\n".join(["", HEADER.replace(" " * 22, f"{'kind':<22}", 1),
                      row("background", first, second), f"{len(rows)} items"])


if __name__ == "__main__":
    sys.exit(main())
