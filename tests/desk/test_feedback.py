"""`peacewatch feedback export`: the judged items as labelled data the trainer reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_kit import sample_batch

from desk.feedback import labelled_items, split_of
from desk.store.open import open_record
from desk.store.record import RecordStore
from peacewatch.cli import main
from peacewatch.settings import load_settings
from processors.train import read_labelled


def judge(store: RecordStore, development_id: str, verdict: str) -> None:
    dev = store.development(development_id)
    assert dev is not None
    store.add_feedback(dev, verdict, "", "api")


def test_verdicts_become_labels_and_kinds(store: RecordStore) -> None:
    store.write(sample_batch())
    judge(store, "dev-1", "useful")         # item-1: black-sea confirmed, a report
    judge(store, "dev-2", "wrong_issue")    # item-2: black-sea taken away
    judge(store, "dev-3", "useful")
    judge(store, "dev-3", "not_new")        # the latest verdict counts: item-3 background
    by_id = {i["id"]: i for i in labelled_items(store)}
    assert set(by_id) == {"item-1", "item-2", "item-3"}
    assert (by_id["item-1"]["labels"], by_id["item-1"]["kind"]) == (["black-sea"], "report")
    assert (by_id["item-2"]["labels"], by_id["item-2"]["kind"]) == ([], None)
    assert (by_id["item-3"]["labels"], by_id["item-3"]["kind"]) == (["black-sea"], "background")
    assert by_id["item-1"]["split"] == split_of("item-1")
    lines = [json.dumps(i) for i in by_id.values()]
    read = read_labelled(lines, "export")  # the trainer's own reader takes them
    assert {r.id: r.labels for r in read} == {"item-1": ("black-sea",), "item-2": (),
                                             "item-3": ("black-sea",)}


def test_the_command_writes_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PEACEWATCH_DATA_DIR", str(tmp_path))

    store = open_record(load_settings(None))
    store.write(sample_batch())
    judge(store, "dev-4", "useful")
    store.close()
    out = tmp_path / "labelled.jsonl"
    assert main(["feedback", "export", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"id": "item-4", "title": "Україна відхилила умови перемир'я",
                     "summary": "Україна відхилила умови перемир'я. Summary of item 4.",
                     "language": "uk", "split": split_of("item-4"), "labels": ["ceasefire"],
                     "kind": "report", "source": "Ukrinform - Latest"}]
    assert "1 labelled item(s) written" in capsys.readouterr().err
