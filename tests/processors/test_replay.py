"""``peacewatch eval replay``: a stream through the whole pipeline on item time, measured
against events written down for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peacewatch.cli import main

STREAM = [  # written for this test
    {"id": "i1", "published": "2025-09-01T08:00:00+00:00", "source": "wire",
     "title": "Kremlin proposes an Easter truce in Ukraine",
     "summary": "Moscow offered a thirty-hour ceasefire over Orthodox Easter."},
    {"id": "i2", "published": "2025-09-01T08:00:10+00:00", "source": "daily",
     "title": "Kyiv and Moscow weigh a halt to strikes on energy infrastructure",
     "summary": "Negotiators discussed a moratorium on attacks on power plants."},
    {"id": "i3", "published": "2025-09-01T11:00:00+00:00", "source": "daily",
     "title": "Kremlin's Easter truce offer for Ukraine: Kyiv studies the proposal",
     "summary": "The thirty-hour ceasefire offered by Moscow over Easter is being studied."},
    {"id": "i4", "published": "2025-09-01T14:00:00+00:00", "source": "radio",
     "title": "Kyiv accepts the Easter truce proposed by the Kremlin",
     "summary": "Ukraine agreed to the thirty-hour ceasefire over Easter."},
    {"id": "i5", "published": "2025-09-01T15:00:00+00:00", "source": "sport",
     "title": "Cup final ends in a draw", "summary": "Extra time settled nothing."},
]
EVENTS = [
    ("E1", "S1", "i1", "2025-09-01T08:00:00+00:00", "first"),
    ("E2", "S2", "i2", "2025-09-01T08:00:10+00:00", "first"),
    ("E3", "S1", "i4", "2025-09-01T14:00:00+00:00", "agreed"),
]
STORIES = [("i1", "S1", "E1"), ("i2", "S2", "E2"), ("i3", "S1", "E1"), ("i4", "S1", "E3")]
LABELS = {"i1": ["ceasefire", "negotiations"], "i2": ["ceasefire", "negotiations"],
          "i3": ["ceasefire"],
          "i4": ["ceasefire", "negotiations"], "i5": []}


@pytest.fixture
def stream(tmp_path: Path) -> tuple[Path, Path]:
    items = tmp_path / "demo.jsonl"
    items.write_text("".join(json.dumps(r) + "\n" for r in STREAM), encoding="utf-8")
    notes = tmp_path / "replay"
    notes.mkdir()
    (notes / "events-demo.jsonl").write_text("".join(json.dumps({
        "event": e, "story": s, "issue": "ceasefire", "first_id": i, "first_at": at,
        "action": a, "what": "written for the test"}) + "\n" for e, s, i, at, a in EVENTS))
    (notes / "stories-demo.jsonl").write_text("".join(json.dumps({
        "issue": "ceasefire", "id": i, "story": s, "event": e}) + "\n" for i, s, e in STORIES))
    (tmp_path / "labels.jsonl").write_text("".join(
        json.dumps({"id": i, "labels": labels}) + "\n" for i, labels in LABELS.items()))
    return items, notes


def test_a_replay_runs_on_item_time_and_measures_recall_precision_and_pairs(
        stream: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items, notes = stream
    keep = tmp_path / "state"
    # The watchlist rules alone: what they label does not move when the model is retrained.
    config = tmp_path / "rules.toml"
    config.write_text("[processors]\nuse_model = false\n", encoding="utf-8")
    assert main(["-c", str(config), "eval", "replay", "--stream-file", str(items),
                 "--annotations", str(notes), "--corpus", str(tmp_path), "--keep",
                 str(keep)]) == 0
    out = capsys.readouterr().out
    assert "replay demo: 5 items" in out
    assert "event recall within 6 h: 3/3 = 1.000" in out
    # The repeat (i3) joined its story silently; the acceptance (i4) is a change, on the
    # ceasefire and on the talks (i1, i2 and i4 are about both).
    assert "alerting developments                      6" in out
    # The talks have no event written down here: their three alerts count as "no event".
    assert "alert precision by the annotation: 3/6 = 0.500 new (new 3, repeat 0, no event 3" \
        in out
    # Grouped by issue on item time: the two first ceasefire reports, ten seconds apart, are
    # one message; the talks' first one another; six hours later one per issue again.
    assert "messages                                   4" in out
    assert "story pairs across outlets: precision 1.000, recall 1.000" in out
    assert (keep / "notifications.jsonl").exists()


def test_a_replay_needs_a_stream(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "replay"]) == 1
    assert "needs --stream NAME or --stream-file FILE" in capsys.readouterr().err


def test_a_replay_reads_a_csv_export_with_rss_times(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Your own archive as a feed tool exports it: no ids (links stand for them), RFC 2822
    times, descriptions. Its items go through in time order, whatever the file's order."""
    rows = [("Mon, 01 Sep 2025 14:00:00 GMT", STREAM[3]), ("Mon, 01 Sep 2025 08:00:00 GMT",
                                                           STREAM[0])]
    items = tmp_path / "archive.csv"
    items.write_text("pubDate,link,title,description\n" + "".join(
        f'"{at}",https://news.example/{r["id"]},"{r["title"]}","{r["summary"]}"\n'
        for at, r in rows), encoding="utf-8")
    config = tmp_path / "rules.toml"
    config.write_text("[processors]\nuse_model = false\n", encoding="utf-8")
    keep = tmp_path / "state"
    assert main(["-c", str(config), "eval", "replay", "--stream-file", str(items),
                 "--keep", str(keep)]) == 0
    assert "replay archive: 2 items over" in capsys.readouterr().out
    notified = [json.loads(line) for line in (keep / "notifications.jsonl").open()]
    # The proposal (08:00) opened the story; the acceptance (14:00) is a change of it.
    kinds = [d["kind"] for n in notified for d in n["developments"]
             if d["issue_id"] == "ceasefire"]
    assert kinds == ["new_story", "change"]


def test_a_replay_names_an_item_without_a_time(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "undated.jsonl"
    items.write_text(json.dumps({"id": "u1", "title": "Kyiv accepts truce"}) + "\n",
                     encoding="utf-8")
    assert main(["eval", "replay", "--stream-file", str(items)]) == 1
    assert "item 'u1': no publication time" in capsys.readouterr().err


def test_an_unseen_replay_trains_without_the_streams_own_items(
        stream: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--unseen``: the model the replay runs with never read the replayed items, even where
    the corpus put them in train or dev."""
    items, notes = stream
    labelled = [dict(r, split="train" if r["id"] < "i4" else "dev", labels=LABELS[r["id"]])
                for r in STREAM]
    for n in range(8):  # written for this test
        labelled.append({"id": f"c{n}", "split": "train" if n < 6 else "dev",
                         "title": f"Ukraine truce talks, round {n}: a ceasefire in view",
                         "summary": "Kyiv and Moscow discussed a ceasefire.",
                         "labels": ["ceasefire"]})
        labelled.append({"id": f"o{n}", "split": "train" if n < 6 else "dev",
                         "title": f"Ukraine's farmers sow the spring crop, field {n}",
                         "summary": "Grain prices held steady.", "labels": []})
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in labelled), encoding="utf-8")
    keep = tmp_path / "state"
    assert main(["eval", "replay", "--stream-file", str(items), "--annotations", str(notes),
                 "--keep", str(keep), "--data", str(data), "--unseen"]) == 0
    out = capsys.readouterr().out
    assert "model: trained on 16 labelled items, without the stream's own (5 of them were " \
           "in train or dev)" in out
    model = json.loads((keep / "model-unseen.json").read_text(encoding="utf-8"))
    assert (model["meta"]["train_items"], model["meta"]["dev_items"]) == (12, 4)
    assert "replay demo: 5 items" in out
