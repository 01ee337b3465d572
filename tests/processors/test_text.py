from __future__ import annotations

import pytest

from processors.text import (
    canonical_title,
    canonical_url,
    collapse,
    content_hash,
    content_words,
    detect_language,
    fold,
    html_to_text,
    split_sentences,
)


def test_html_to_text_keeps_visible_text_and_block_breaks() -> None:
    markup = ("<div><p>Talks resume in <b>Riyadh</b>&nbsp;today.</p><script>var x=1;</script>"
              "<ul><li>Envoys meet</li><li>Truce&#8217;s terms</li></ul></div>")
    assert html_to_text(markup) == "Talks resume in Riyadh today.\nEnvoys meet\nTruce\u2019s terms"


def test_plain_text_passes_through_with_entities_decoded() -> None:
    assert html_to_text("Kyiv &amp; Moscow   agree\n\n  a truce") == "Kyiv & Moscow agree\na truce"


def test_collapse_and_fold() -> None:
    assert collapse("  a\u00a0 b\u200b\n c ") == "a b c"
    assert fold("\u201cKyiv\u2019s\u201d \u2013 deal") == "\"Kyiv's\" - deal"


def test_split_sentences_respects_initialisms_and_bullets() -> None:
    text = ("The U.S. envoy met Putin. Talks ended late! Did they agree? Mr. Witkoff said yes "
            "\u2022 Related: Grain deal")
    assert split_sentences(text) == [
        "The U.S. envoy met Putin.", "Talks ended late!", "Did they agree?",
        "Mr. Witkoff said yes", "Related: Grain deal",
    ]


@pytest.mark.parametrize(("text", "language"), [
    ("Russia and Ukraine agreed to a ceasefire in the Black Sea, the White House said.", "en"),
    ("Зеленський заявив, що Україна не визнає Крим російським і також не піде на поступки.",
     "uk"),
    ("Путин заявил, что Россия готова к переговорам, но это не значит, что война закончится.",
     "ru"),
    ("12:00", None),
    ("Le président a rencontré les négociateurs à Paris pour discuter du cessez-le-feu.", None),
])
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(("title", "canonical"), [
    ("Live: Zelensky meets Trump in the Oval Office - BBC News",
     "Zelensky meets Trump in the Oval Office"),
    ("Analysis: Why the minerals deal matters | CNN", "Why the minerals deal matters"),
    ("\u2018Posture and a pose\u2019: envoy dismisses plan \u2013 video",
     "'Posture and a pose': envoy dismisses plan"),
])
def test_canonical_title(title: str, canonical: str) -> None:
    assert canonical_title(title) == canonical


def test_canonical_url_drops_tracking_and_normalises_host() -> None:
    a = canonical_url("HTTP://www.BBC.co.uk/news/world-1?at_medium=RSS&at_campaign=KARANGA#top")
    b = canonical_url("https://bbc.co.uk/news/world-1/")
    assert a == b == "https://bbc.co.uk/news/world-1"
    assert canonical_url("https://x.example/a?b=2&utm_source=t&a=1") == "https://x.example/a?a=1&b=2"
    assert canonical_url("") is None
    assert canonical_url(None) is None


def test_content_hash_ignores_case_markup_and_typography() -> None:
    assert content_hash("Truce agreed", "Kyiv\u2019s view.") == content_hash("TRUCE  agreed",
                                                                            "kyiv's view")
    assert content_hash("Truce agreed", "x") != content_hash("Truce rejected", "x")


def test_content_words_drop_stopwords_and_plurals() -> None:
    assert content_words("The talks on sanctions, says Kremlin's envoy") == [
        "talk", "sanction", "kremlin", "envoy"]
