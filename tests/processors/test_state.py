from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from peacewatch.errors import ProcessorError
from peacewatch.models import Development, Severity, SourceRef
from processors.state import PlacedItem, ProcessorState
from processors.stories import Seen, Story

T = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.fixture
def state(tmp_path: Path) -> ProcessorState:
    return ProcessorState(tmp_path / "s" / "state.sqlite3")


def test_two_states_on_one_file_write_in_turn(tmp_path: Path) -> None:
    """The two steps write one file from two threads: the second writer waits for the first
    to commit, instead of failing with "database is locked" or interleaving."""

    path = tmp_path / "shared.sqlite3"
    first, second = ProcessorState(path), ProcessorState(path)
    order: list[str] = []
    inside = threading.Event()

    def write_second() -> None:
        inside.wait()
        with second.transaction():
            order.append("second")
            second.mark_seen("second", 0, 0, "h", [])

    thread = threading.Thread(target=write_second)
    thread.start()
    with first.transaction():
        inside.set()
        thread.join(0.3)  # the second writer is blocked while the first is open
        order.append("first")
        first.mark_seen("first", 0, 0, "h", [])
    thread.join(5)
    assert order == ["first", "second"]
    assert first.seen("second") is not None and second.seen("first") is not None
    first.close()
    second.close()


def test_a_failed_transaction_leaves_nothing(state: ProcessorState) -> None:
    with pytest.raises(RuntimeError), state.transaction():
        state.mark_seen("x", 0, 0, "h", [])
        raise RuntimeError("boom")
    assert state.seen("x") is None


def test_stories_developments_and_placed_items_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    state = ProcessorState(path)
    seen = Seen("a", T, "wire", {"truce": 0.8, "e:kyiv": 0.6}, "en")
    story = Story("s1", "ceasefire", "Truce", T, T, recent=[seen], item_ids=["a"],
                  sources=[SourceRef(source="wire", url="https://w.example/a")],
                  severity=Severity.AGREED, actions=["agreed"], parties=["russia"],
                  entities=["kyiv"], baseline=True, told=[seen])
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


def test_each_step_prunes_its_own_tables(state: ProcessorState) -> None:
    old, new = T.timestamp() - 86400, T.timestamp()
    with state.transaction():
        state.mark_seen("old", 0, 0, "h1", ["hash:h1"])
        state.claim_keys(["hash:h1"], "old", 0)
    state.prune_seen(before=time.time() + 1)
    assert state.seen("old") is None and state.exact_owner(["hash:h1"]) is None
    with state.transaction():
        for item_id, at in (("a", old), ("b", new)):
            state.save_placed("ceasefire", 0, PlacedItem(item_id, 0, "s", frozenset(), b"\0" * 4,
                                                         0, "text", at))
    state.prune_stories(index_before=new, stories_before=new)
    assert state.placed("ceasefire", "a") is None
    assert state.placed("ceasefire", "b") is not None


def test_exact_keys_are_rebuilt_from_seen_items_first_seen_first(state: ProcessorState) -> None:
    with state.transaction():
        state.mark_seen("first", 1, 0, "h1", ["url:a", "hash:h1"])
        state.claim_keys(["url:a", "hash:h1"], "first", 1)
        state.mark_seen("copy", 1, 0, "h2", ["url:a", "hash:h2"])
        state.claim_keys(["url:a", "hash:h2"], "copy", 1)
        state.mark_seen("first", 1, 1, "h3", ["url:a", "hash:h3"])  # a later revision
        state.claim_keys(["url:a", "hash:h3"], "first", 1)
        state.mark_seen("elsewhere", 2, 0, "h4", ["url:b"])
        state.claim_keys(["url:b"], "elsewhere", 2)
    before = {k: state.exact_owner([k]) for k in ("url:a", "hash:h1", "hash:h2", "hash:h3",
                                                  "url:b")}
    with state.transaction():
        state.db.execute("DELETE FROM exact_keys")
        state.rebuild_exact_keys(1)
    after = {k: state.exact_owner([k]) for k in before}
    assert before == {"url:a": "first", "hash:h1": "first", "hash:h2": "copy",
                      "hash:h3": "first", "url:b": "elsewhere"}
    # Partition 1 comes back as it was, "first" owning the shared URL; 2 was not rebuilt.
    assert after == {**before, "hash:h1": None, "url:b": None}


def test_a_state_file_of_the_release_before_gains_the_keys_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE seen (item_id TEXT PRIMARY KEY, part INTEGER NOT NULL, "
                   "revision INTEGER NOT NULL, content_hash TEXT NOT NULL, at REAL NOT NULL) "
                   "WITHOUT ROWID")
        db.execute("INSERT INTO seen VALUES ('old', 0, 0, 'h', 1.0)")
        db.commit()
    state = ProcessorState(path)
    try:
        assert state.seen("old") == (0, "h")
        with state.transaction():
            state.mark_seen("new", 0, 0, "h2", ["hash:h2"])
            state.rebuild_exact_keys(0)  # the old row has no keys: nothing to claim for it
        assert state.exact_owner(["hash:h2"]) == "new"
        assert state.db.execute("SELECT count(*) FROM exact_keys").fetchone() == (1,)
    finally:
        state.close()
