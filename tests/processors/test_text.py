from __future__ import annotations

import pytest

from processors.text import (
    canonical_title,
    content_words,
    detect_language,
    split_sentences,
)


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
    ("Rosja odrzuciła propozycję rozejmu, a Ukraina czeka na gwarancje bezpieczeństwa.", "pl"),
    ("Pilna ewakuacja w Ukrainie. Władze wskazały ponad 40 miejscowości", "pl"),
    ("Russland lehnt die Waffenruhe ab, die Ukraine wartet auf Sicherheitsgarantien.", "de"),
    ("Venezuela-Krise nach Angriff der USA: Russland reagiert wütend", "de"),
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


def test_content_words_drop_stopwords_and_plurals() -> None:
    assert content_words("The talks on sanctions, says Kremlin's envoy") == [
        "talk", "sanction", "kremlin", "envoy"]
