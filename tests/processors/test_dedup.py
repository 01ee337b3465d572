from __future__ import annotations

import pytest

from processors.dedup import (
    Fingerprint,
    NearDupDecider,
    NearDupThresholds,
    estimate_jaccard,
    fingerprint,
    lsh_keys,
    minhash,
)

LEAD = ("Ukraine and Russia agreed on Tuesday to stop attacking each other's energy "
        "facilities for thirty days, after separate talks with American negotiators in Riyadh "
        "that also covered shipping in the Black Sea.")


def test_minhash_estimates_jaccard_and_is_stable() -> None:
    a = {f"w{i}" for i in range(100)}
    b = {f"w{i}" for i in range(50, 150)}  # Jaccard 1/3
    sa, sb = minhash(a), minhash(b)
    assert sa is not None and sb is not None
    assert sa == minhash(set(a))  # the same on every run and machine
    assert abs(estimate_jaccard(sa, sb) - 1 / 3) < 0.15
    assert minhash(set()) is None


def test_fingerprint_round_trips_its_body_hashes() -> None:
    fp = fingerprint("Truce on energy strikes agreed", LEAD)
    assert fp.body_hashes is not None and fp.body_signature is not None
    assert Fingerprint.hashes_from_bytes(fp.to_bytes()) == fp.body_hashes
    short = fingerprint("Truce agreed", "Too short.")
    assert short.body_hashes is None and short.body_signature is None
    assert Fingerprint.hashes_from_bytes(short.to_bytes()) is None


def test_retitled_copy_with_the_same_body_is_a_copy() -> None:
    decider = NearDupDecider()
    a = fingerprint("Russia and Ukraine agree 30-day energy truce", LEAD)
    b = fingerprint("Live: Kyiv, Moscow halt energy strikes for a month",
                    LEAD.replace("on Tuesday ", ""))
    assert decider.compare(a, b, hours_apart=2)
    assert set(lsh_keys(a)) & set(lsh_keys(b)), "copies must share an index bucket"


def test_two_outlets_reports_of_one_event_are_not_copies() -> None:
    decider = NearDupDecider()
    a = fingerprint("Russia and Ukraine agree 30-day energy truce", LEAD)
    b = fingerprint("Russia and Ukraine agree energy truce for 30 days",
                    "Moscow and Kyiv will halt strikes on power plants, the White House said "
                    "after a day of shuttle diplomacy by US envoys in the Saudi capital.")
    assert not decider.compare(a, b, hours_apart=1)


@pytest.mark.parametrize(("hours", "copy"), [(3, True), (24 * 10, False)])
def test_bodyless_items_are_judged_by_title_and_time(hours: float, copy: bool) -> None:
    decider = NearDupDecider()
    a = fingerprint("Xi says China is willing to mediate in Ukraine", "")
    b = fingerprint("Xi says China willing to mediate in Ukraine but opposes sanctions", "")
    assert decider.compare(a, b, hours_apart=hours) is copy


def test_short_titles_never_make_a_copy_alone() -> None:
    decider = NearDupDecider(NearDupThresholds(title_alone=0.1, title_alone_far=0.1))
    assert not decider.compare(fingerprint("Live updates", ""), fingerprint("Live updates", ""),
                               hours_apart=0)
