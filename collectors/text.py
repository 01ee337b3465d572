"""Text helpers shared by documents and feed entries: HTML to text, normalising, titles.

Pure functions, no I/O. Text handed to the processors is plain: paragraphs separated by blank
lines, whitespace inside a paragraph collapsed, entities decoded, scripts and styles dropped.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape
from html.parser import HTMLParser

# Elements whose end (or start) breaks a paragraph in the text.
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
# Elements whose content is never text a reader sees.
_HIDDEN = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe"})
_HEADINGS = frozenset({"h1", "h2", "h3"})
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANKS = re.compile(r"\n\s*\n+")
_TAG_HINT = re.compile(r"<[a-zA-Z/!?]")
TITLE_MAX = 300
# Marks a block boundary inside extracted text (U+2029 PARAGRAPH SEPARATOR).
_BREAK = "\u2029"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.title_parts: list[str] | None = None
        self.title = ""
        self.heading_parts: list[str] | None = None
        self.heading = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "title" and not self.title:
            self.title_parts = []
        elif tag in _HEADINGS and not self.heading:
            self.heading_parts = []
        if tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "title" and self.title_parts is not None:
            self.title = collapse("".join(self.title_parts))
            self.title_parts = None
        elif tag in _HEADINGS and self.heading_parts is not None:
            self.heading = collapse("".join(self.heading_parts))
            self.heading_parts = None
        if tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_data(self, data: str) -> None:
        if self.title_parts is not None:
            self.title_parts.append(data)
            return
        if self.hidden:
            return
        if self.heading_parts is not None:
            self.heading_parts.append(data)
        self.parts.append(data)


def collapse(text: str) -> str:
    """One line: every run of whitespace becomes one space."""
    return " ".join(text.split())


def tidy(text: str) -> str:
    """Paragraphs kept (blank line between), spaces inside lines collapsed, NFC."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def looks_like_html(text: str) -> bool:
    return _TAG_HINT.search(text) is not None


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment or page, paragraphs kept."""
    return parse_html(html)[0]


def parse_html(html: str) -> tuple[str, str, str]:
    """(text, <title>, first heading) of an HTML document or fragment."""
    if not looks_like_html(html):
        return tidy(unescape(html) if "&" in html else html), "", ""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    # Line breaks in HTML source are spaces, as a browser shows them; blocks make paragraphs.
    paragraphs = (collapse(p) for p in "".join(extractor.parts).split(_BREAK))
    text = "\n\n".join(p for p in paragraphs if p)
    return unicodedata.normalize("NFC", text), extractor.title, extractor.heading


def normalise_for_hash(text: str) -> str:
    """What a content hash is taken over: case, spacing and Unicode form do not count."""
    return collapse(unicodedata.normalize("NFKC", text)).casefold()


def clip(text: str, limit: int = TITLE_MAX) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    text = collapse(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
