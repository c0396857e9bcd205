"""The HTML report in a real browser: Debian's headless Chromium, driven by selenium through Debian's
chromedriver (both paths given, so selenium never tries to download a driver).

The report must open without console errors and without a single network request; the runs table
sorts, filters, pages and chooses columns; a run's curves draw; a screenshot is taken and is not blank.
Without chromium, chromedriver or selenium this skips and says how to install them — except in CI
(``CI=true``), where it fails, as the service tests do.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_store_contract import ex_info, memory_store, metric, play_run

from pytest_sacredx.report import write_report
from pytest_sacredx.report.data import MAX_POINTS

CHROMIUM = os.environ.get("SACREDX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SACREDX_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "
           "--no-install-recommends chromium chromium-driver && pip install selenium "
           "(or: bash .ci/browser.sh)")


def _unavailable(what: str) -> None:
    message = f"{what}; install it with: {INSTALL}"
    if os.environ.get("CI") == "true" or os.environ.get("SACREDX_SERVICES_REQUIRED") == "1":
        pytest.fail(f"{message} (CI: the browser test must not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            _unavailable(f"{path} is missing")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--disable-background-networking",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield browser
    finally:
        browser.quit()


N = 240  # more than two pages of 100


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    store = memory_store(tmp)
    for i in range(N):
        gamma = [0.1, 0.7, 1.5][i % 3]
        play_run(
            store.observer,
            config={"C": 1 + i % 2, "gamma": gamma, "seed": i},
            result=round(0.5 + i / 1000, 4),
            metrics=(metric("loss", list(range(60)), [1 / (s + 1) + gamma for s in range(60)], i),),
            experiment=ex_info(name="svm"),
            meta={"command": "main", "options": {}, "named_configs": [], "config_updates": {},
                  "pytest": {"case_id": f"exp.py::svm[C={1 + i % 2}-gamma={gamma}-seed{i % (N // 2)}]",
                             "sweep_id": "s_old" if i < N // 2 else "s_new"}},
            start=i,
        )
    path = tmp / "report.html"
    write_report(store.reader, path, title="browser test")
    return path


def _rows(driver: Any) -> list[list[str]]:
    """The cells' rendered text, read in one round trip (a WebDriver call per cell took ~15 s)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#runs tbody tr'),"
        " tr => Array.from(tr.cells, td => td.innerText.trim()))")


def _column(driver: Any, name: str) -> int:
    heads = driver.execute_script(
        "return Array.from(document.querySelectorAll('#runs thead th'), th => th.dataset.col)")
    return heads.index(name)


@pytest.fixture
def page(driver: Any, report: Path) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(report.as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-ready')") == "1")
    return driver


def test_opens_without_errors_or_requests(page: Any, report: Path) -> None:
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    assert page.execute_script("return performance.getEntriesByType('resource').length") == 0
    import json

    urls = set()
    for entry in page.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    assert {u for u in urls if not u.startswith(("file://", "data:"))} == set()
    assert page.find_element("id", "count").text == f"{N} of {N} runs — page 1 of 3"
    assert len(_rows(page)) == 100


def test_table_sorts_filters_pages_and_chooses_columns(page: Any) -> None:
    from selenium.webdriver.common.by import By

    result = _column(page, "result")
    header = page.find_elements(By.CSS_SELECTOR, "#runs thead th")[result]
    header.click()
    assert _rows(page)[0][result] == "0.5"
    page.find_elements(By.CSS_SELECTOR, "#runs thead th")[result].click()
    assert _rows(page)[0][result] == str(round(0.5 + (N - 1) / 1000, 4))
    box = page.find_element(By.ID, "filter")
    box.send_keys("gamma=1.5")
    assert page.find_element(By.ID, "count").text == f"{N // 3} of {N} runs"
    case = _column(page, "case")
    assert all("gamma=1.5" in row[case] for row in _rows(page))
    box.clear()
    box.send_keys("x")  # clear() sends no input event in every driver: type, then erase
    box.send_keys("\b")
    page.find_element(By.ID, "next").click()
    assert page.find_element(By.ID, "count").text.endswith("page 2 of 3")
    page.find_element(By.CSS_SELECTOR, "#chooser summary").click()
    page.find_element(By.CSS_SELECTOR, "#columns input[value='config.gamma']").click()
    with pytest.raises(ValueError):
        _column(page, "config.gamma")
    assert _column(page, "result") >= 0


def test_a_run_shows_its_curves_and_the_page_is_not_blank(page: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    page.find_element(By.CSS_SELECTOR, "#runs tbody tr").click()
    panel = page.find_element(By.ID, "run")
    assert panel.is_displayed()
    points = panel.find_element(By.CSS_SELECTOR, "polyline").get_attribute("points")
    stride = math.ceil(60 / MAX_POINTS)  # of 60 points: every stride-th and the last
    assert len(points.split()) == len(range(0, 60, stride)) + (59 % stride != 0)
    assert page.find_elements(By.CSS_SELECTOR, "#groups tbody tr")  # the group-by view
    assert page.find_elements(By.CSS_SELECTOR, "#comparison tbody tr")  # against the previous sweep
    shot = tmp_path / "report.png"
    page.execute_script("window.scrollTo(0, 0)")
    assert page.save_screenshot(str(shot))
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size[0] >= 1000
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # text, table lines, coloured statuses: not blank
    grey = image.convert("L").resize((320, 250)).histogram()
    assert sum(grey[:200]) > 800  # of 80,000 pixels: a page of text, not an empty white one
