from __future__ import annotations

from collections.abc import Mapping

import pytest

from peacewatch.errors import ConfigError
from processors.patterns import compile_terms, expand


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
