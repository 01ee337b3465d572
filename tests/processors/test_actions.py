from __future__ import annotations

import pytest

from peacewatch.models import Severity
from processors.actions import ActionDetector, sentence_action
from processors.watchlist import Watchlist


@pytest.mark.parametrize(("sentence", "severity"), [
    ("Ukraine and the US sign minerals deal", Severity.SIGNED),
    ("The agreement was signed in Washington on Wednesday", Severity.SIGNED),
    ("Moscow and Kyiv agreed to a 30-day truce", Severity.AGREED),
    ("A deal was reached after twelve hours of talks", Severity.AGREED),
    ("Zelensky rejected the proposal outright", Severity.REJECTED),
    ("The Kremlin ruled out any foreign troops in Ukraine", Severity.REJECTED),
    ("Ukraine refused to sign the document", Severity.REJECTED),
    ("Putin proposed a three-day truce for the holiday", Severity.PROPOSED),
    ("France and Britain offered to lead a reassurance force", Severity.PROPOSED),
    ("Envoys will discuss the ceasefire in Riyadh", Severity.DISCUSSED),
    ("Kyiv has yet to sign the minerals deal", Severity.DISCUSSED),
    ("Trump warned of big problems if the deal is not signed", Severity.DISCUSSED),
    ("The ceasefire agreement was discussed at length", Severity.DISCUSSED),
])
def test_sentence_action_severity(sentence: str, severity: Severity) -> None:
    found = sentence_action(sentence)
    assert found is not None and found[1] == severity


# Each language: every severity, a negation, a condition, and a refusal to do the deed.
POLISH = [
    ("Przedstawiciele obu rządów podpisali w Ankarze umowę zbożową", Severity.SIGNED),
    ("Parlament ratyfikował traktat o współpracy obronnej", Severity.SIGNED),
    ("Delegacje uzgodniły wymianę jeńców po pięciu godzinach", Severity.AGREED),
    ("Kijów zgodził się na trzydziestodniowy rozejm", Severity.AGREED),
    ("Kreml odrzucił europejski plan pokojowy", Severity.REJECTED),
    ("Turcja zaproponowała gościnę kolejnej rundy", Severity.PROPOSED),
    ("Negocjacje w Genewie potrwają jeszcze dwa dni", Severity.DISCUSSED),
    ("Zełenski nie podpisał jeszcze umowy surowcowej", Severity.DISCUSSED),
    ("Jeśli Moskwa zgodzi się na rozejm, sankcje zostaną złagodzone", Severity.DISCUSSED),
    ("Ukraina podpisałaby porozumienie tylko z gwarancjami", Severity.DISCUSSED),
    ("Prezydent odmówił podpisania dokumentu", Severity.REJECTED),
]
GERMAN = [
    ("Beide Regierungen unterzeichneten das Abkommen in Istanbul", Severity.SIGNED),
    ("Die Minister haben die Erklärung unterschrieben", Severity.SIGNED),
    ("Moskau und Kiew einigten sich auf einen Gefangenenaustausch", Severity.AGREED),
    ("Die Ukraine stimmte dem amerikanischen Vorschlag zu", Severity.AGREED),
    ("Der Kreml lehnt den europäischen Friedensplan entschieden ab", Severity.REJECTED),
    ("Die Türkei schlägt eine neue Runde in Istanbul vor", Severity.PROPOSED),
    ("Die Friedensverhandlungen gehen am Montag weiter", Severity.DISCUSSED),
    ("Kiew hat das Abkommen noch nicht unterzeichnet", Severity.DISCUSSED),
    ("Russland unterzeichnet das Papier nicht", Severity.DISCUSSED),
    ("Wenn Moskau zustimmt, könnte die Waffenruhe am Montag beginnen", Severity.DISCUSSED),
    ("Selenskyj weigerte sich, das Abkommen zu unterzeichnen", Severity.REJECTED),
]
UKRAINIAN = [
    ("Україна та Норвегія підписали угоду про безпеку", Severity.SIGNED),
    ("Верховна Рада ратифікувала угоду про надра", Severity.SIGNED),
    ("Сторони домовилися про обмін полоненими", Severity.AGREED),
    ("Київ погодився на тимчасове перемир\u2019я", Severity.AGREED),
    ("Кремль відхилив пропозицію про перемир\u2019я", Severity.REJECTED),
    ("Франція запропонувала провести зустріч у Парижі", Severity.PROPOSED),
    ("Міністри обговорили гарантії безпеки", Severity.DISCUSSED),
    ("Україна не підписала угоду про надра", Severity.DISCUSSED),
    ("Якщо Росія погодиться на перемир\u2019я, санкції можуть послабити", Severity.DISCUSSED),
    ("Україна підписала б угоду лише з гарантіями", Severity.DISCUSSED),
    ("Президент відмовився підписувати документ", Severity.REJECTED),
]
RUSSIAN = [
    ("Стороны подписали соглашение о прекращении огня", Severity.SIGNED),
    ("Госдума ратифицировала договор", Severity.SIGNED),
    ("Делегации согласовали текст меморандума", Severity.AGREED),
    ("Достигнута договоренность о пасхальном перемирии", Severity.AGREED),
    ("Москва отвергла европейский план", Severity.REJECTED),
    ("Турция предложила провести встречу в Стамбуле", Severity.PROPOSED),
    ("Министры обсудили гарантии безопасности", Severity.DISCUSSED),
    ("Киев пока не подписал соглашение", Severity.DISCUSSED),
    ("Неизвестно, подпишут ли стороны документ в пятницу", Severity.DISCUSSED),
    ("Если Москва согласится на перемирие, санкции ослабят", Severity.DISCUSSED),
    ("Президент отказался подписывать документ", Severity.REJECTED),
]


@pytest.mark.parametrize(("sentence", "severity"), POLISH + GERMAN + UKRAINIAN + RUSSIAN)
def test_sentence_action_in_other_languages(sentence: str, severity: Severity) -> None:
    found = sentence_action(sentence)
    assert found is not None and found[1] == severity


@pytest.mark.parametrize("sentence", [
    "Zawieszenie broni obowiązuje od północy",  # a ceasefire, not a suspension
    "Premier nie odrzucił tego pomysłu wprost",  # not rejecting is no rejection
    "Der Kanzler lehnt eine Beteiligung nicht ab",
    "Drohnen treffen ein Tanklager bei Noworossijsk",  # "treffen" here is "hit"
    "Погода в Києві знову погіршилася",  # the weather, not agreeing
    "Індія та ПАР підпис не поставили",  # the signature noun, negated
    "Москва не отвергла эту идею",
    "The ultimate aim of the trip remains unclear",  # English is not read as Polish
])
def test_look_alikes_and_denials_report_nothing(sentence: str) -> None:
    assert sentence_action(sentence) is None


def test_detect_reads_other_languages(watchlist: Watchlist) -> None:
    action = ActionDetector(watchlist).detect([
        "Переговори в Стамбулі тривали дві години.",
        "Кремль відхилив американську пропозицію про перемир\u2019я.",
    ])
    assert action.name == "rejected" and action.sentence.startswith("Кремль відхилив")


def test_a_sentence_without_an_action() -> None:
    assert sentence_action("Shelling continued overnight in the east") is None


def test_detect_takes_the_strongest_action_and_its_parties(watchlist: Watchlist) -> None:
    detector = ActionDetector(watchlist)
    action = detector.detect([
        "Talks continued in Jeddah on Monday.",
        "The Kremlin rejected the US proposal for an unconditional ceasefire.",
        "Officials proposed a new round next week.",
    ])
    assert action.name == "rejected" and action.severity == Severity.REJECTED
    assert action.parties == {"russia", "united-states"}
    assert action.sentence.startswith("The Kremlin rejected")
    nothing = detector.detect(["Fighting went on."])
    assert (nothing.name, nothing.severity, nothing.parties) == (
        "mentioned", Severity.MENTIONED, frozenset())


def test_parties_only_for_positions_not_for_discussion(watchlist: Watchlist) -> None:
    detector = ActionDetector(watchlist)
    assert detector.detect(["Putin and Trump discussed the war by phone."]).parties == set()
