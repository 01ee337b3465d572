"""The chaos soak's own accounting (bench/soak): a soak that cannot fail is no proof, so these
check that a lost item, a duplicate post and a resend are each counted as what they are, and
that the fault schedule is what the soak says it is."""

from __future__ import annotations

import itertools
import json
import random
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from soak_chaos import schedule, spread
from soak_kit import FeedServer, Headlines, Receiver, markers_in, tally


def slack_body(headline: str) -> bytes:
    return json.dumps({"text": f"New on ceasefire: {headline}",
                       "blocks": [{"type": "section", "text": {"text": headline}}]}).encode()


def webhook_body(headline: str) -> bytes:
    return json.dumps({"developments": [{"headline": headline}]}).encode()


def items(n: int) -> list[tuple[str, str]]:
    headlines = Headlines(["ceasefire", "prisoner exchange"])
    return [headlines.next() for _ in range(n)]


def test_headlines_have_stems_no_other_item_has_and_their_markers_are_found() -> None:
    made = items(3000)
    stems = [w[:6].lower() for _, title in made for w in title.split(": ")[1].split()]
    assert len(stems) == len(set(stems)) == 30000
    marker, title = made[1234]
    assert marker in markers_in(json.dumps({"text": title}))


def test_a_slack_post_twice_is_a_duplicate_and_an_item_never_posted_is_lost() -> None:
    made = items(3)
    slack = Receiver("slack", "slack")
    for _, title in (made[0], made[1], made[1]):
        slack.take(slack_body(title), key=None)
    t = tally(slack, [m for m, _ in made])
    assert (t.posts, t.notified, t.lost, t.duplicates, t.resends) == (3, 2, 1, 1, 0)


def test_a_webhook_resend_with_the_same_key_is_dropped_and_a_new_key_is_a_duplicate() -> None:
    (m0, t0), (m1, t1) = items(2)
    hook = Receiver("hook", "webhook")
    hook.take(webhook_body(t0), key="n-0")
    hook.take(webhook_body(t0), key="n-0")  # resent after a crash: the same message
    hook.take(webhook_body(t1), key="n-1")
    assert tally(hook, [m0, m1]).duplicates == 0
    assert tally(hook, [m0, m1]).resends == 1
    hook.take(webhook_body(t1), key="n-1b")  # another message about the same item
    assert tally(hook, [m0, m1]).duplicates == 1


def test_the_receivers_count_what_arrives_over_http() -> None:
    (marker, title), = items(1)
    hook = Receiver("hook", "webhook").start()
    try:
        request = urllib.request.Request(hook.url, data=webhook_body(title),
                                         headers={"Idempotency-Key": "k",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        hook.stop()
    assert hook.snapshot()[0].key == "k" and tally(hook, [marker]).notified == 1


def test_a_feed_shows_only_its_latest_items() -> None:
    feeds = FeedServer(["a"], window=2)
    for n in range(3):
        feeds.add("a", f"urn:soak:a:{n}", f"title {n}")
    xml = feeds.render("a").decode()
    assert "title 0" not in xml and "title 1" in xml and "title 2" in xml


def test_the_faults_are_seeded_apart_and_inside_the_calm_ends() -> None:
    faults, restarts = schedule(11, ["collect", "process", "alert"], 20, 600, [1, 2, 3])
    assert (faults, restarts) == schedule(11, ["collect", "process", "alert"], 20, 600, [1, 2, 3])
    for stage in ("collect", "process", "alert"):
        times = [f.at for f in faults if f.target == stage]
        assert len(times) == 20 and times[0] >= 15 and times[-1] <= 585
        assert all(b - a >= 10 - 1e-9 for a, b in itertools.pairwise(times))
    assert [how for _, _, how in restarts] == ["stop", "kill"]
    assert len({node for _, node, _ in restarts}) == 2
    assert restarts[1][0] - restarts[0][0] >= 150 - 1e-9


def test_a_short_span_narrows_the_gap_instead_of_overrunning() -> None:
    times = spread(random.Random(1), 5, 0, 20, 10)
    assert len(times) == 5 and all(0 <= t <= 20 for t in times)
