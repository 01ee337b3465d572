"""``eval/corpus/build.py``: where the labels of the corpus come from."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_build", REPO / "eval/corpus/build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_build()
    (tmp_path / "written").mkdir()
    monkeypatch.setattr(module, "WRITTEN", tmp_path / "written")
    monkeypatch.setattr(module, "LABELS", write_jsonl(tmp_path / "labels.jsonl", [
        {"id": "a", "labels": ["sanctions"], "kind": "report"},
        {"id": "b", "labels": [], "kind": None}]))
    return module


def test_the_kind_of_an_item_on_no_issue_comes_from_kinds(
        build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "KINDS", write_jsonl(tmp_path / "kinds.jsonl",
                                                    [{"id": "b", "kind": "background"}]))
    labels = build.read_labels()
    assert labels["b"] == {"id": "b", "labels": [], "kind": "background"}
    assert labels["a"]["kind"] == "report"


@pytest.mark.parametrize("wrong", ["a", "unknown"])
def test_a_kind_for_an_item_on_an_issue_or_not_selected_is_refused(
        build: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrong: str) -> None:
    monkeypatch.setattr(build, "KINDS", write_jsonl(tmp_path / "kinds.jsonl",
                                                    [{"id": wrong, "kind": "background"}]))
    with pytest.raises(SystemExit, match=f"{wrong} is not an item labelled with no issue"):
        build.read_labels()


def test_the_corpus_kinds_are_all_of_items_on_no_issue() -> None:
    labels = load_build().read_labels()
    kinds = [json.loads(line) for line in (REPO / "eval/corpus/kinds.jsonl").open()]
    assert len(kinds) == 2435
    assert all(labels[k["id"]]["labels"] == [] and k["kind"] in ("report", "background")
               for k in kinds)
