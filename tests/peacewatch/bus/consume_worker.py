"""A consumer run as a separate process, so a test can SIGKILL it mid-stream.

It appends every value it handles to a file (flushed and fsynced before the commit), then
commits, sleeping a little per batch so the kill lands while work is in flight.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from peacewatch.bus.base import Bus
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.kafka import KafkaBus
from peacewatch.settings.bus import KafkaSettings


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--expect", type=int, required=True)
    args = ap.parse_args()
    bus: Bus
    if args.backend == "kafka":
        bus = KafkaBus(KafkaSettings(bootstrap_servers=[args.target], session_timeout_s=6))
    else:
        bus = EmbeddedBus(Path(args.target), member_timeout_s=2.0)
    handled = 0
    with bus.consumer(args.group, [args.topic]) as consumer, args.out.open("a") as out:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            batch = consumer.poll(0.5, max_records=20)
            for record in batch:
                out.write(record.value.decode() + "\n")
            out.flush()
            os.fsync(out.fileno())
            time.sleep(0.05)
            consumer.commit(batch)
            handled += len(batch)
            print(f"handled {handled}", flush=True)
            if not batch and _count(args.out) >= args.expect:
                break
    return 0


def _count(path: Path) -> int:
    return len(set(path.read_text().split()))


if __name__ == "__main__":
    sys.exit(main())
