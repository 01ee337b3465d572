"""``peacewatch train`` and the model's checks, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from proc_testkit import REPO

from peacewatch.cli import main

SHIPPED = REPO / "seeds" / "model.json"


@pytest.mark.slow
# Training takes about 30 s on two idle cores; a busy machine can take ten times that.
@pytest.mark.timeout(900)
def test_train_on_the_corpus_gives_the_shipped_model_byte_for_byte(
        shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.json"
    assert main(["train", "--corpus", str(REPO / "eval" / "corpus"), "--shared",
                 str(shared_dir), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "kind:background" in table and "negotiations" in table
    assert out.read_bytes() == SHIPPED.read_bytes()


def config_with_model(tmp_path: Path, model: Path) -> Path:
    config = tmp_path / "pw.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[processors]\nmodel = "{model}"\n',
                      encoding="utf-8")
    return config


def test_check_reports_the_model_and_refuses_a_stale_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", str(config_with_model(tmp_path, SHIPPED)), "check"]) in (0, 1)
    assert "processors: model ok (11 issues learned" in capsys.readouterr().out
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(json.loads(SHIPPED.read_text()) | {"features_version": 0}))
    assert main(["-c", str(config_with_model(tmp_path, stale)), "check"]) != 0
    assert "trained on features v0" in capsys.readouterr().out
    assert main(["-c", str(config_with_model(tmp_path, stale)), "classify",
                 str(tmp_path / "none.jsonl")]) != 0
    assert "run `peacewatch train`" in capsys.readouterr().err


def test_train_needs_both_splits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "c.jsonl"
    data.write_text('{"id": "a", "title": "Kyiv weighs truce", "split": "train", '
                    '"labels": ["ceasefire"]}\n', encoding="utf-8")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m.json")]) != 0
    assert "train and the dev split" in capsys.readouterr().err
