"""Documents as items: a folder of .txt, .md and .html files becomes raw items.

``read_document`` is pure (bytes in, item out); ``DocumentSource.scan`` walks a folder and returns
one value-or-error per file, so one unreadable file never stops the others. The item id comes
from the folder's name and the file's path inside it, so it survives moving the folder; the
content hash is over the normalised text, so an edit is seen and a re-save that changes nothing
is not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from collectors.identity import document_item_id
from peacewatch.identity import canonical_url, content_hash
from peacewatch.models import RawItem
from peacewatch.text import clip, collapse, first_line, parse_html, tidy

log = logging.getLogger("peacewatch.collectors.documents")

SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
            ".html": "html", ".htm": "html", ".xhtml": "html"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_MD_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
SUMMARY_MAX = 600


@dataclass(frozen=True, slots=True)
class DocumentError:
    """A file that could not become an item, and why."""

    path: Path
    error: str


def decode_document(data: bytes, kind: str) -> str:
    """Text of a file: UTF-8 (with or without BOM), else the HTML's declared charset, else
    Windows-1252 - the usual encoding of a text file that is not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if kind == "html" and (match := _META_CHARSET.search(data[:4096])):
        try:
            return data.decode(match.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    return data.decode("cp1252", errors="replace")


def _markdown_text(text: str) -> tuple[str, str]:
    """(plain text, heading) of Markdown: headings, links and emphasis markers removed."""
    heading = ""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw
        if match := _MD_HEADING.match(raw):
            line = match.group(1)
            heading = heading or line
        elif _MD_SETEXT.match(raw) and lines and lines[-1].strip():
            heading = heading or lines[-1].strip()
            continue
        lines.append(_MD_EMPHASIS.sub(r"\2", _MD_LINK.sub(r"\1", line)))
    return tidy("\n".join(lines)), heading


def document_text(data: bytes, kind: str) -> tuple[str, str]:
    """(text, title candidate) of a document's bytes."""
    raw = decode_document(data, kind)
    if kind == "html":
        text, title, heading = parse_html(raw)
        return text, title or heading
    if kind == "markdown":
        return _markdown_text(raw)
    return tidy(raw), ""


def read_document(
    data: bytes,
    *,
    relative_path: str,
    folder_name: str,
    baseline: bool,
    fetched_at: datetime,
    url: str | None = None,
) -> RawItem:
    """The raw item of one document. Raises ValueError for a document with no text."""
    kind = SUFFIXES.get(Path(relative_path).suffix.lower(), "text")
    text, title = document_text(data, kind)
    if not text:
        raise ValueError("the document has no text")
    title = clip(title or first_line(text) or Path(relative_path).stem)
    # The summary is the first paragraph (a line, in plain text files) that is not the title.
    lines = [line for line in text.splitlines() if line.strip() and collapse(line) != title]
    summary = clip(lines[0], SUMMARY_MAX) if lines else ""
    return RawItem(
        item_id=document_item_id(folder_name, relative_path),
        source=f"{'seed' if baseline else 'document'}:{folder_name}",
        source_kind="seed" if baseline else "document",
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        summary=summary,
        content=text,
        fetched_at=fetched_at,
        content_hash=content_hash(title, summary, text),
        baseline=baseline,
    )


class DocumentSource:
    """One folder of documents. Files are read in path order; subfolders are included."""

    def __init__(self, folder: Path, *, baseline: bool, max_bytes: int) -> None:
        self.folder = folder
        self.baseline = baseline
        self.max_bytes = max_bytes

    @property
    def name(self) -> str:
        return self.folder.resolve().name

    def files(self) -> Iterator[Path]:
        root = self.folder.resolve()
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            # A symlink out of the folder is not part of it.
            if (path.suffix.lower() in SUFFIXES and path.is_file()
                    and path.resolve().is_relative_to(root)):
                yield path

    def scan(self, fetched_at: datetime) -> list[RawItem | DocumentError]:
        """Every document in the folder as an item or an error. A missing folder is an error."""
        if not self.folder.is_dir():
            return [DocumentError(self.folder, "document folder does not exist")]
        root = self.folder.resolve()
        out: list[RawItem | DocumentError] = []
        for path in self.files():
            out.append(self._read(path, root, fetched_at))
        return out

    def _read(self, path: Path, root: Path, fetched_at: datetime) -> RawItem | DocumentError:
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                return DocumentError(path, f"{size} bytes is over the {self.max_bytes} limit")
            data = path.read_bytes()
            return read_document(
                data, relative_path=path.relative_to(root).as_posix(),
                folder_name=self.name, baseline=self.baseline, fetched_at=fetched_at,
                url=path.as_uri(),
            )
        except (OSError, ValueError, UnicodeError) as exc:
            return DocumentError(path, str(exc))
