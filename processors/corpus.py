"""Where labelled items come from, for ``peacewatch train`` and ``peacewatch eval``.

Either a JSON Lines file of labelled items (``--data``), or a corpus folder (``--corpus``,
default ``eval/corpus``) whose ``build.py`` rebuilds the items' texts from the shared data
folder (``--shared``): the repository keeps ids, splits and labels, never the news texts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from peacewatch.errors import PeacewatchError
from processors.train import LabelledItem, read_labelled, read_labelled_file

DEFAULT_CORPUS = Path("eval/corpus")
DEFAULT_SHARED = Path("../shared")


def add_corpus_arguments(p: Any) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path,
                        help="labelled items, JSON Lines: id, title, summary, split, labels")
    source.add_argument("--corpus", type=Path,
                        help=f"corpus folder with a build.py (default: {DEFAULT_CORPUS})")
    p.add_argument("--shared", type=Path,
                   help=f"shared data folder the corpus texts are read from "
                   f"(default: {DEFAULT_SHARED})")


def load_corpus(args: argparse.Namespace) -> list[LabelledItem]:
    if args.data is not None:
        return read_labelled_file(args.data)
    corpus: Path = args.corpus or DEFAULT_CORPUS
    shared: Path = args.shared or DEFAULT_SHARED
    builder = corpus / "build.py"
    if not builder.is_file():
        raise PeacewatchError(f"no corpus at {corpus} (it needs a build.py); give --data FILE "
                              "or --corpus DIR")
    if not shared.is_dir():
        raise PeacewatchError(f"shared data folder {shared} not found: give --shared DIR")
    done = subprocess.run([sys.executable, str(builder), "texts", "--shared", str(shared)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PeacewatchError(f"{builder} failed: {done.stderr.strip()[-500:]}")
    return read_labelled(done.stdout.splitlines(), str(builder))
