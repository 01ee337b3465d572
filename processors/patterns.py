"""The watchlist's small term language, compiled to regular expressions once.

A term is written the way a reader would search for it:

============================  ===================================================================
``ceasefire``                 the word, case-insensitive, between word boundaries; a plural or
                              possessive ending (``-s``, ``-es``, ``'s``) is accepted
``peace talk*``               a ``*`` ends a stem: ``talk``, ``talks``, ``talking`` ...
``cease-fire``                a hyphen may be present, absent or a space: ``ceasefire``,
                              ``cease fire``; a space matches any run of spaces or hyphens
``=SWIFT``                    a leading ``=`` makes the term case-sensitive (SWIFT, not "swift")
``re:talks(?!\\s+to\\b)``     a raw regular expression, matched against lower-cased text (so
                              written in lower case); no implicit boundaries
``@ukraine``                  every term of the named group, as if written here
============================  ===================================================================

Matching runs on text folded by ``processors.text.fold`` (typographic quotes and dashes made
ASCII), so terms are written with ASCII apostrophes and hyphens.

Why a trie: Python's ``re`` tries the branches of an alternation one by one at every position,
so a list of 200 terms costs 200 attempts per word. The plain terms of a list are compiled into
one regex shaped like a trie (common prefixes factored out, ``peace (?:talk|plan|deal)``), which
rejects a word after one or two characters; the word-start check runs once, not once per term.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from peacewatch.errors import ConfigError

_WORDCHAR = r"[^\W_]"
_WORD_START = rf"(?<!{_WORDCHAR})"
_WORD_END = rf"(?!{_WORDCHAR})"
# Accepted endings of a term without ``*``: plural, possessive, plural possessive.
_INFLECTION = r"(?:s|es)?(?:'s?)?"
_GAP = r"[\s-]+"
_HYPHEN = r"[\s-]?"
_STEM = rf"{_WORDCHAR}*"
_END = ""  # trie key of "a term ends here"


def _atoms(text: str) -> list[str]:
    """A plain term as a list of regex atoms, one per character or operator."""
    words = text.split()
    if not words:
        raise ConfigError("a term is empty")
    if not re.match(r"[^\W_]", words[0]):
        raise ConfigError(f"term {text!r} must start with a letter or a digit")
    atoms: list[str] = []
    for n, word in enumerate(words):
        if n:
            atoms.append(_GAP)
        stem = word.endswith("*")
        body = word.rstrip("*")
        if not body:
            raise ConfigError(f"term {text!r}: '*' must follow some letters")
        for char in body:
            atoms.append(_HYPHEN if char == "-" else re.escape(char.lower()))
        if stem:
            atoms.append(_STEM)
    if not words[-1].endswith("*"):
        atoms.append(_INFLECTION)
    atoms.append(_WORD_END)
    return atoms


def term_regex(term: str) -> str:
    """The regular expression (source) of one term on its own; see the module docstring.

    Plain terms are lower-cased (they match lower-cased text); ``=`` terms keep their case.
    """
    if term.startswith("re:"):
        return _raw(term)
    if term.startswith("="):
        return f"{_WORD_START}{''.join(_atoms_cs(term[1:]))}"
    return f"{_WORD_START}{''.join(_atoms(term))}"


def _atoms_cs(text: str) -> list[str]:
    """Atoms of a case-sensitive term: the letters keep their case."""
    atoms = _atoms(text)
    letters = iter(c for w in text.split() for c in w.rstrip("*") if c != "-")
    out = []
    for atom in atoms:
        if atom in (_GAP, _HYPHEN, _STEM, _INFLECTION, _WORD_END):
            out.append(atom)
        else:
            out.append(re.escape(next(letters)))
    return out


def _raw(term: str) -> str:
    source = term[3:]
    try:
        re.compile(source)
    except re.error as exc:
        raise ConfigError(f"term {term!r}: not a valid regular expression: {exc}") from exc
    return f"(?:{source})"


def expand(terms: Iterable[str], groups: Mapping[str, Iterable[str]]) -> list[str]:
    """Terms with ``@group`` references replaced by the group's terms (one level deep)."""
    out: list[str] = []
    for term in terms:
        if term.startswith("@"):
            name = term[1:]
            if name not in groups:
                raise ConfigError(f"term {term!r}: no group named {name!r}")
            out.extend(t for t in groups[name] if not t.startswith("@"))
        else:
            out.append(term)
    return out


class _Node:
    __slots__ = ("children",)

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}

    def add(self, atoms: list[str]) -> None:
        node = self
        for atom in atoms:
            node = node.children.setdefault(atom, _Node())
        node.children.setdefault(_END, _Node())

    def regex(self) -> tuple[str, int]:
        """The regex of this subtree, and its depth (the longest term below, in atoms)."""
        built = {k: c.regex() for k, c in self.children.items() if k != _END}
        # Deeper branches first and the end of a term last, so that the longest term at a
        # position wins ("black sea fleet" before "black sea").
        keys = sorted(built, key=lambda k: (-built[k][1], k))
        parts = [k + built[k][0] for k in keys]
        if _END in self.children:
            parts.append("")
        depth = 1 + max((d for _, d in built.values()), default=0)
        if len(parts) == 1:
            return parts[0], depth
        return "(?:" + "|".join(parts) + ")", depth


def alternation(terms: Iterable[str]) -> tuple[str | None, str | None]:
    """Regex sources for a list of terms: (against lower-cased text, against text as written).

    Plain terms become one trie behind a single word-start check; raw terms are alternatives
    of their own; case-sensitive terms form the second source (None when there are none).
    """
    trie = _Node()
    raw: list[str] = []
    exact: list[str] = []
    for term in dict.fromkeys(terms):
        if term.startswith("re:"):
            raw.append(_raw(term))
        elif term.startswith("="):
            exact.append(term_regex(term))
        else:
            trie.add(_atoms(term))
    branches = ([rf"\b{trie.regex()[0]}"] if trie.children else []) + raw
    if not branches and not exact:
        raise ConfigError("a pattern list is empty")
    return ("|".join(branches) or None), ("|".join(exact) or None)


def start_scanners(terms: Iterable[str]) -> tuple[re.Pattern[str] | None,
                                                 re.Pattern[str] | None]:
    """Zero-width patterns that match wherever one of ``terms`` starts: (against lower-cased
    text, against text as written), like ``alternation``.

    Inside a lookahead, ``re`` tries every branch at every position. Plain and case-sensitive
    terms all begin at a word start, and so do raw terms written with a leading ``\\b``; when
    every term does, that one test stands outside the lookahead and rejects most positions
    before any branch is tried (several times faster on news text).
    """
    terms = list(terms)
    lower, exact = alternation(terms)
    bounded = all(t[3:].startswith("\\b") for t in terms if t.startswith("re:"))
    guard = r"\b" if bounded else ""
    return (re.compile(f"{guard}(?=(?:{lower}))") if lower else None,
            re.compile(f"{_WORD_START}(?=(?:{exact}))") if exact else None)


class TermSet:
    """Compiled terms. Plain and raw terms match lower-cased text (``lowered``); the few
    case-sensitive ones match the text as written. Both texts must be sentence-aligned."""

    __slots__ = ("exact", "lower")

    def __init__(self, lower: str | None, exact: str | None) -> None:
        try:
            self.lower = re.compile(lower) if lower else None
            self.exact = re.compile(exact) if exact else None
        except re.error as exc:
            raise ConfigError(f"terms do not compile: {exc}") from exc

    def search(self, text: str, lowered: str) -> bool:
        return bool((self.lower is not None and self.lower.search(lowered))
                    or (self.exact is not None and self.exact.search(text)))

    def finditer(self, text: str, lowered: str) -> Iterator[tuple[re.Match[str], bool]]:
        """Matches, each with True when it was found in ``text`` (a case-sensitive term)."""
        if self.lower is not None:
            for m in self.lower.finditer(lowered):
                yield m, False
        if self.exact is not None:
            for m in self.exact.finditer(text):
                yield m, True

    def match_end(self, text: str, pos: int, exact: bool) -> int:
        """Where a match starting at ``pos`` ends (-1 if none); ``text`` is the text scanned."""
        pattern = self.exact if exact else self.lower
        if pattern is None:
            return -1
        m = pattern.match(text, pos)
        return m.end() if m is not None else -1


def compile_terms(terms: Iterable[str], groups: Mapping[str, Iterable[str]]) -> TermSet:
    """Compile a list of terms (with groups) into a ``TermSet``."""
    return TermSet(*alternation(expand(terms, groups)))
