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

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from re import _constants as _c  # type: ignore[attr-defined]  # re's own parse tree
from re import _parser  # type: ignore[attr-defined]
from typing import Any

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
# A raw term that begins at a word boundary: ``\b``, perhaps after lookbehinds (zero-width, so
# the boundary is still at the term's start): ``(?<!diego )\bcosta``.
_BOUNDED_RAW = re.compile(r"(?:\(\?<[=!][^()]*\))*\\b")


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
    of their own; case-sensitive terms form the second source, a trie of their own (None when
    there are none).
    """
    trie, raw, exact = _parts(terms)
    branches = ([trie] if trie else []) + raw
    return ("|".join(branches) or None), exact


def _parts(terms: Iterable[str]) -> tuple[str | None, list[str], str | None]:
    """The plain terms' trie, the raw terms, and the case-sensitive terms' trie (sources)."""
    trie, exact = _Node(), _Node()
    raw: list[str] = []
    for term in dict.fromkeys(terms):
        if term.startswith("re:"):
            raw.append(_raw(term))
        elif term.startswith("="):
            exact.add(_atoms_cs(term[1:]))
        else:
            trie.add(_atoms(term))
    if not trie.children and not raw and not exact.children:
        raise ConfigError("a pattern list is empty")
    return (rf"\b{trie.regex()[0]}" if trie.children else None, raw,
            f"{_WORD_START}{exact.regex()[0]}" if exact.children else None)


def start_scanners(terms: Iterable[str]) -> tuple[re.Pattern[str] | None,
                                                 re.Pattern[str] | None]:
    """Zero-width patterns that match wherever one of ``terms`` starts: (against lower-cased
    text, against text as written), like ``alternation``.

    Inside a lookahead, ``re`` tries every branch at every position. Plain and case-sensitive
    terms all begin at a word start, and so do raw terms written with a leading ``\\b``; when
    every term does, that one test stands outside the lookahead and rejects most positions
    before any branch is tried. Raw terms are the costly branches (each is tried in turn at
    every word); those whose first letters are known wait behind one trie of those letters,
    which turns most words away at their first or second letter.
    """
    terms = list(terms)
    trie, raw, exact = _parts(terms)
    heads_of = {source: _heads(source) for source in raw}
    gated = [source for source, found in heads_of.items() if found is not None]
    heads = _Node()
    for source in gated:
        for head in heads_of[source] or ():
            heads.add([re.escape(c) for c in head])
    branches = ([trie] if trie else []) + [r for r in raw if r not in gated]
    if gated:
        branches.append(f"(?={heads.regex()[0]})(?:{'|'.join(gated)})")
    bounded = all(_BOUNDED_RAW.match(t, 3) for t in terms if t.startswith("re:"))
    guard = r"\b" if bounded else ""
    return (re.compile(f"{guard}(?=(?:{'|'.join(branches)}))") if branches else None,
            re.compile(f"{_WORD_START}(?=(?:{exact}))") if exact else None)


_HEAD_CHARS = 3  # how many first characters the raw terms' gate looks at
_MAX_HEADS = 400


def _heads(source: str) -> frozenset[str] | None:
    """Strings one of which every match of the regex ``source`` begins with (at most
    ``_HEAD_CHARS`` long), or None when its first character is not known (``\\w``, ``.``)."""
    try:
        parsed = _parser.parse(source)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _extend("", list(parsed))
    return frozenset(found) if found is not None and len(found) <= _MAX_HEADS else None


def _extend(prefix: str, items: list[Any]) -> set[str] | None:
    if len(prefix) >= _HEAD_CHARS:
        return {prefix}
    if not items:
        return {prefix} if prefix else None
    (op, av), rest = items[0], items[1:]
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return _extend(prefix, rest)  # zero-width
    if op is _c.LITERAL:
        return _extend(prefix + chr(av), rest)
    if op is _c.SUBPATTERN:
        if av[1] & re.IGNORECASE:  # (?i:...): letters of either case
            return {prefix} if prefix else None
        return _extend(prefix, [*av[-1], *rest])
    if op is _c.BRANCH:
        return _union(_extend(prefix, [*alt, *rest]) for alt in av[1])
    if op is _c.IN and all(o is _c.LITERAL for o, _ in av) and len(av) <= 12:
        return _union(_extend(prefix + chr(c), rest) for _, c in av)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        low, high, body = av
        if high == 0:
            return _extend(prefix, rest)
        again = [(op, (max(low - 1, 0), high if high == _c.MAXREPEAT else high - 1, body))]
        once = _extend(prefix, [*body, *again, *rest])
        return once if low else _union([once, _extend(prefix, rest)])
    return {prefix} if prefix else None  # a class or a wildcard: the prefix so far is all


def _union(parts: Iterable[set[str] | None]) -> set[str] | None:
    out: set[str] = set()
    for part in parts:
        if part is None or len(out) > _MAX_HEADS:
            return None
        out |= part
    return out


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
    """Compile a list of terms (with groups) into a ``TermSet``.

    The same lists are compiled by the watchlist's check, the classifier and the stories'
    action reader, in each stage of a process: each distinct list is compiled once per
    process (a ``TermSet`` is never changed once made, so it is shared)."""
    return _compiled(tuple(terms), tuple((k, tuple(v)) for k, v in sorted(groups.items())))


@functools.lru_cache(maxsize=4096)
def _compiled(terms: tuple[str, ...], groups: tuple[tuple[str, tuple[str, ...]], ...]) -> TermSet:
    return TermSet(*alternation(expand(terms, dict(groups))))


class TermIndex:
    """Which of many named term lists a text contains, found in one scan.

    Searching each list on its own costs one pass over the text per list (the entity file has
    hundreds). Here one zero-width scan finds every position where some term starts; a list is
    then tried only at those positions, and only when one of its terms can start with the
    character found there. The answer is the one each list's own ``search`` would give.
    """

    __slots__ = ("_by_first", "_exact", "_names", "_scan_exact", "_scan_lower", "_sets",
                 "_wild")

    def __init__(self, named: Iterable[tuple[str, Iterable[str]]]) -> None:
        names: list[str] = []
        sets: list[TermSet] = []
        by_first: dict[str, list[int]] = {}
        wild: list[int] = []  # lists with a raw term: any start may be theirs
        exact: list[int] = []  # lists with a case-sensitive term
        every: list[str] = []
        for n, (name, given) in enumerate(named):
            terms = list(given)
            names.append(name)
            sets.append(compile_terms(terms, {}))
            every += terms
            for term in terms:
                first = term[:1].lower()
                if term.startswith("="):
                    exact.append(n)
                elif term.startswith("re:") or len(first) != 1:
                    wild.append(n)
                else:
                    by_first.setdefault(first, []).append(n)
        self._names = tuple(names)
        self._sets = tuple(sets)
        self._by_first = {c: tuple(dict.fromkeys(ids)) for c, ids in by_first.items()}
        self._wild = tuple(dict.fromkeys(wild))
        self._exact = tuple(dict.fromkeys(exact))
        self._scan_lower, self._scan_exact = (start_scanners(every) if every
                                              else (None, None))

    def __len__(self) -> int:
        return len(self._names)

    def found(self, text: str, lowered: str) -> list[str]:
        """The names of the lists with a term in the text (``lowered``: the text lower-cased,
        as ``TermSet.search`` takes it), in the order they were given."""
        hits: set[int] = set()
        if self._scan_lower is not None:
            for m in self._scan_lower.finditer(lowered):
                pos = m.start()
                for n in (*self._by_first.get(lowered[pos], ()), *self._wild):
                    pattern = self._sets[n].lower
                    if n not in hits and pattern is not None and pattern.match(lowered, pos):
                        hits.add(n)
        if self._scan_exact is not None:
            for m in self._scan_exact.finditer(text):
                for n in self._exact:
                    pattern = self._sets[n].exact
                    if n not in hits and pattern is not None and pattern.match(text, m.start()):
                        hits.add(n)
        return [self._names[n] for n in sorted(hits)]
