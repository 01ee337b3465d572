"""The page as a person uses it: headless Debian Chromium through ChromeDriver (selenium), against
the real server. One browser for the module. Screenshots of each page are saved under
test-artifacts/desk/ (kept by CI as artefacts; ignored by git)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from desk_kit import sample_batch
from prometheus_client import CollectorRegistry
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from desk.server import DeskServer, start_server
from desk.store.db import open_database
from desk.store.record import RecordStore
from peacewatch.metrics import Metrics
from peacewatch.settings import load_settings

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "desk"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RecordStore]]:
    tmp = tmp_path_factory.mktemp("desk-browser")
    settings = load_settings(None, data_dir=tmp, desk={"port": 0})
    store = RecordStore(open_database(tmp / "record.sqlite3", None))
    store.write(sample_batch())
    server: DeskServer
    server, _ = start_server(settings, store, Metrics(CollectorRegistry()))
    yield f"http://127.0.0.1:{server.port}", store
    server.shutdown()
    server.server_close()
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        _unavailable("Debian's chromium and chromium-driver are not installed "
                     "(make system-deps)")

    profile = tempfile.mkdtemp(prefix="peacewatch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # As the machine notes say: headless, no sandbox as root, and no background networking
    # (this machine's closed network refuses it).
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--window-size=1280,1400"):
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER),
                                  options=options)
    except Exception as exc:  # the driver's own errors carry the reason
        shutil.rmtree(profile, ignore_errors=True)
        _unavailable(f"ChromeDriver did not start Chromium: {str(exc).splitlines()[0]}")
    driver.implicitly_wait(2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def shot(driver: object, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def loads(driver: object, act: Callable[[], object]) -> None:
    """Do what loads a new page (a click, an Enter) and wait until it has: a look straight
    after a click may still find the old page's elements.

    The old page's window is marked and the wait is for a complete document without the mark
    (a new page is a new window object). Asking whether an element of the old page is stale
    instead races with the navigation: ChromeDriver may answer that the node "does not belong
    to the document", an error Selenium's ``staleness_of`` does not expect."""
    driver.execute_script("window.peacewatchOldPage = true")  # type: ignore[attr-defined]
    act()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(  # type: ignore[attr-defined]
            "return window.peacewatchOldPage === undefined"
            " && document.readyState === 'complete'"))


def test_an_analyst_reads_searches_and_corrects(browser: object,
                                                desk: tuple[str, RecordStore]) -> None:

    base, store = desk
    d = browser
    d.get(base + "/")  # type: ignore[attr-defined]
    assert d.title == "Board · peacewatch"  # type: ignore[attr-defined]
    cards = d.find_elements(By.CSS_SELECTOR, "section.card h2")  # type: ignore[attr-defined]
    names = [c.text for c in cards]
    assert any("Black Sea" in n for n in names) and len(names) >= 10
    state = d.find_element(By.CSS_SELECTOR, "#card-black-sea ~ dl.state")  # type: ignore[attr-defined]
    assert "Signed" in state.text and "Russia" in state.text and "Turkey" in state.text
    shot(d, "board")

    # The first Tab reaches the skip link: the page is usable from the keyboard.
    d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)  # type: ignore[attr-defined]
    assert d.switch_to.active_element.text == "Skip to content"  # type: ignore[attr-defined]

    # Search, typed and sent with Enter, as a person would.
    loads(d, d.find_element(By.LINK_TEXT, "Search").click)  # type: ignore[attr-defined]
    box = d.find_element(By.NAME, "q")  # type: ignore[attr-defined]
    Select(d.find_element(By.NAME, "what")).select_by_value("items")  # type: ignore[attr-defined]
    loads(d, lambda: box.send_keys("grain", Keys.ENTER))
    results = d.find_element(By.ID, "results")  # type: ignore[attr-defined]
    assert results.text.startswith("3 items")
    assert "TASS - English" in d.find_element(By.CSS_SELECTOR, ".results").text  # type: ignore[attr-defined]
    shot(d, "search")

    # The timeline, narrowed by severity.
    d.get(base + "/")  # type: ignore[attr-defined]
    loads(d, d.find_element(By.CSS_SELECTOR, "#card-black-sea a").click)  # type: ignore[attr-defined]
    assert "timeline" in d.find_element(By.TAG_NAME, "h1").text  # type: ignore[attr-defined]
    articles = d.find_elements(By.CSS_SELECTOR, "article.dev")  # type: ignore[attr-defined]
    assert len(articles) == 3
    signed = d.find_element(By.ID, "dev-dev-3")  # type: ignore[attr-defined]
    assert "Evidence sentence" in signed.text and "Alerted: ops (slack): sent" in signed.text
    assert "confirmed by an official source (Kremlin - President's news)" in signed.text
    assert signed.find_element(By.LINK_TEXT, "TASS: Black Sea grain deal signed").get_attribute(
        "href") == "https://news.example/3"
    shot(d, "timeline")
    Select(d.find_element(By.NAME, "min_severity")).select_by_value("signed")  # type: ignore[attr-defined]
    loads(d, d.find_element(By.CSS_SELECTOR, "form.filters button").click)  # type: ignore[attr-defined]
    assert len(d.find_elements(By.CSS_SELECTOR, "article.dev")) == 1  # type: ignore[attr-defined]

    # A story: every report, by which outlets, first seen when.
    loads(d, d.find_element(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, "#dev-dev-3 .meta a[href^='/stories/']").click)
    rows = d.find_elements(By.CSS_SELECTOR, "table tbody tr")  # type: ignore[attr-defined]
    assert [r.find_elements(By.TAG_NAME, "td")[1].text.split(" ")[0] for r in rows] == [
        "BBC", "Kremlin", "TASS"]
    shot(d, "story")

    # Feedback: "Not new" on the proposal, from the timeline; the record keeps it.
    d.get(base + "/issues/black-sea")  # type: ignore[attr-defined]
    button = d.find_element(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, "#dev-dev-1 button[value='not_new']")
    assert button.get_attribute("aria-label").startswith("Not new: Turkey proposes")
    loads(d, button.click)
    notice = d.find_element(By.CSS_SELECTOR, "[role='status']")  # type: ignore[attr-defined]
    assert "Not new" in notice.text
    assert d.current_url.endswith("#dev-dev-1")  # type: ignore[attr-defined]
    assert "1 not new" in d.find_element(By.ID, "dev-dev-1").text  # type: ignore[attr-defined]
    shot(d, "feedback")
    rows = store.db.query("SELECT development_id, issue_id, verdict, via FROM feedback")
    assert rows == [("dev-1", "black-sea", "not_new", "page")]


def test_the_board_reads_on_a_phone(browser: object, desk: tuple[str, RecordStore]) -> None:
    base, _ = desk
    d = browser
    d.set_window_size(390, 844)  # type: ignore[attr-defined]
    try:
        for path, name in (("/", "board-phone"), ("/issues/black-sea", "timeline-phone")):
            d.get(base + path)  # type: ignore[attr-defined]
            overflow = d.execute_script(  # type: ignore[attr-defined]
                "return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways on a phone"
            shot(d, name)
    finally:
        d.set_window_size(1280, 1400)  # type: ignore[attr-defined]
