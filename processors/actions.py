"""What happened, according to an item's evidence: the action, its severity, who took it.

``ActionDetector.detect`` reads the evidence sentences of one issue match and returns the
strongest action reported (signed > agreed > rejected > proposed > discussed > mentioned) and
the parties named in the sentences that report a position. Negated or conditional reports
("has not signed", "if the deal is not signed", "failed to agree") count as discussion only:
a first report that something was *done* is what makes a development severe.

The forms of each action are kept for every language peacewatch reads (English, Polish,
German, Ukrainian, Russian), and so are the words that negate or hedge them: a sentence is
read with the negations of the language whose form matched in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peacewatch.models import Severity
from processors.patterns import TermSet, compile_terms
from processors.text import fold, wordlist
from processors.watchlist import Watchlist

# --- the forms of each action, by language -----------------------------------------------------
#
# One table per action, one pattern per language. Patterns are lowercase and read lowercased
# text (case-blind matching would forgo the regex engine's fast rejection of alternatives), and
# each starts at a word boundary: _compile puts one \b before them all.
#
# Polish, Ukrainian and Russian inflect heavily, so their forms are stems closed by \w*; \w and
# \b are Unicode-aware, so they work for Cyrillic and Polish letters alike. Stems stop short of
# look-alikes: "zawieszenie broni" is a ceasefire, not a suspension; "погода" is the weather.
# German compounds put the telling word last ("Friedensgespräche"), hence \w*? before those
# heads; German split verbs ("lehnt den Plan ab") are written with _split.

_CLAUSE_END = r"(?=\s*(?:$|[,.;:!?\"')\]-]|(?:und|oder|aber|sowie|weil|nachdem)\b))"


def _split(*verbs: tuple[str, str]) -> str:
    """German separable verbs, each given as (finite verb, particle): the verb, at most eight
    words of its own clause, then the particle closing that clause. A "nicht" or "kein" in
    between makes it no action at all ("lehnt den Plan nicht ab")."""
    gap = r"(?:\s+(?!(?:nicht|kein\w*)\b)[^\s,.;:!?]+){0,8}?"
    return "|".join(rf"(?:{verb}){gap}\s+{particle}\b{_CLAUSE_END}" for verb, particle in verbs)


# What one can walk out of, suspend or break off (not aid, not troops: those are war news).
_PL_DEALS = r"(?:umow|porozumie|rozm[oó]w|negocjac|traktat|układ|inicjatyw|udział)\w*"
_UK_DEALS = r"(?:угод|домовленост|переговор|перемовин|ініціатив|участ|договор)\w*"
_RU_DEALS = r"(?:сделк|соглашени|договор|переговор|инициатив|участи)\w*"

_SIGNED = {
    "en": r"(?:signed|signing|inked|ratif(?:y|ies|ied|ying|ication)|"
          r"signs?\s+(?:off|onto|up|into|(?:[\w-]+\s+){0,3}(?:deal|agreement|accord|law|bill|"
          r"treaty|memorandum|decree|pact|declaration|communique|framework))|to\s+sign|"
          r"will\s+sign)\b",
    "pl": r"podpis[auz]\w*|złoż\w*\s+podpis\w*|ratyfik\w*",
    "de": r"\w*?unterzeichn\w*|unterschr(?:ieb|eib|ift)\w*|ratifi\w*",
    # The noun alone (підпис, подпись: signature) is no signing: "підпис не поставили".
    "uk": r"підпис(?!(?:и|у|ом|ник\w*)?\b)\w*|підпиш\w*|постави\w*\s+підпис\w*|ратифік\w*",
    "ru": r"подпис(?!(?:ь|и|ью|чик\w*)\b)\w*|подпиш\w*|постави\w*\s+подпис\w*|ратифи\w*",
}
_AGREED = {
    "en": r"(?:agree[sd]?|agreeing|accept(?:s|ed|ing)?|approv(?:e|es|ed|ing)|endorse[sd]?|"
          r"struck\s+(?:a\s+)?deal|clinch(?:es|ed)?|seal(?:s|ed)\s+(?:a\s+|the\s+)?deal|"
          r"(?:deal|agreement|truce|ceasefire|accord)\s+(?:was|has\s+been|is)\s+reached|"
          r"reach(?:es|ed)?\s+(?:an?\s+)?(?:deal|agreement|accord|truce|ceasefire)|"
          r"breakthrough|took\s+effect|takes\s+effect|came\s+into\s+force|comes\s+into\s+force)\b",
    "pl": r"uzgodni[łlo]\w*|uzgodnić|porozumi(?:ał|ała|ało|eli|ały)\b|zgodzi(?:ł\w*|li|ły|ć|)\b|"
          r"zgodzą\b|zgadza\w*|"
          r"zawar(?:li|ły|ła|ł|to)\b|zatwierdz\w*|zaakceptowa\w*|akceptuj\w*|wynegocjowa\w*|"
          r"przyj(?:ął|ęła|ęli|ęły|ęto|ęty|ęta|ęte)\b|wyrazi\w*\s+zgod\w*|"
          r"osiągn\w*\s+(?:\w+\s+){0,2}?porozumieni\w*|porozumieni\w*\s+(?:\w+\s+)?osiągnięt\w*|"
          r"przełom\w*|(?:wesz|wszed|wejd|wchodz)\w*\s+w\s+życie",
    "de": r"einigt\w*|einigen\s+sich|geeinigt|einigung\w*|vereinbart\w*|vereinbaren|"
          r"verständigt\w*|verständigen\s+sich|zugestimmt|zustimm\w*|akzeptier\w*|angenommen(?!,?\s+dass)|"
          r"annehm(?!bar)\w*|gebilligt|billigt\w*|billigte\w*|genehmig\w*|beschlossen|beschließ\w*|"
          r"beschloss\w*|zugesagt|eingewilligt|freigegeben|durchbruch\w*|"
          r"in\s+kraft\s+(?:getreten|gesetzt)|"
          + _split(("stimm(?:t|te|ten|en)", "zu"), ("sag(?:t|te|ten|en)", "zu"),
                   ("nimmt|nahm|nahmen", "an"), ("willig(?:t|te|ten)", "ein"),
                   ("gibt|gab|gaben", "frei"), ("tr(?:itt|at|aten)", r"in\s+kraft")),
    "uk": r"домовил\w*|погод(?:ил|ив|ит|ять|ж)\w*|узгод(?:ил|ив|ит|ять|ж)\w*|"
          r"уклал\w*|уклав\w*|укладен\w*|затверд\w*|схвал\w*|"
          r"підтрима(?:в|ла|ли|ло)\s+(?:\w+\s+){0,2}?(?:пропозиц|план|ініціатив|резолюц|рішенн|угод|"
          r"декларац|документ)\w*|"
          r"прийня(?:в|ла|ли|ло|то|тий|та|ті)\b(?!\s+(?:участ|рішенн))|"
          r"ухвал(?:ив|ила|или|ено|ений|ена|ені)\b(?!\s+рішенн)|"
          r"(?:дав|дала|дали|надав\w*|надал\w*)\s+згоду|"
          r"досяг\w*\s+(?:\w+\s+){0,2}?(?:домовленост\w*|згоди|угоди|компроміс\w*)|"
          r"(?:набу(?:в|ла|ли|ло|ває|вають)|набра\w*)\s+чинност\w*",
    "ru": r"договорил\w*|согласова\w*|согласил\w*|соглаша\w*|согласит\w*|"
          r"соглас(?:ен|на|ны)\b|принял\w*\b(?!\s+(?:участи|решени))|принят(?:о|а|ы|ый|ое|ая)?\b|"
          r"утверд\w*|одобр\w*|"
          r"поддержал\w*\s+(?:\w+\s+){0,2}?(?:предложени|план|инициатив|резолюци|решени|соглашени|"
          r"декларац|документ)\w*|заключил\w*|заключен[оаы]\b|"
          r"достиг\w*\s+(?:\w+\s+){0,2}?(?:договоренност|соглашени|согласи|компромисс)\w*|"
          r"приш\w*\s+к\s+(?:соглашени|согласи|компромисс)\w*|"
          r"вступ(?:ил|ает|ают)\w*\s+в\s+силу",
}
_REJECTED = {
    "en": r"(?:reject(?:s|ed|ing)?|refus(?:e|es|ed|ing)|rul(?:e|es|ed|ing)\s+out|"
          r"dismiss(?:es|ed|ing)?|turn(?:s|ed)?\s+down|walk(?:s|ed)?\s+(?:out|away)|"
          r"vetoe?[sd]?|spurn(?:s|ed)?|rebuff(?:s|ed)?|pull(?:s|ed)?\s+out\s+of|"
          r"suspend(?:s|ed)?|collaps(?:e|es|ed)|broke\s+down|breaks\s+down)\b",
    "pl": r"odrzuc\w*|odm(?:ów|aw|ow)\w*|wyklucz\w*|zablokow\w*|blokow\w*|blokuj\w*|"
          r"nie\s+do\s+przyjęcia|"
          rf"(?:zawiesz?|zerwa)\w*\s+(?:\w+\s+)?{_PL_DEALS}|"
          rf"(?:wycofa\w*\s+się|wyszł\w*|wychodzi\w*|wyjdzie)\s+z\s+(?:\w+\s+){{0,2}}?{_PL_DEALS}",
    "de": r"abgelehnt\w*|ablehn\w*|zurückgewiesen|zurückweis\w*|absage\w*|weiger\w*|"
          r"verweiger\w*|ausgeschlossen|inakzeptabel\w*|unakzeptabel\w*|unannehmbar\w*|"
          r"(?:nicht|kaum)\s+in\s*frage|nicht\s+(?:annehmbar|akzeptabel)|blockier\w*|aufgekündigt|aufkündig\w*|abgebrochen|"
          r"ausgestiegen|"
          + _split(("lehn(?:t|te|ten|en)", "ab"), ("w(?:eist|ies|iesen)", "zurück"),
                   ("sag(?:t|te|ten|en)", "ab"), ("schl(?:ägt|ug|ugen)", "aus"),
                   (r"schlie(?:ßt|ßen|sst|ssen)|schloss\w*", "aus"), ("br(?:icht|ach|achen)", "ab"),
                   ("steigt|stieg|stiegen", "aus"), ("kündig(?:t|te|ten)", "auf")),
    "uk": r"відхил(?:ив|ил|ен|ят|яє|яю)\w*|відки(?:н|да)\w*|відмов(?:ив|ил|ля)\w*|"
          r"виключ(?:ив|ил|ає|ають)\w*|заблокува\w*|блоку(?:є|ють|вав|вала|вали)\b|"
          r"неприйнятн\w*|накла\w*\s+вето|"
          rf"(?:вийш|вихід|виход)\w*\s+(?:з|із|зі)\s+(?:\w+\s+){{0,2}}?{_UK_DEALS}|"
          rf"(?:призупин|розірва|зірва|припини)\w*\s+(?:\w+\s+){{0,2}}?{_UK_DEALS}",
    "ru": r"отклон(?:ил|ен|я)\w*|отверг\w*|отказ(?:ал|ыва)\w*|исключ(?:ил|ает|ают)\w*|"
          r"заблокирова\w*|блокиру\w*|неприемлем\w*|недопустим\w*|налож\w*\s+вето|"
          rf"вы(?:ш|шл|ход|йд|йт)\w*\s+из\s+(?:\w+\s+){{0,2}}?{_RU_DEALS}|"
          rf"(?:приостан[оа]в|разорва|прерва|сорва)\w*\s+(?:\w+\s+){{0,2}}?{_RU_DEALS}",
}
_PROPOSED = {
    "en": r"(?:propos(?:e|es|ed|al|als|ing)|offer(?:s|ed|ing)?|put\s+forward|unveil(?:s|ed)?|"
          r"suggest(?:s|ed)?|float(?:s|ed)|demand(?:s|ed)?|call(?:s|ed)?\s+for|plan(?:s)?\s+(?:to|for)|"
          r"draft(?:s|ed)?|present(?:s|ed)|submit(?:s|ted)?|urg(?:e|es|ed)|push(?:es|ed)?\s+for|"
          r"threat(?:en|ens|ened)|ultimatum|condition(?:s)?\s+for|insist(?:s|ed)?)\b",
    "pl": r"zaproponowa\w*|propon(?:uj|ow)\w*|propozycj\w*|kontrpropozycj\w*|ofer(?:ow|uj)\w*|"
          r"zaofer\w*|ofert\w*|żąd\w*|zażąd\w*|domaga\w*|wzyw\w*|wezwa\w*|apel\w*|zaapel\w*|"
          r"nalega\w*|przedstawi(?:ł|ła|li|ły|ło|ć)\b|przedstawion\w*|(?:za)?groził\w*|zagrozi\w*|grozi,?\s+że\b|"
          r"ultimat(?:um|ów|ach|ami)\b|warunkiem|stawia\w*\s+warunk\w*|(?:złoż|skład)\w*\s+wnios\w*|"
          r"projekt\w*\s+(?:\w+\s+)?(?:umow|porozumie|traktat|deklarac|rezolucj|ustaw)\w*",
    "de": r"vorgeschlagen|\w*?vorschl(?:ag|äg)\w*|angeboten|angebot\w*|gefordert\w*|forder\w*|"
          r"verlang(?:t|te|ten|en)\b|vorgelegt|vorlegen|anbieten|vorgestellt|\w*?entw(?:urf|ürf)\w*|"
          r"droh(?:t|te|ten|en)\b|gedroht|bedingung(?:en)?\s+für|voraussetzung(?:en)?\s+(?:für|dafür)|"
          r"aufgerufen|aufruf\w*|dräng(?:t|te|ten)\s+(?:\w+\s+){0,3}?auf\b|"
          r"auf\s+(?:\w+\s+){0,6}?gedrängt|gepocht|pocht\w*|eingebracht|"
          r"beantragt\w*|antrag\w*|ins\s+spiel\s+(?:gebracht|bringt|brachte)|ultimatum\w*|"
          + _split(("schl(?:ägt|ug|ugen)", "vor"), ("bietet|bot|boten", "an"),
                   ("leg(?:t|te|ten)", "vor"), ("stell(?:t|te|ten)", "vor"),
                   ("ruft|rief|riefen", "auf"), ("bringt|brachte|brachten", "ein")),
    "uk": r"запропон\w*|пропон\w*|пропозиц\w*|контрпропозиц\w*|вимаг\w*|вимог\w*|заклик\w*|"
          r"висун\w*|ультиматум\w*|представи(?:в|ла|ли|ло|ть|ти)\b|представлен\w*|"
          r"погро[зж]\w*|пригро[зж]\w*|наполяг\w*|пода\w*\s+заявк\w*|"
          r"про[єе]кт\w*\s+(?:\w+\s+){0,2}?(?:угод|договор|документ|меморанд|резолюц|мирн)\w*|"
          r"умов\w*\s+(?:для\s+)?(?:переговор|мир|припинен|перемир|угод)\w*",
    "ru": r"предлож\w*|предлага\w*|требова\w*|требу\w*|потребова\w*|призв(?:ал|ала|али|ать)\b|"
          r"призыва\w*|выдвин\w*|выдвига\w*|ультиматум\w*|пригроз\w*|погроз\w*|угрожа\w*|"
          r"настаива\w*|представ(?:ил\w*|ит|ят|ить|ляет|ляют)\b|представлен\w*|"
          r"проект\w*\s+(?:\w+\s+){0,2}?(?:соглашени|договор|документ|меморандум|резолюци|мирн)\w*|"
          r"услови\w*\s+(?:для\s+)?(?:прекращени|перемири|мир|переговор|урегулировани|соглашени)\w*",
}
_DISCUSSED = {
    "en": r"(?:discuss(?:es|ed|ing|ion|ions)?|talks?|negotiat\w*|meet(?:s|ing|ings)?|met|"
          r"summit|consider(?:s|ed|ing)?|weigh(?:s|ed|ing)?|debat\w+|envoy|mediat\w*|"
          r"consult\w*|call\s+with|phone\s+call)\b",
    "pl": r"rozm[oó]w\w*|rozmawia\w*|negocj\w*|spotka\w*|szczyt(?:u|em|y|ów)?\b|szczycie\b|"
          r"om(?:ówi|awia)\w*|dyskut\w*|dyskusj\w*|mediac\w*|mediator\w*|mediowa\w*|konsult\w*|"
          r"rozważ\w*|wysłanni\w*",
    # "treffen" is also "to hit" ("Drohnen treffen Tanker"): only the noun, known by its company.
    "de": r"\w*?(?:gespräch|verhand|gipfel|gesandte)\w*|"
          r"(?:das|ein|beim|zum|vom|dem|einem|nächste[ns]?|erste[ns]?|geplante[ns]?)\s+treffen\b|"
          r"treffen\s+(?:mit|zwischen|der|des|von|im|am)\b|(?<=-)treffen\b|^treffen\b|"
          r"tr(?:afen|effen|ifft)\s+sich|ber(?:aten|ät|iet|ieten)\b|beratung\w*|besproch\w*|"
          r"besprech\w*|bespricht|(?:mit|über)\s+(?:\w+\s+){0,5}?gesprochen|erörter\w*|diskut\w*|diskussion\w*|debatt\w*|"
          r"vermittel\w*|vermittl\w*|konsult\w*|telefon(?:at|iert)\w*|erw(?:ägt|ägen|og|ogen)\b|"
          r"prüf(?:t|te|en)\b|unterhändler\w*",
    "uk": r"переговор\w*|перемовин\w*|зустріч(?:і|ю|ей|ах|ами)?\b|зустрі[влнт]\w*|обговор\w*|"
          r"розмов\w*|(?:по)?говорил\w*\s+(?:з|із|зі)\b|саміт\w*|консультац\w*|посередни\w*|"
          r"посланц\w*|спецпосланц\w*|посланник\w*|спецпредставник\w*|розгляда\w*",
    "ru": r"переговор\w*|встреч(?:а|и|у|е|ей|ах|ами)?\b|встрет\w*|обсу(?:д|жд)\w*|"
          r"разговор\w*|(?:по)?говорил\w*\s+(?:с|со)\b|саммит\w*|консультац\w*|посредни\w*|"
          r"посланник\w*|спецпосланник\w*|спецпредставител\w*|рассматрива\w*",
}
_ACTIONS: tuple[tuple[str, Severity, Mapping[str, str]], ...] = (
    ("signed", Severity.SIGNED, _SIGNED),
    ("agreed", Severity.AGREED, _AGREED),
    ("rejected", Severity.REJECTED, _REJECTED),
    ("proposed", Severity.PROPOSED, _PROPOSED),
    ("discussed", Severity.DISCUSSED, _DISCUSSED),
)


# --- what makes a report a non-report, by language ---------------------------------------------


def _before(words: str, reach: int = 4, adjacent: str = "") -> re.Pattern[str]:
    """One of ``words`` at most ``reach`` words before the end of the text, or one of
    ``adjacent`` right before it."""
    near = rf"\b(?:{words})\b(?:\W+\w+){{0,{reach}}}\W*$"
    return re.compile(rf"{near}|\b(?:{adjacent})\W*$" if adjacent else near)


@dataclass(frozen=True, slots=True)
class _Hedges:
    """The words that turn one language's report that a deed was done (signed, agreed) into
    talk about it, or into a refusal; and the negation that makes a rejection no action."""

    before: re.Pattern[str]  # a negation or condition just before the verb ...
    refusal: re.Pattern[str]  # ... which, being one of these, makes it a refusal
    after: re.Pattern[str] | None = None  # a negation or condition right after the verb
    denial: re.Pattern[str] | None = None  # "did not reject" right before a rejection

    def hedged(self, text: str, match: re.Match[str]) -> bool:
        return (self.before.search(text, 0, match.start()) is not None
                or (self.after is not None and self.after.match(text, match.end()) is not None))


_REFUSALS = {
    "en": r"refus\w*|reject\w*|declin\w*",
    "pl": r"odm(?:ów|aw|ow)\w*|odrzuc\w*|zakaz\w*",
    "de": r"ablehn\w*|lehnt\w*|lehnte\w*|(?:ver)?weiger\w*|untersag\w*|verbiet\w*|"
          r"zurückgewiesen|zurückweis\w*",
    "uk": r"відмов\w*|відки\w*|відхил\w*|заборон\w*",
    "ru": r"отказ\w*|отклон\w*|отверг\w*|запре[тщ]\w*",
}
_HEDGES = {
    "en": _Hedges(
        re.compile(
            r"(?:\b(?:not|never|no|yet|without|fail\w*|unless|if|whether|would|could|might|may|"
            r"hop\w*|expect\w*|ready|willing|before|plan\w*|want\w*|seek\w*|aim\w*|urg\w*|"
            r"press\w*|push\w*|refus\w*|reject\w*|declin\w*)|n't)\b(?:\W+\w+){0,4}\W*$"),
        _before(_REFUSALS["en"])),
    "pl": _Hedges(
        _before(r"nie|bez|jeszcze|jeśli|jeżeli|gdyby|czy|aby|żeby|by|może|mógł\w*|mogł\w*|mogą|"
                r"miał\w*|ma|mają|planuj\w*|planowan\w*|zamierza\w*|chce|chcą|chciał\w*|gotow\w*|"
                r"gotów|przed|zanim|dopóki|nadziej\w*|oczekuj\w*|spodziewa\w*|zapowiada\w*|"
                r"zapowiedzia\w*|wzyw\w*|wezwa\w*|żąda\w*|domaga\w*|nalega\w*|naciska\w*|"
                r"odwoła\w*|ewentualn\w*|jakiegokolwiek|jakiekolwiek|żadn\w*|musi|muszą|powin\w*|"
                + _REFUSALS["pl"]),
        _before(_REFUSALS["pl"]),
        # The verb itself ends in "-by" when conditional ("podpisałby": would sign).
        re.compile(r"(?:(?<=by)|(?<=bym)|(?<=byś)|(?<=byśmy)|(?<=byście))(?!\w)"),
        re.compile(r"\bnie\s+$")),
    # German puts "nicht" after a finite verb ("unterzeichnet das Abkommen nicht") and the
    # verb last, far from its modal ("will ... am Freitag ... unterzeichnen") or from what
    # governs its "zu" ("untersagt, das Abkommen ... zu unterzeichnen").
    "de": _Hedges(
        _before(r"nicht|nie|kein\w*|ohne|wenn|falls|ob|sofern|bevor|vor|würde\w*|könnte\w*|"
                r"könne\w*|kann|können|sollte\w*|soll|sollen|solle|müsse\w*|muss|müssen|wäre\w*|"
                r"will|wollen|wollte\w*|bereit\w*|hoff\w*|erwart\w*|plan\w*|geplant\w*|dräng\w*|"
                r"forder\w*|verlang\w*|jede[rnms]?|möglich\w*|etwaig\w*|absag\w*|abgesagt|"
                + _REFUSALS["de"], reach=6, adjacent="zu"),
        _before(_REFUSALS["de"], reach=10),
        re.compile(r"(?:\s+[^\s,.;:!?]+){0,3}?\s+(?:nicht|nie)\b"),
        re.compile(r"\b(?:nicht|nie)\s+$")),
    "uk": _Hedges(
        _before(r"не|ні|ані|без|ще|якщо|якби|чи|б|би|щоб|аби|може|можуть|міг|могл\w*|мав|мала|мали|"
                r"має|мають|планує\w*|планують|заплановано|запланован\w*|хоче|хочуть|хотів\w*|"
                r"хотіл\w*|готов\w*|перед|напередодні|сподіва\w*|очіку\w*|розрахову\w*|"
                r"заклика\w*|закликал\w*|вимага\w*|наполяга\w*|скасува\w*|скасован\w*|можлив\w*|"
                r"будь-як\w*|жодн\w*|повин\w*|" + _REFUSALS["uk"]),
        _before(_REFUSALS["uk"]),
        re.compile(r"\s+(?:б|би)\b"),
        re.compile(r"\b(?:не|ні)\s+$")),
    "ru": _Hedges(
        _before(r"не|ни|нет|без|ещ[её]|если|ли|бы|б|чтобы|может|могут|мог\w*|долж\w*|план\w*|"
                r"запланирова\w*|хочет|хотят|хотел\w*|готов\w*|перед|надежд\w*|наде[ея]\w*|"
                r"ожида\w*|рассчитыва\w*|призыва\w*|призвал\w*|требу\w*|настаива\w*|отмен\w*|"
                r"возможн\w*|любо\w*|никак\w*|" + _REFUSALS["ru"]),
        _before(_REFUSALS["ru"]),
        re.compile(r"\s+(?:бы|ли)\b"),
        re.compile(r"\b(?:не|ни)\s+$")),
}
_DONE = frozenset({Severity.SIGNED, Severity.AGREED})

_Table = tuple[tuple[str, Severity, re.Pattern[str]], ...]


def _compile(languages: tuple[str, ...]) -> _Table:
    """Each action's forms in ``languages`` as one pattern, strongest action first. Each
    language is a named group, so a match tells which language's negations apply."""
    return tuple(
        (name, severity, re.compile(r"\b(?:" + "|".join(
            f"(?P<{language}>{forms[language]})" for language in languages) + ")"))
        for name, severity, forms in _ACTIONS)


# Trying forms is where the time goes, so a sentence is only read against the languages it can
# be in: English forms always (names and quotes cross languages), Ukrainian and Russian ones
# in Cyrillic text, Polish and German ones in Latin text without a word only English uses.
_ENGLISH = _compile(("en",))
_LATIN = _compile(("en", "de", "pl"))
_CYRILLIC = _compile(("en", "uk", "ru"))
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u04ff]")
_ENGLISH_ONLY_WORDS = wordlist(
    "the of and that for with from has have are were been said says after its their they his "
    "her which this than over into about against during")


def _table(text: str) -> _Table:
    """The forms to read a lowercased sentence against."""
    if not text.isascii() and _CYRILLIC_LETTER.search(text):
        return _CYRILLIC
    if _ENGLISH_ONLY_WORDS.isdisjoint(text.split()):
        return _LATIN
    return _ENGLISH


@dataclass(frozen=True, slots=True)
class Action:
    """The strongest thing an item reports on an issue."""

    name: str
    severity: Severity
    parties: frozenset[str] = frozenset()
    sentence: str = ""


MENTIONED = Action("mentioned", Severity.MENTIONED)


def _reading(name: str, severity: Severity, text: str,
             match: re.Match[str]) -> tuple[str, Severity] | None:
    """What one matched form reports, its language's negations taken into account."""
    hedges = _HEDGES[match.lastgroup or "en"]
    if severity in _DONE and hedges.hedged(text, match):
        if hedges.refusal.search(text, 0, match.start()):
            return ("rejected", Severity.REJECTED)
        return ("discussed", Severity.DISCUSSED)
    if (severity == Severity.REJECTED and hedges.denial is not None
            and hedges.denial.search(text, 0, match.start())):
        return None
    return (name, severity)


def sentence_action(sentence: str) -> tuple[str, Severity] | None:
    """The strongest action one sentence reports, with negation taken into account."""
    text = fold(sentence).lower()
    best: tuple[str, Severity] | None = None
    for name, severity, pattern in _table(text):
        if best is not None and best[1] >= severity:
            break
        for match in pattern.finditer(text):
            found = _reading(name, severity, text, match)
            if found is not None and (best is None or found[1] > best[1]):
                best = found
            if best is not None and best[1] == severity:
                break
    return best


class ActionDetector:
    """Finds the action and the parties in evidence sentences; built once per watchlist."""

    def __init__(self, watchlist: Watchlist) -> None:
        self._parties: tuple[tuple[str, TermSet], ...] = tuple(
            (pid, compile_terms(p.terms, watchlist.groups))
            for pid, p in watchlist.parties.items()
        )

    def parties_in(self, sentence: str) -> frozenset[str]:
        text = fold(sentence)
        lowered = text.lower()
        return frozenset(pid for pid, terms in self._parties if terms.search(text, lowered))

    def detect(self, sentences: Iterable[str]) -> Action:
        best = MENTIONED
        for sentence in sentences:
            found = sentence_action(sentence)
            if found is None or found[1] <= best.severity:
                continue
            parties = (self.parties_in(sentence) if found[1] >= Severity.PROPOSED
                       else frozenset())
            best = Action(found[0], found[1], parties, sentence)
        return best
