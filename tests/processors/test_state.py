from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from peacewatch.errors import ProcessorError
from peacewatch.models import Development, Severity, SourceRef
from processors.state import PlacedItem, ProcessorState
from processors.stories import Story

T = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> ProcessorState:
    return ProcessorState(tmp_path / "s" / "state.sqlite3")


def test_offsets_make_redelivery_visible(state: ProcessorState) -> None:
    with state.transaction():
        assert not state.handled("g", "t", 0, 5)
        state.advance("g", "t", 0, 5)
        state.advance("g", "t", 0, 3)  # never moves back
    assert state.handled("g", "t", 0, 5) and state.handled("g", "t", 0, 0)
    assert not state.handled("g", "t", 0, 6) and not state.handled("g", "t", 1, 0)
    assert not state.handled("other", "t", 0, 0)


def test_outbox_rows_by_group_and_partition(state: ProcessorState) -> None:
    with state.transaction():
        state.add_outbox("g", 0, "developments", "k", "{}")
        state.add_outbox("g", 1, "items.classified", None, "{}")
        state.add_outbox("h", 0, "developments", "k", "{}")
    assert [(r.part, r.topic) for r in state.outbox("g")] == [
        (0, "developments"), (1, "items.classified")]
    rows = state.outbox("g", {1})
    assert [r.part for r in rows] == [1]
    state.sent(r.id for r in rows)
    assert [r.part for r in state.outbox("g")] == [0]


def test_a_failed_transaction_leaves_nothing(state: ProcessorState) -> None:
    with pytest.raises(RuntimeError), state.transaction():
        state.advance("g", "t", 0, 9)
        raise RuntimeError("boom")
    assert not state.handled("g", "t", 0, 0)


def test_stories_developments_and_placed_items_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    state = ProcessorState(path)
    story = Story("s1", "ceasefire", "Truce", T, T, {"truce": 2}, ["a"],
                  [SourceRef(source="wire", url="https://w.example/a")], Severity.AGREED,
                  ["agreed"], ["russia"], baseline=True)
    dev = Development(development_id="d1", issue_id="ceasefire", story_id="s1",
                      kind="new_story", headline="Truce", severity=Severity.AGREED,
                      first_seen=T, detected_at=T)
    with state.transaction():
        state.save_story(story, 2)
        state.save_development(dev, 2)
        state.save_placed("ceasefire", 2, PlacedItem("a", 0, "s1", frozenset({"truce"}),
                                                     b"\x00\x00\x00\x00", 3, "Truce", 1.0))
        state.index("ceasefire", 2, "a", ["k1", "k2"], 1.0)
    state.close()
    again = ProcessorState(path)
    assert again.story("ceasefire", "s1") == story
    assert again.has_development("d1") and not again.has_development("d2")
    assert [s.story_id for s in again.stories("ceasefire", since=0.0)] == ["s1"]
    assert again.stories("ceasefire", since=T.timestamp() + 1) == []
    (timeline,) = again.timeline("ceasefire")
    assert timeline == (story, [dev])
    assert [p.item_id for p in again.candidates("ceasefire", ["k2"], 0.0, 10)] == ["a"]
    assert again.placed("ceasefire", "a") is not None
    assert again.issues() == ["ceasefire"]
    again.close()


def test_unusable_state_path_is_a_processor_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ProcessorError, match="cannot open"):
        ProcessorState(blocker / "state.sqlite3")
