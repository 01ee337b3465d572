"""What the processors add to ``peacewatch.text``: sentences, language, canonical titles and
content words. Pure functions of their input.
"""

from __future__ import annotations

import re

from peacewatch.text import collapse, fold, html_to_text, words

__all__ = ["STOPWORDS", "background_title", "canonical_title", "collapse", "content_words",
           "detect_language", "fold", "html_to_text", "split_sentences", "wordlist", "words"]


def wordlist(text: str) -> frozenset[str]:
    """A set of words written as one string (easier to read and edit than a list)."""
    return frozenset(text.split())


# --- sentences ----------------------------------------------------------------------------------

# A sentence ends at . ! ? (optionally followed by a closing quote) before whitespace and an
# opening capital (Latin, accented Latin or Cyrillic), digit or quote; or at a line break, a
# bullet or a "|" separator.
_SENTENCE_END = re.compile(
    r"""(?<=[.!?])["')\]]?\s+(?=["'(\[]?[A-Z0-9\u00c0-\u00de\u0100-\u017f\u0400-\u042f])""")
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
_PL_LETTERS = re.compile(r"[ąćęłńśźżĄĆĘŁŃŚŹŻ]")
_DE_LETTERS = re.compile(r"[äöüßÄÖÜ]")
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")

_STOPWORDS_BY_LANGUAGE = {
    "en": wordlist("the of and to in a is that for on with as was by at it from are be has have "
                   "an this not but or will its his her they their said says after over who "
                   "which were been"),
    "pl": wordlist("i w z na się nie do że to jest o od po przez dla jak ale czy jego już tak "
                   "oraz ze we są był była może przed także który która które sobie"),
    "de": wordlist("der die das und ist nicht von zu den mit sich des auf für im dem ein eine "
                   "einen als auch es an wird bei nach aus wie hat sind vor zur zum über"),
}
# Other Latin-script languages' stop words: text richer in these is none of ours.
_OTHER_LATIN_STOPWORDS = wordlist(
    "le les des du et est une dans sur pas qui au aux avec el los las es una por para del se "
    "que il di che per della"
)
_UK_STOPWORDS = wordlist("і та що не на як це до від за але для він вона вони був також")
_RU_STOPWORDS = wordlist("и что не на как это до от за но для он она они был также")
LANGUAGES = ("en", "pl", "de", "uk", "ru")


def _count_in(words: list[str], vocabulary: frozenset[str]) -> int:
    return sum(map(vocabulary.__contains__, words))


def detect_language(text: str) -> str | None:
    """``en``, ``pl``, ``de``, ``uk`` or ``ru`` from script, letters and stop words; None when
    unsure.

    Ukrainian and Russian share most of the Cyrillic alphabet: letters only one of them uses
    (і ї є ґ against ы э ъ ё) decide, with their stop words as a tie-break. Among Latin-script
    languages, stop words decide, and letters only Polish or German use count as two.
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
    hits = {language: _count_in(words, stop) for language, stop in _STOPWORDS_BY_LANGUAGE.items()}
    if not sample.isascii():
        hits["pl"] += 2 * min(len(_PL_LETTERS.findall(sample)), len(words))
        hits["de"] += 2 * min(len(_DE_LETTERS.findall(sample)), len(words))
    language, best = max(hits.items(), key=lambda kv: kv[1])
    if _count_in(words, _OTHER_LATIN_STOPWORDS) >= max(best, 1):
        return None
    # Headlines are short and drop function words: one stop word in a short text is enough.
    if best >= 2 or (len(words) <= 14 and best >= 1) or best / len(words) >= 0.08:
        return language
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


# Titles that announce an item tells nothing new, in the languages peacewatch reads.
_BACKGROUND_TITLE = re.compile(
    r"^(?:analysis|opinion|comment|explainer|editorial|podcast|quiz|in pictures|the week|"
    r"what we know|what to know|live|analiza|opinia|komentarz|kommentar|meinung|analyse|"
    r"аналіз|аналитика|мнение|думка|колонка)\b|"
    r"\b(?:explained|what we know|what to know|key takeaways|at a glance|morning briefing|"
    r"evening briefing|week in review|as it happened|in pictures|podcast)\b",
    re.IGNORECASE,
)


def background_title(title: str) -> bool:
    """Whether a title marks its item as analysis, opinion, explainer, recap or the like."""
    return _BACKGROUND_TITLE.search(title.strip()) is not None


def canonical_title(title: str) -> str:
    """The title a reader would recognise across outlets: no outlet name, no "Live:" label,
    typographic quotes made plain, whitespace collapsed. Case is kept for display."""
    text = collapse(fold(html_to_text(title)))
    for _ in range(2):
        text = _TITLE_SUFFIX.sub("", text)
        text = _TITLE_TAIL.sub("", text)
        text = _TITLE_PREFIX.sub("", text)
    return text.strip(" -|:") or collapse(title)


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
