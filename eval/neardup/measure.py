#!/usr/bin/env python3
"""Measure near-duplicate detection (and story grouping) on the labelled pairs.

Reads ``eval/neardup/pairs.jsonl`` (ids, links, labels), rebuilds the two texts of each pair
from ``../shared/data/news-2022/items.csv`` and runs the decisions peacewatch uses:

* ``processors.dedup.NearDupDecider`` against the label ``copy`` (what deduplication merges),
  plus whether the pair would even be a candidate (shares an LSH bucket);
* ``processors.stories.same_story`` against ``copy`` + ``same-event`` (what story
  clustering groups; the time window is not applied here).

Precision and recall are given on the sample as labelled, and re-weighted by stratum
(population / sampled) as an estimate over all candidate pairs. ``--sweep`` prints a grid of
thresholds. Usage: ``.venv/bin/python eval/neardup/measure.py [--shared ../shared] [--sweep]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_pairs import QUOTAS, candidates, load_items  # noqa: E402

from processors.dedup import (  # noqa: E402
    NearDupDecider,
    NearDupThresholds,
    fingerprint,
    lsh_keys,
)
from processors.stories import same_story, story_terms  # noqa: E402


def scores(pairs: list[dict[str, object]], weights: dict[str, float],
           predict: Callable[[dict[str, object]], bool], positive: set[str]) -> str:
    out = []
    for weighted in (False, True):
        tp = fp = fn = 0.0
        for p in pairs:
            w = weights[str(p["stratum"])] if weighted else 1.0
            truth, guess = p["label"] in positive, predict(p)
            tp += w * (truth and guess)
            fp += w * (guess and not truth)
            fn += w * (truth and not guess)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        label = "weighted" if weighted else "sample"
        out.append(f"{label}: P={prec:.3f} R={rec:.3f} F1={f1:.3f} "
                   f"(tp={tp:.0f} fp={fp:.0f} fn={fn:.0f})")
    return "; ".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--pairs", type=Path, default=Path(__file__).with_name("pairs.jsonl"))
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args(argv)

    items = {it["id"]: it for it in load_items(args.shared)}
    pairs = [json.loads(line) for line in args.pairs.open(encoding="utf-8") if line.strip()]
    fps = {i: fingerprint(items[i]["title"], items[i]["body"])
           for p in pairs for i in (p["a"], p["b"])}
    sampled: dict[str, int] = {}
    for p in pairs:
        sampled[p["stratum"]] = sampled.get(p["stratum"], 0) + 1
    population = {name: 0 for name, _ in QUOTAS}
    for name in candidates(list(items.values())).values():
        population[name] += 1
    weights = {name: population[name] / sampled[name] for name in sampled}
    counts = {lab: sum(p["label"] == lab for p in pairs) for lab in ("copy", "same-event",
                                                                      "different")}
    print(f"pairs: {len(pairs)} {counts}; strata sampled/population: "
          + ", ".join(f"{n} {sampled[n]}/{population[n]}" for n in sampled))

    def hours(p: dict[str, object]) -> float:
        da = date.fromisoformat(items[str(p["a"])]["date"])
        db = date.fromisoformat(items[str(p["b"])]["date"])
        return abs((da - db).days) * 24.0

    decider = NearDupDecider()
    print(f"near-duplicate (copy), thresholds {decider.t}:")
    print("  decider:   " + scores(pairs, weights,
                                   lambda p: decider.compare(fps[p["a"]], fps[p["b"]], hours(p)),
                                   {"copy"}))
    print("  candidate: " + scores(pairs, weights,
                                   lambda p: bool(set(lsh_keys(fps[p["a"]]))
                                                  & set(lsh_keys(fps[p["b"]]))), {"copy"}))
    print("  end to end (candidate and decider): " + scores(
        pairs, weights,
        lambda p: bool(set(lsh_keys(fps[p["a"]])) & set(lsh_keys(fps[p["b"]])))
        and decider.compare(fps[p["a"]], fps[p["b"]], hours(p)), {"copy"}))
    terms = {i: story_terms(items[i]["title"], items[i]["body"])
             for p in pairs for i in (p["a"], p["b"])}
    print("same story (copy + same-event), story_terms overlap:")
    print("  " + scores(pairs, weights, lambda p: same_story(terms[p["a"]], terms[p["b"]]),
                        {"copy", "same-event"}))
    if args.sweep:
        for body, bwt, twb, ta, taf in itertools.product(
                (0.4, 0.5, 0.6), (0.2, 0.3), (0.4, 0.5), (0.4, 0.5, 0.6, 0.7), (0.7, 0.8)):
            d = NearDupDecider(NearDupThresholds(body, bwt, twb, ta, taf))
            print(f"  body={body} body_with_title={bwt} title_with_body={twb} "
                  f"title_alone={ta} title_alone_far={taf}: " + scores(
                      pairs, weights,
                      lambda p, d=d: d.compare(fps[p["a"]], fps[p["b"]], hours(p)), {"copy"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
