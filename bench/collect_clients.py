"""The two feed readers ``bench/collect`` compares, each run in its own process.

Each runner polls every feed twice: a cold cycle (every feed answers 200 with 20 new items) and
a warm cycle (every feed answers 304 to the validators of the first). It measures each cycle's
wall time, CPU seconds (all threads of its process) and the process's peak RSS, and returns
the numbers. Feed-list set-up (adding feeds) is not part of a cycle.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_peacewatch(urls: list[str], workdir: str) -> dict[str, Any]:
    from collectors.stage import CollectorStage  # noqa: PLC0415 - imported in the measured child process, after its baseline
    from collectors.state import CollectorState  # noqa: PLC0415 - imported in the measured child process, after its baseline
    from peacewatch.bus import open_bus  # noqa: PLC0415 - imported in the measured child process, after its baseline
    from peacewatch.metrics import Metrics  # noqa: PLC0415 - imported in the measured child process, after its baseline
    from peacewatch.settings import load_settings  # noqa: PLC0415 - imported in the measured child process, after its baseline
    from peacewatch.stage import StageContext  # noqa: PLC0415 - imported in the measured child process, after its baseline

    logging.basicConfig(level=logging.ERROR)
    root = Path(workdir)
    feed_list = root / "feeds.toml"
    feed_list.write_text("".join(
        f'[[feed]]\nid = "f{i}"\nname = "bench {i}"\nurl = "{url}"\n'
        for i, url in enumerate(urls)), encoding="utf-8")
    settings = load_settings(
        None, data_dir=root / "peacewatch", metrics={"enabled": False},
        logging={"level": "error"},
        collectors={
            "documents": [], "baseline_documents": [], "feed_lists": [str(feed_list)],
            "allow_networks": ["127.0.0.0/8"],
            "http": {"max_concurrency": 256, "per_host_concurrency": 6},
            "schedule": {"batch_size": 2000},
        },
    )
    events = open_bus(settings)
    out: dict[str, Any] = {}
    for cycle in ("changed", "unchanged"):
        if cycle == "unchanged":
            # As if the poll interval had passed: every feed is due again.
            state = CollectorState(settings.path(settings.collectors.state_path),
                                   settings.bus.partitions)
            state.save_health([replace(h, next_poll_at=0.0) for h in state.health().values()])
            state.close()
        metrics = Metrics()
        started = time.perf_counter()  # construction too: the stage is built when constructed
        stage = CollectorStage(StageContext(settings=settings, events=events, metrics=metrics))
        stage.start()
        startup = time.perf_counter() - started
        wall0, cpu0 = time.perf_counter(), _cpu()
        polled = 0
        deadline = time.monotonic() + 1800
        while polled < len(urls) and time.monotonic() < deadline:
            stage.step(0.5)
            polled = int(sum(s.value for m in metrics.feed_polls.collect() for s in m.samples
                             if s.name.endswith("_total")))
        wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
        items = int(sum(s.value for m in metrics.items_ingested.collect() for s in m.samples
                        if s.name.endswith("_total")))
        outcomes = {s.labels["outcome"]: int(s.value) for m in metrics.feed_polls.collect()
                    for s in m.samples if s.name.endswith("_total")}
        stage.stop()
        out[cycle] = {"wall_s": wall, "cpu_s": cpu, "feeds": polled, "items": items,
                      "rss_mb": _rss_mb(), "startup_s": startup, "outcomes": outcomes}
    events.close()
    return out


def run_reader(urls: list[str], workdir: str, workers: int) -> dict[str, Any]:
    # reader's vendored feedparser needs sgmllib3k, which is not installed; the installed
    # feedparser (the one peacewatch uses) makes the comparison like for like anyway.
    os.environ["READER_NO_VENDORED_FEEDPARSER"] = "1"
    from reader import make_reader  # noqa: PLC0415 - optional dependency, imported when used

    logging.basicConfig(level=logging.ERROR)
    reader = make_reader(str(Path(workdir) / f"reader-{workers}.sqlite"))
    for url in urls:
        reader.add_feed(url)
    out: dict[str, Any] = {}
    for cycle in ("changed", "unchanged"):
        wall0, cpu0 = time.perf_counter(), _cpu()
        reader.update_feeds(scheduled=False, workers=workers)
        wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
        errors = sum(1 for f in reader.get_feeds() if f.last_exception is not None)
        out[cycle] = {"wall_s": wall, "cpu_s": cpu, "feeds": len(urls),
                      "items": reader.get_entry_counts().total if cycle == "changed" else 0,
                      "rss_mb": _rss_mb(), "errors": errors}
    reader.close()
    return out
