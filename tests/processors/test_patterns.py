from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from peacewatch.errors import ConfigError
from processors.patterns import (
    TermIndex,
    _heads,
    alternation,
    compile_terms,
    expand,
    start_scanners,
)


def matches(terms: list[str], text: str,
            groups: Mapping[str, tuple[str, ...]] | None = None) -> bool:
    return compile_terms(terms, groups or {}).search(text, text.lower())


@pytest.mark.parametrize(("text", "hit"), [
    ("a ceasefire now", True),
    ("two ceasefires", True),
    ("the ceasefire's terms", True),
    ("Ceasefire!", True),
    ("ceasefireless", False),  # word boundary at the end
    ("preceasefire", False),  # and at the start
])
def test_plain_term_inflections_and_boundaries(text: str, hit: bool) -> None:
    assert matches(["ceasefire"], text) is hit


@pytest.mark.parametrize("text", ["cease-fire", "cease fire", "ceasefire"])
def test_hyphen_may_be_present_absent_or_a_space(text: str) -> None:
    assert matches(["cease-fire"], text)


def test_stem_and_multiword_phrase() -> None:
    assert matches(["negotiat*"], "the negotiators met")
    assert matches(["peace talk*"], "new peace  talking points")
    assert not matches(["peace talk*"], "peace and talks")


def test_case_sensitive_term() -> None:
    assert matches(["=SWIFT"], "banks cut from SWIFT")
    assert not matches(["=SWIFT"], "a swift response")


def test_raw_regex_term_matches_lower_cased_text() -> None:
    terms = ["re:\\btalks\\b(?!\\s+to\\b)"]
    assert matches(terms, "Talks in Riyadh")
    assert not matches(terms, "Zelensky talks to reporters")


def test_longest_term_wins_at_a_position() -> None:
    pattern = compile_terms(["black sea", "black sea fleet"], {}).lower
    assert pattern is not None
    m = pattern.search("the black sea fleet moved")
    assert m is not None and m.group() == "black sea fleet"


def test_groups_expand_and_unknown_group_is_refused() -> None:
    groups = {"ukraine": ("kyiv", "kiev")}
    assert expand(["@ukraine", "lviv"], groups) == ["kyiv", "kiev", "lviv"]
    assert matches(["@ukraine"], "Kiev said", groups)
    with pytest.raises(ConfigError, match="no group named 'russia'"):
        expand(["@russia"], groups)


def test_cyrillic_terms() -> None:
    assert matches(["перемир*"], "Україна погодилася на перемир'я")
    assert matches(["крим*"], "Окупований Крим")


@pytest.mark.parametrize(("terms", "message"), [
    (["re:(unclosed"], "not a valid regular expression"),
    (["*"], "must start with a letter"),
    (["-x"], "must start with a letter"),
    ([], "empty"),
])
def test_bad_terms_are_refused_with_a_reason(terms: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_terms(terms, {})


@pytest.mark.parametrize(("source", "heads"), [
    (r"\btalks\b(?!\s+to)", {"tal"}),
    (r"\b(?:war|conflict|fighting)\s+end", {"war", "con", "fig"}),
    (r"\b(?:od|po)\s+krymu", {"od", "po"}),  # shorter than three: the class after is unknown
    (r"\bseize?d?\b", {"sei"}),
    (r"(?<!diego )\bcosta\b", {"cos"}),  # a lookbehind takes no character
    (r"\b\d+[\s-]*point", None),  # a class first: not known
    (r"(?i)abc", None),  # either case: not known
    (r"\bx?ab", {"xab", "ab"}),  # an optional first letter: both
])
def test_raw_term_heads(source: str, heads: set[str] | None) -> None:
    assert _heads(source) == (frozenset(heads) if heads is not None else None)


def _shipped_terms() -> tuple[list[str], list[tuple[str, list[str]]]]:
    seeds = Path(__file__).resolve().parents[2] / "seeds"
    watchlist = tomllib.loads((seeds / "watchlist.toml").read_text(encoding="utf-8"))
    groups = {g["name"]: g["terms"] for g in watchlist.get("groups", [])} if isinstance(
        watchlist.get("groups"), list) else watchlist.get("groups", {})
    every = [t for issue in watchlist["issues"] for s in issue["signals"]
             for t in expand(s["terms"], groups)]
    entities = tomllib.loads((seeds / "entities.toml").read_text(encoding="utf-8"))
    return every, [(e["id"], e["terms"]) for e in entities["entities"]]


_TEXTS = [
    "Talks to end the war could end soon, the 28-point peace plan says; talks stalled.",
    "Since Russia annexed Crimea in 2014, the EU has banned imports of Russian oil and coal.",
    "Od czasu aneksji Krymu Polska wstrzymała zakupy rosyjskiego gazu; rozmowy pokojowe trwają.",
    "Seit der Annexion der Krim verhandeln die USA und die EU über Sanktionen und eine Waffenruhe.",
    "Після анексії Криму Україна вимагає гарантій безпеки; переговори у Стамбулі.",
    "После присоединения Крыма Москва говорит о перемирии и обмене пленными.",
    "Diego Costa scored; Costa said Zaporizhzhia nuclear plant and Putin's fall were talked of.",
    "The US, the UK and NATO's Rutte met Zelensky in Washington; Witkoff flew to Moscow.",
]


def test_gated_scanner_finds_every_start_the_plain_lookahead_finds() -> None:
    every, entities = _shipped_terms()
    for terms in (every, [t for _, ts in entities for t in ts]):
        texts = [*_TEXTS, *(f"x {t.removeprefix('=')} y" for t in terms if t[0] not in "=r@")]
        gated, _ = start_scanners(terms)
        lower, _ = alternation(terms)
        plain = re.compile(f"(?=(?:{lower}))")
        assert gated is not None
        for text in texts:
            lowered = text.lower()
            assert ([m.start() for m in gated.finditer(lowered)]
                    == [m.start() for m in plain.finditer(lowered)]), text


def test_term_index_answers_as_each_list_searched_alone() -> None:
    _, entities = _shipped_terms()
    index = TermIndex(entities)
    alone = [(name, compile_terms(terms, {})) for name, terms in entities]
    texts = [*_TEXTS, *(t.removeprefix("=") for _, ts in entities for t in ts
                        if not t.startswith("re:"))]
    for text in texts:
        want = [name for name, terms in alone if terms.search(text, text.lower())]
        assert index.found(text, text.lower()) == want, text
    assert len(index) == len(entities)


def test_a_list_is_compiled_once_per_process_and_groups_count() -> None:
    first = compile_terms(["truce", "@who"], {"who": ["kremlin", "kyiv"]})
    assert compile_terms(("truce", "@who"), {"who": ("kremlin", "kyiv")}) is first
    other = compile_terms(["truce", "@who"], {"who": ["washington"]})
    assert other is not first
    assert other.search("washington talks", "washington talks")
    assert not other.search("kyiv talks", "kyiv talks")
    for _ in range(2):  # a refused list is refused every time, not remembered as good
        with pytest.raises(ConfigError):
            compile_terms(["re:(unclosed"], {})
