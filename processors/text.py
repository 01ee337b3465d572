"""Text normalisation: HTML to text, whitespace, sentences, language, canonical title and URL.

Everything here is a pure function of its input; the classifier, the deduplicator and the story
clusterer all see text through these functions, so that they agree on what a word is.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Zero-width and soft-hyphen characters that feeds leave inside words.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_ASCII_FORMS = {"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"',
                "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2010": "-",
                "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
                "\u00a0": " "}
# Typographic quotes and dashes made ASCII, and invisible characters dropped, in one pass.
_FOLD: dict[int, str | None] = {**{ord(k): v for k, v in _ASCII_FORMS.items()}, **_INVISIBLE}
# Tags whose text is never shown to a reader.
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head"})
_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
    "table", "section", "article", "blockquote", "pre", "hr", "figcaption", "header", "footer",
})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip += 1
        # A block boundary ends a sentence for the splitter; an inline one only separates words.
        self.parts.append("\n" if tag in _BLOCK_TAGS else " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skip:
            self._skip -= 1
        self.parts.append("\n" if tag in _BLOCK_TAGS else " ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def collapse(text: str) -> str:
    """One space between words, no leading or trailing space."""
    # str.split() splits on exactly the characters re's \s matches (str.isspace).
    return " ".join((text if text.isascii() else text.translate(_INVISIBLE)).split())


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment; block elements become line breaks (sentence ends).

    Plain text passes through with its line breaks kept; entities are decoded either way.
    """
    if "<" not in markup:
        return _tidy_lines(html.unescape(markup))
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return _tidy_lines("".join(parser.parts))


def _tidy_lines(text: str) -> str:
    lines = (collapse(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def fold(text: str) -> str:
    """The form patterns are matched against: NFKC, typographic quotes and dashes made ASCII."""
    if text.isascii():  # nothing to fold: the common case, and the cheapest test
        return text
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


# --- sentences ----------------------------------------------------------------------------------

# A sentence ends at . ! ? (optionally followed by a closing quote) before whitespace and an
# opening capital, digit or quote; or at a line break, a bullet or a "|" separator.
_SENTENCE_END = re.compile(r"""(?<=[.!?])["')\]]?\s+(?=["'(\[]?[A-Z0-9\u0400-\u04ff])""")
_HARD_BREAK = re.compile(r"\s*(?:\n+|\u2022|\s\|\s)\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Z]\.){1,3}|\b(?:Mr|Mrs|Ms|Dr|St|Sen|Gen|Rep|Lt|Col|Capt|Gov|Prof|No|Jan|Feb|"
    r"Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|vs|etc|approx)\.)[\"')\]]?$"
)


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, in order, without empty ones. Initialisms ("U.S.") do not split."""
    out: list[str] = []
    for block in _HARD_BREAK.split(text):
        start = 0
        for match in _SENTENCE_END.finditer(block):
            head = block[start:match.start()]
            if _ABBREVIATION.search(head):
                continue
            if head.strip():
                out.append(head.strip())
            start = match.end()
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return out


# --- language -----------------------------------------------------------------------------------

# Runs, not single letters: counting the letters of a few runs is cheaper than of a long list.
_CYRILLIC = re.compile(r"[\u0400-\u04ff]+")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_UK_LETTERS = re.compile(r"[іїєґІЇЄҐ]")
_RU_LETTERS = re.compile(r"[ыэъёЫЭЪЁ]")
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
def wordlist(text: str) -> frozenset[str]:
    """A set of words written as one string (easier to read and edit than a list)."""
    return frozenset(text.split())


_EN_STOPWORDS = wordlist(
    "the of and to in a is that for on with as was by at it from are be has have an this "
    "not but or will its his her they their said says after over who which were been"
)
# Other Latin-script languages' stop words: text richer in these is not taken for English.
_OTHER_LATIN_STOPWORDS = wordlist(
    "le les des du et est une dans sur pas qui au aux avec der das und ist nicht von zu "
    "eine auf für el los las es una por para del se que il di che per della"
)
_UK_STOPWORDS = wordlist("і та що не на як це до від за але для він вона вони був також")
_RU_STOPWORDS = wordlist("и что не на как это до от за но для он она они был также")


def _count_in(words: list[str], vocabulary: frozenset[str]) -> int:
    return sum(map(vocabulary.__contains__, words))


def detect_language(text: str) -> str | None:
    """``en``, ``uk`` or ``ru`` from the script, letters and stop words; None when unsure.

    Ukrainian and Russian share most of the Cyrillic alphabet: letters only one of them uses
    (і ї є ґ against ы э ъ ё) decide, with their stop words as a tie-break.
    """
    sample = text[:4000]
    cyrillic = sum(map(len, _CYRILLIC.findall(sample)))
    latin = sum(map(len, _LATIN.findall(sample)))
    if cyrillic + latin < 3:
        return None
    words = list(map(str.lower, _WORD.findall(sample)))
    if cyrillic > latin:
        uk = len(_UK_LETTERS.findall(sample)) * 2 + _count_in(words, _UK_STOPWORDS)
        ru = len(_RU_LETTERS.findall(sample)) * 2 + _count_in(words, _RU_STOPWORDS)
        if uk == ru:
            return None
        return "uk" if uk > ru else "ru"
    if not words:
        return None
    hits = _count_in(words, _EN_STOPWORDS)
    if _count_in(words, _OTHER_LATIN_STOPWORDS) >= max(hits, 1):
        return None
    # Headlines are short and drop function words: one stop word in a short text is enough.
    if hits >= 2 or (len(words) <= 14 and hits >= 1) or hits / len(words) >= 0.08:
        return "en"
    return None


# --- canonical forms ---------------------------------------------------------------------------

_TITLE_PREFIX = re.compile(
    r"^(?:(?:live|watch|video|analysis|opinion|exclusive|breaking|explainer|update[d]?|"
    r"live updates|in pictures|podcast|comment|editorial)\s*[:|-]\s*)+",
    re.IGNORECASE,
)
_TITLE_SUFFIX = re.compile(
    r"\s+[-|:]\s+(?:bbc(?: news)?|cnn(?:\.com)?|the guardian|guardian|reuters|ap news|"
    r"associated press|al jazeera|kyiv independent|ukrainska pravda|tass|ria novosti|"
    r"meduza|the moscow times|politico|axios|the white house)\s*$",
    re.IGNORECASE,
)
_TITLE_TAIL = re.compile(r"\s+[-|]\s+(?:video|podcast|live|as it happened)\s*$", re.IGNORECASE)


def canonical_title(title: str) -> str:
    """The title a reader would recognise across outlets: no outlet name, no "Live:" label,
    typographic quotes made plain, whitespace collapsed. Case is kept for display."""
    text = collapse(fold(html_to_text(title)))
    for _ in range(2):
        text = _TITLE_SUFFIX.sub("", text)
        text = _TITLE_TAIL.sub("", text)
        text = _TITLE_PREFIX.sub("", text)
    return text.strip(" -|:") or collapse(title)


# Query parameters that only say where a click came from.
_TRACKING_PARAMS = re.compile(
    r"^(?:utm_\w+|at_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|cmp|ref|ref_src|src|"
    r"ocid|smid|sr_share|share|igshid|__twitter_impression|rss|cid|yclid)$",
    re.IGNORECASE,
)


def canonical_url(url: str | None) -> str | None:
    """Scheme and host lower-cased, ``www.`` and default ports dropped, tracking parameters
    and fragment removed, the remaining query sorted, a trailing slash removed."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.netloc:
        return url.strip()
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not _TRACKING_PARAMS.match(k))
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https" if parts.scheme in ("http", "https") else parts.scheme,
                       netloc, path, urlencode(query), ""))


def content_hash(title: str, body: str) -> str:
    """Hash of the words of title and body, case and punctuation ignored: equal for copies
    that differ only in markup, whitespace or typography."""
    words = _WORD.findall(fold(f"{title}\n{body}").casefold())
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()[:32]


def words(text: str) -> list[str]:
    """Case-folded word tokens (letters and digits; inner apostrophes and hyphens kept)."""
    return _WORD.findall(fold(text).casefold())


STOPWORDS = wordlist("""
a about above after again against all also am an and any are around as at be because been before
being below between both but by can could did do does doing down during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more most
my no nor not now of off on once only or other our ours out over own same she should so some such
than that the their theirs them then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yours says
said say new news live latest update updates video watch analysis cnn bbc guardian reports report
amid after yet still may might must one two three first last week day days year years time told
""")


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no one-letter tokens, plural -s dropped."""
    out = []
    for word in words(text):
        if word in STOPWORDS or len(word) < 2:
            continue
        stem = word.removesuffix("'s")
        if len(stem) > 4 and stem.endswith("s") and not stem.endswith("ss"):
            stem = stem[:-1]
        out.append(stem)
    return out
