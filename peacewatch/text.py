"""Text as every stage reads it: HTML to text, whitespace, folding, words. Pure functions.

Each of these exists once. Collectors turn feed and document markup into text with
``html_to_text``; processors read it again only when a producer sent markup; the classifier,
the deduplicator and the story clusterer agree on what a word is because all use ``words``.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape
from html.parser import HTMLParser

# Elements whose end (or start) ends a paragraph.
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
# Elements whose content is never text a reader sees.
_HIDDEN = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe"})
_HEADINGS = frozenset({"h1", "h2", "h3"})
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n+")
_TAG_HINT = re.compile(r"<[a-zA-Z/!?]")
# Marks a block boundary inside extracted text (U+2029 PARAGRAPH SEPARATOR).
_BREAK = "\u2029"
# Zero-width and soft-hyphen characters that feeds leave inside words.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_ASCII_FORMS = {"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"',
                "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2010": "-",
                "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
                "\u00a0": " "}
# Typographic quotes and dashes made ASCII, and invisible characters dropped, in one pass.
_FOLD: dict[int, str | None] = {**{ord(k): v for k, v in _ASCII_FORMS.items()}, **_INVISIBLE}
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
TITLE_MAX = 300


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
        if tag in _BLOCK:  # inline tags join what they touch, as a browser shows them
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
    """One line: every run of whitespace one space, invisible characters gone, no ends."""
    # str.split() splits on exactly the characters re's \s matches (str.isspace).
    return " ".join((text if text.isascii() else text.translate(_INVISIBLE)).split())


def tidy(text: str) -> str:
    """Plain text with its paragraphs kept (a blank line between), lines collapsed, NFC."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACE.sub(" ", line.translate(_INVISIBLE)).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def looks_like_html(text: str) -> bool:
    return _TAG_HINT.search(text) is not None


def parse_html(markup: str) -> tuple[str, str, str]:
    """(text, <title>, first heading) of an HTML document or fragment.

    Blocks become paragraphs (a blank line between); line breaks in the source are spaces,
    as a browser shows them. Plain text passes through with its paragraphs and entities
    decoded (once).
    """
    if not looks_like_html(markup):
        return tidy(unescape(markup) if "&" in markup else markup), "", ""
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    paragraphs = (collapse(p) for p in "".join(extractor.parts).split(_BREAK))
    text = "\n\n".join(p for p in paragraphs if p)
    return unicodedata.normalize("NFC", text), extractor.title, extractor.heading


def html_to_text(markup: str) -> str:
    """The visible text of an HTML fragment or page (or of plain text), paragraphs kept."""
    return parse_html(markup)[0]


def fold(text: str) -> str:
    """The form patterns are matched against: NFKC, typographic quotes and dashes made ASCII."""
    if text.isascii():  # nothing to fold: the common case, and the cheapest test
        return text
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


def words(text: str) -> list[str]:
    """Case-folded word tokens (letters and digits; inner apostrophes and hyphens kept)."""
    return _WORD.findall(fold(text).casefold())


def clip(text: str, limit: int = TITLE_MAX) -> str:
    """At most ``limit`` characters on one line, cut at a word with an ellipsis."""
    text = collapse(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:") + "\u2026"


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
