"""The Dockerfile and its build context. No Docker engine here, so no build: the checks are that
the context (.dockerignore applied) holds everything `pip install .` needs and every COPY source,
and keeps out the virtualenv, caches and tests; that the image runs as a non-root user with
`peacewatch` as its entrypoint."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip().removesuffix("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, args = current.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
            current = ""
    return out


def dockerignore_patterns() -> list[tuple[bool, str]]:
    """(is_exception, pattern) in file order."""
    patterns = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            patterns.append((negated, line.removeprefix("!").strip("/")))
    return patterns


def in_context(path: str) -> bool:
    """Docker's rule for the subset of .dockerignore syntax used here: the last pattern matching
    the path or one of its parent folders decides; `**/` matches any number of folders."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in dockerignore_patterns():
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") \
            else [pattern]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            excluded = not negated
    return not excluded


@pytest.mark.parametrize(("path", "expected"), [
    ("peacewatch/cli.py", True),
    ("peacewatch/__pycache__/cli.cpython-311.pyc", False),
    (".venv/bin/python", False),
    ("tests/conftest.py", False),
])
def test_in_context_follows_dockerignore(path: str, expected: bool) -> None:
    assert in_context(path) is expected


def copy_sources() -> list[str]:
    sources = []
    for keyword, args in instructions():
        if keyword in ("COPY", "ADD"):
            words = [w for w in args.split() if not w.startswith("--")]
            sources.extend(words[:-1])
    return sources


def installed_packages() -> list[str]:
    """The top-level packages pyproject.toml's packages.find includes that exist in the repo."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        p.name for p in REPO_ROOT.iterdir()
        if (p / "__init__.py").is_file() and any(fnmatch.fnmatchcase(p.name, i) for i in include)
    )


def test_base_image_user_and_entrypoint() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    run = " ".join(args for keyword, args in steps if keyword == "RUN")
    assert re.search(rf"useradd .*\b{re.escape(users[-1].split(':')[0])}\b", run)
    assert "pip install ." in run
    assert ("ENTRYPOINT", '["peacewatch"]') in steps
    exposed = [args for keyword, args in steps if keyword == "EXPOSE"]
    assert exposed == ["9464 8787"]  # metrics; the desk's page and API


def test_build_context_holds_what_the_build_needs() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = ["pyproject.toml", project["project"]["readme"], *installed_packages()]
    copied = {s.rstrip("/") for s in copy_sources()}
    for path in needed:
        assert (REPO_ROOT / path).exists(), path
        assert in_context(path), f"{path} is excluded by .dockerignore"
        assert path in copied, f"the Dockerfile does not COPY {path}"
    for source in copied:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file"
        assert in_context(source), f"COPY {source}: excluded by .dockerignore"
        if (REPO_ROOT / source).is_dir():
            files = [f for f in (REPO_ROOT / source).rglob("*") if f.is_file()
                     and "__pycache__" not in f.parts]
            assert files and all(in_context(str(f.relative_to(REPO_ROOT))) for f in files)


def test_build_context_leaves_out_local_state() -> None:
    for path in (".venv", ".git", ".cache", ".peacewatch", "tests", "bench",
                 "peacewatch.egg-info", "peacewatch/__pycache__/x.pyc", "docker-compose.yml"):
        assert not in_context(path), path
