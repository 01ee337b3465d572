"""End to end on a real bus (embedded SQLite, and a real Kafka broker): raw items in,
classified items and developments out; a processor that crashes mid-stream, at any point of
its publish cycle, and restarts neither loses an item nor emits a development twice."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from proc_testkit import (
    REPO,
    T0,
    Processors,
    Reader,
    bootstrap_for,
    context,
    make_settings,
    publish,
    raw_item,
    reference_run,
    run_to_the_end,
    run_until,
    synthetic_items,
)

from peacewatch.errors import ProcessorError
from peacewatch.models import (
    CLASSIFIED_ITEMS,
    DEVELOPMENTS,
    RAW_ITEMS,
    RawItem,
    Severity,
    changelog,
)
from processors.stage import ClassifyStage, StoriesStage, build
from processors.state import ProcessorState

pytestmark = pytest.mark.timeout(240)

ENERGY = ("Negotiators in Riyadh said both sides would stop attacking power plants and "
          "substations for thirty days, starting at midnight, and that monitors would report "
          "any violation to the United States.")


def scenario() -> list[RawItem]:
    """The first batch of news; ``LATER`` arrives once it has been processed."""
    return [
        raw_item("a1", "Russia and Ukraine agree 30-day halt to strikes on energy infrastructure",
                 ENERGY, source="wire"),
        raw_item("a1", "Russia and Ukraine agree 30-day halt to strikes on energy infrastructure",
                 ENERGY, source="wire"),  # the same message again
        raw_item("a3", "Live: Kyiv & Moscow agree to halt energy strikes for 30 days",
                 ENERGY, source="outlet2", at=T0 + timedelta(hours=1)),  # a retitled copy
        raw_item("b1", "Ukraine and Russia discuss Black Sea navigation as talks go on in Riyadh",
                 "Delegations weighed safe passage for merchant ships off Odesa.",
                 source="wire", at=T0 + timedelta(hours=2)),
        raw_item("c1", "Gaza ceasefire talks resume in Cairo",
                 "Mediators met Hamas and Israeli negotiators."),
        raw_item("d1", "European leaders at the London meeting agreed to keep military aid "
                 "flowing to Ukraine", "", source="seed", baseline=True),
    ]


LATER = raw_item("b2", "Kyiv and Moscow sign safe shipping deal for the Black Sea",
                 "The agreement on safe passage for merchant ships off Odesa was signed on "
                 "Tuesday evening.", source="outlet3", at=T0 + timedelta(hours=5))


def test_items_in_classified_and_developments_out(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    settings = make_settings(tmp_path, backend=backend,
                             bootstrap=bootstrap_for(backend, request), unique=unique)
    ctx = context(settings)
    publish(ctx.events, RAW_ITEMS, scenario())
    classified = Reader(ctx.events, CLASSIFIED_ITEMS, f"read-c-{unique}")
    developments = Reader(ctx.events, DEVELOPMENTS, f"read-d-{unique}")
    stage = Processors(ctx)
    stage.start()
    try:
        run_until(stage, lambda: {"a1", "a3", "b1", "d1"}
                  <= {c.item.item_id for c in classified.read()}
                  and stage.lag() and not any(stage.lag().values()))
        publish(ctx.events, RAW_ITEMS, [LATER])
        run_until(stage, lambda: "b2" in {c.item.item_id for c in classified.read()}
                  and any(d.severity == Severity.SIGNED for d in developments.read()))
    finally:
        stage.stop()

    by_id: dict[str, list[Any]] = {}
    for c in classified.events:
        by_id.setdefault(c.item.item_id, []).append(c)
    # One message per matched issue (keyed by it), and none more for the repeated message.
    a1 = by_id["a1"]
    issues = {m.issue_id for m in a1[0].issues}
    assert "ceasefire" in issues
    assert sorted(c.issues[0].issue_id for c in a1) == sorted(issues)
    assert all({m.issue_id for m in c.issues} == issues for c in a1)
    assert "c1" not in by_id, "an item that matched nothing is not published by default"
    assert by_id["a1"][0].language == "en"

    devs = developments.events
    ids = [d.development_id for d in devs]
    assert len(ids) == len(set(ids))
    ceasefire = [d for d in devs if d.issue_id == "ceasefire"]
    energy = [d for d in ceasefire if "energy" in d.headline.lower()]
    assert [d.kind for d in energy] == ["new_story"], "the copy made no new story"
    black_sea = sorted((d for d in devs if d.issue_id == "black-sea"), key=lambda d: d.first_seen)
    assert [(d.kind, d.severity) for d in black_sea] == [
        ("new_story", Severity.DISCUSSED), ("change", Severity.SIGNED)]
    assert black_sea[0].story_id == black_sea[1].story_id
    assert {s.source for s in black_sea[1].sources} == {"wire", "outlet3"}
    seed = [d for d in devs if d.issue_id == "military-aid"]
    assert seed and all(d.baseline for d in seed)
    # The energy truce and Black Sea navigation talks restate seeds/baseline.toml's known
    # state; a signed navigation deal is stronger than what was known, so it is news.
    assert energy[0].baseline and black_sea[0].baseline
    assert not black_sea[1].baseline

    state = ProcessorState(settings.path(settings.processors.state_path))
    try:
        (story, story_devs), = [t for t in state.timeline("ceasefire")
                                if "energy" in t[0].headline.lower()]
    finally:
        state.close()
    assert {s.source for s in story.sources} >= {"wire", "outlet2"}, "the copy corroborates"
    assert {"a1", "a3"} <= set(story.item_ids)
    # One development for the two copies: made by whichever the stream delivered first.
    assert [d.item_ids[-1] for d in story_devs if "energy" in d.headline.lower()] in (
        ["a1"], ["a3"])
    assert ctx.metrics.registry.get_sample_value(
        "peacewatch_duplicates_total", {"kind": "near"}) == 1
    assert ctx.metrics.registry.get_sample_value(
        "peacewatch_duplicates_total", {"kind": "exact"}) == 1
    classified.close()
    developments.close()
    ctx.events.close()


def test_a_copy_under_another_id_is_counted_once_as_exact(tmp_path: Path) -> None:
    """The same link, re-published by another feed: an exact copy (by canonical URL), counted
    once as such and never again as a near copy; it joins its original's story silently."""
    ctx = context(make_settings(tmp_path))
    first = raw_item("x1", "Russia and Ukraine agree 30-day halt to strikes on energy "
                     "infrastructure", ENERGY, url="https://www.wire.example/energy?utm_source=a")
    again = raw_item("x2", "Russia, Ukraine agree 30-day energy strikes halt", ENERGY,
                     source="other", url="http://wire.example/energy/", at=T0 + timedelta(hours=1))
    publish(ctx.events, RAW_ITEMS, [first, again])
    developments = Reader(ctx.events, DEVELOPMENTS, "read-copy")
    run_to_the_end(ctx)
    registry = ctx.metrics.registry
    assert registry.get_sample_value("peacewatch_duplicates_total", {"kind": "exact"}) == 1
    assert registry.get_sample_value("peacewatch_duplicates_total", {"kind": "near"}) in (None, 0)
    assert all(d.item_ids[-1] == "x1" for d in developments.read())
    developments.close()
    ctx.events.close()


class Crash(Exception):
    """Stands for the process dying at one point of the publish cycle."""


def test_build_gives_both_steps_each_for_its_own_thread(tmp_path: Path) -> None:
    ctx = context(make_settings(tmp_path))
    classify, stories = build(ctx)
    assert isinstance(classify, ClassifyStage) and isinstance(stories, StoriesStage)
    assert (classify.name, stories.name) == ("classify", "stories")
    ctx.events.close()


def test_both_steps_share_one_model_until_its_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "model.json"
    shutil.copy(REPO / "seeds" / "model.json", model)
    ctx = context(make_settings(tmp_path, model=str(model)))
    classify, stories = build(ctx)
    loaded = classify.decisions.classifier.model
    assert loaded is not None and stories.decisions.idf is loaded.idf
    # A reload that finds the file as it was keeps the model; a changed file is read again.
    classify.reload(ctx.settings)
    assert classify.decisions.classifier.model is loaded
    model.write_text(model.read_text(encoding="utf-8").replace('"seed":0', '"seed":0 '),
                     encoding="utf-8")
    classify.reload(ctx.settings)
    assert classify.decisions.classifier.model is not loaded
    ctx.events.close()


def arm_crash(stage: StoriesStage, point: str) -> list[bool]:
    """Make the stage die once, at ``point``, on the first publish that carries developments."""
    fired = [False]
    ledger = stage.ledger
    publish = ledger.publish

    def crashing_publish(publisher: Any, parts: Any) -> None:
        parts = set(parts)
        rows = ledger.outbox(parts)
        if fired[0] or not any(r.topic == DEVELOPMENTS.base for r in rows):
            publish(publisher, parts)
            return
        fired[0] = True
        if point == "before_publish":  # state committed, nothing published
            raise Crash(point)
        if point == "after_flush":  # outputs published and flushed, still in the outbox
            for r in rows:
                publisher.producer.publish(stage.ctx.events.topic(DEVELOPMENTS)
                                           if r.topic == DEVELOPMENTS.base else
                                           stage.ctx.events.topic(CLASSIFIED_ITEMS),
                                           r.payload.encode(), r.key)
            publisher.flush()
            raise Crash(point)
        publish(publisher, parts)
        raise Crash(point)  # "before_commit": outputs and state out, offsets not committed

    ledger.publish = crashing_publish  # type: ignore[method-assign]
    return fired


@pytest.mark.parametrize("point", ["before_publish", "after_flush", "before_commit"])
def test_crash_and_restart_loses_nothing_and_emits_no_development_twice(
    backend: str, point: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = synthetic_items(120, seed=3)
    reference = reference_run(items, tmp_path)
    expected = reference.development_ids
    assert len(expected) >= 10
    settings = make_settings(tmp_path, backend=backend, partitions=1, batch_size=25,
                             bootstrap=bootstrap_for(backend, request), unique=unique)
    ctx = context(settings)
    publish(ctx.events, RAW_ITEMS, items)
    stage = Processors(ctx)
    fired = arm_crash(stage.stories, point)
    stage.start()
    with pytest.raises(Crash):
        run_until(stage, lambda: False, timeout_s=90)
    assert fired[0]
    stage.stop()  # the process is gone: its consumers leave, nothing more is committed

    caplog.set_level(logging.INFO, logger="peacewatch.stories")
    restarted = Processors(context(settings))
    restarted.start()
    developments = Reader(ctx.events, DEVELOPMENTS, f"read-d-{unique}")
    classified = Reader(ctx.events, CLASSIFIED_ITEMS, f"read-c-{unique}")
    try:
        run_until(restarted, lambda: len(developments.read()) >= len(expected)
                  and {c.item.item_id for c in classified.read()} == reference.classified_ids)
    finally:
        restarted.stop()
    ids = [d.development_id for d in developments.read()]
    assert [i for i, n in Counter(ids).items() if n > 1] == [], "a development was emitted twice"
    assert set(ids) == set(expected), "a development was lost or is new"
    assert {c.item.item_id for c in classified.events} == reference.classified_ids
    recovered = [r.getMessage() for r in caplog.records if "already published" in r.getMessage()]
    # Only the crash between publishing and forgetting leaves published rows behind.
    assert bool(recovered) is (point == "after_flush")
    developments.close()
    classified.close()
    ctx.events.close()


def classified_by_id(tmp_path: Path, items: list[RawItem], **processors: Any,
                     ) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """(key, issues) of what the classified topic holds, per item, after one run."""
    ctx = context(make_settings(tmp_path, unique=tmp_path.name, partitions=1, **processors))
    publish(ctx.events, RAW_ITEMS, items)
    reader = Reader(ctx.events, CLASSIFIED_ITEMS, f"read-{tmp_path.name}")
    stage = Processors(ctx)
    stage.start()
    try:
        run_until(stage, lambda: not any(stage.lag().values()))
    finally:
        stage.stop()
    out = {c.item.item_id: (c.issue_key, c.issues) for c in reader.read()}
    reader.close()
    ctx.events.close()
    return out


def test_unmatched_items_are_published_only_when_asked(tmp_path: Path) -> None:
    items = [raw_item("g1", "Gaza ceasefire talks resume in Cairo",
                      "Mediators met Hamas and Israeli negotiators."),
             raw_item("u1", "Russia and Ukraine agree 30-day halt to strikes on energy "
                      "infrastructure", ENERGY)]
    default = classified_by_id(tmp_path / "default", items)
    asked = classified_by_id(tmp_path / "asked", items, publish_unmatched=True)
    assert set(default) == {"u1"}
    assert set(asked) == {"g1", "u1"}
    assert asked["g1"] == ("none", ())


def test_only_items_with_an_output_go_to_the_changelog(tmp_path: Path) -> None:
    """Most news matches nothing: its seen row stays in the local cache, off the changelog."""
    ctx = context(make_settings(tmp_path, partitions=1))
    publish(ctx.events, RAW_ITEMS, [
        raw_item("g1", "Gaza ceasefire talks resume in Cairo",
                 "Mediators met Hamas and Israeli negotiators."),
        raw_item("u1", "Russia and Ukraine agree 30-day halt to strikes on energy "
                 "infrastructure", ENERGY)])
    run_to_the_end(ctx)
    log = ctx.events.bus.read_partitions(ctx.events.topic(changelog("classify")), [0])[0]
    assert {r.key for r in log if r.key and r.key.startswith("seen:")} == {'seen:["u1"]'}
    state = ProcessorState(tmp_path / "data" / "processors.sqlite3")
    try:
        assert state.seen("g1") is not None and state.seen("u1") is not None
    finally:
        state.close()
    ctx.events.close()


def test_a_step_whose_transaction_fails_is_handled_again_as_if_it_never_ran(
        tmp_path: Path) -> None:
    """A full disk fails a step's transaction after its records were decided: the stories
    they made are rolled back, and so must be what the step keeps of them in memory, or the
    records handled again find their own stories and make no development."""
    items = synthetic_items(120, seed=3)
    reference = reference_run(items, tmp_path)
    ctx = context(make_settings(tmp_path, partitions=1, batch_size=25, unique="fail"))
    publish(ctx.events, RAW_ITEMS, items)
    developments = Reader(ctx.events, DEVELOPMENTS, "read-d-fail")
    stage = Processors(ctx)
    ledger = stage.stories.ledger
    advance = ledger.advance
    failures = [0]

    def disk_full_once(topic: str, part: int, next_offset: int) -> None:
        if failures[0] == 0:
            failures[0] += 1
            raise ProcessorError("processor state: database or disk is full")
        advance(topic, part, next_offset)

    ledger.advance = disk_full_once  # type: ignore[method-assign]
    stage.start()
    try:
        with pytest.raises(ProcessorError):
            run_until(stage, lambda: False, timeout_s=30)
        run_until(stage, lambda: bool(stage.lag()) and not any(stage.lag().values()))
    finally:
        stage.stop()
    assert failures[0] == 1
    ids = [d.development_id for d in developments.read()]
    assert sorted(ids) == sorted(reference.development_ids)
    developments.close()
    ctx.events.close()
