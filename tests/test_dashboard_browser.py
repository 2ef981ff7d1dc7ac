"""The dashboard in a real browser: Debian's Chromium driven by Selenium over the live server.

Log in by the link the bot sends, see every panel drawn with the demo city's numbers (the same
numbers models.figures and models.digest give), drill down, export, get 403 elsewhere, and
watch the wall display refresh itself. Screenshots go to SIDAN_SCREENSHOTS (default: the
test's tmp dir); `SIDAN_SCREENSHOTS=docs` refreshes the one committed in docs/.
"""

import csv
import io
import os
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from openpyxl import load_workbook
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from models import digest, figures, figures_people, lifecycle, links
from models.clock import from_local
from models.demo_history import seed_history
from models.org import OrgUnit
from models.tickets import Ticket

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--window-size=1400,3300"]  # fmt: skip
LINK = re.compile(r"https?://\S+(/dashboard/login\?t=[\w.\-]+)")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    """Headless Chromium from Debian; never a downloaded browser or driver."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(autouse=True)
def _fresh(config, browser):
    config.SECRET_KEY = "browser-test-secret"
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    yield
    links.configure(None)


@pytest.fixture
def city(demo):
    seed_history(per_day=1)
    return OrgUnit.get(OrgUnit.level == "city")


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("SIDAN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_link(browser, chat, live_server, openid: str) -> str:
    """Send 大屏 in chat and open the link it answers with; returns the path of the link."""
    path = LINK.search(chat(openid).say("大屏")).group(1)
    browser.get(live_server + path)
    return path


def wait_for(browser, css: str, timeout: float = 20):
    return WebDriverWait(browser, timeout).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, css) or None
    )[0]


def text(browser, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text.strip()


def pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def status_of(browser, url: str) -> int:
    return browser.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => done(r.status));", url
    )


def chart_option(browser, element_id: str):
    return browser.execute_script(
        "const c = echarts.getInstanceByDom(document.getElementById(arguments[0]));"
        "return c ? c.getOption() : null;",
        element_id,
    )


def test_supervisor_logs_in_by_link_and_every_panel_shows_the_citys_numbers(
    browser, chat, live_server, city, shots
):
    open_link(browser, chat, live_server, "demo_supervisor_city")
    wait_for(browser, "#chart-daily canvas")
    assert urlparse(browser.current_url).path == f"/dashboard/u/{city.id}/"
    assert text(browser, "#unit-name") == "清河市"

    rates = figures.rates(city)
    for period, row in rates.items():
        cells = browser.find_elements(By.CSS_SELECTOR, f'tr[data-period="{period}"] .rate')
        shown = [c.text for c in cells]
        current = row["current"]
        assert shown == [pct(current["response_rate"]), pct(current["resolve_rate"]),
                         pct(current["satisfaction_rate"])]  # fmt: skip
    # One source of figures: the 30-day row is the digest's count over the same period.
    w = figures.window("30d")
    same = digest.figures(city, w.start, w.end)
    row30 = browser.find_element(By.CSS_SELECTOR, 'tr[data-period="30d"]').text
    assert f"{same.done_in_time}/{same.due}" in row30
    assert f"{same.satisfied}/{same.ratings}" in row30
    assert f"{same.responded_in_time}/{same.respond_due}" in row30

    status = figures.status(city)
    assert status["open"] > 0 and status["overdue"] > 0
    for metric in ("open", "overdue", "step_overdue", "overall_overdue", "city_overdue",
                   "reopened"):  # fmt: skip
        shown = text(browser, f'#panel-status a[data-metric="{metric}"]')
        assert shown == str(status[metric]), metric
    assert text(browser, "#oldest") == f"#{status['oldest']['id']}"

    daily = chart_option(browser, "chart-daily")
    expected = {s["name"]: sum(s["data"]) for s in figures.daily_by_category(city)["series"]}
    assert {s["name"]: sum(s["data"]) for s in daily["series"]} == expected
    first_day = from_local(datetime.fromisoformat(figures.daily_by_category(city)["days"][0]))
    assert sum(expected.values()) == Ticket.select().where(Ticket.created_at >= first_day).count()

    spots = chart_option(browser, "chart-map")["series"][0]["data"]
    by_name = {s["name"]: s["value"][2] for s in spots}
    assert by_name == {h["name"]: h["tickets"] for h in figures.hotspots(city)}

    ranking = figures.ranking(city)
    names = [
        r.text.split()[1] for r in browser.find_elements(By.CSS_SELECTOR, "#panel-ranking tbody tr")
    ]
    assert names == [r["name"] for r in ranking] and len(names) == 2
    assert chart_option(browser, "chart-ranking")["series"][0]["data"] == [
        None if r["response_rate"] is None else round(r["response_rate"] * 100, 1) for r in ranking
    ]

    cards = figures_people.scorecards(city)
    first = browser.find_element(By.CSS_SELECTOR, "#panel-scorecards tbody tr").text.split()
    assert first[0] == cards[0]["name"] and first[2:4] == [str(cards[0]["taken"]),
                                                           str(cards[0]["resolved"])]  # fmt: skip
    volunteers = figures_people.volunteer_points(city)
    assert chart_option(browser, "chart-volunteers")["series"][0]["data"] == [
        v["points"] for v in reversed(volunteers)
    ]
    companies = {c["name"]: c["band"] for c in figures_people.property_companies(city)}
    for row in browser.find_elements(By.CSS_SELECTOR, "#panel-property tbody tr"):
        name, *_, band = row.text.split()
        assert companies[name] == band
    theme = figures.monthly_theme(city)[0]
    assert text(browser, "#theme-title") == f"{theme['compound_name']} · {theme['category_name']}"
    browser.save_screenshot(str(shots / "dashboard.png"))


def test_a_number_drills_down_to_its_tickets_and_the_list_exports(
    browser, chat, live_server, city, downloads, shots
):
    open_link(browser, chat, live_server, "demo_supervisor_city")
    overdue = figures.status(city)["overdue"]
    wait_for(browser, '#panel-status a[data-metric="overdue"]').click()
    wait_for(browser, "#ticket-list")
    assert text(browser, "#list-total") == str(overdue)
    rows = browser.find_elements(By.CSS_SELECTOR, "#ticket-list tbody tr")
    assert len(rows) == overdue
    page = browser.page_source
    for ticket in Ticket.select().where(Ticket.channel == "demo").limit(20):
        assert ticket.reporter.phone not in page and ticket.reporter.name not in page
    browser.save_screenshot(str(shots / "drill-down.png"))

    for link_id, suffix in (("export-csv", ".csv"), ("export-xlsx", ".xlsx")):
        browser.find_element(By.ID, link_id).click()
        path = wait_file(downloads, suffix)
        if suffix == ".csv":
            table = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
            assert table[0][0] == "工单号" and len(table) == overdue + 1
        else:
            assert load_workbook(path).active.max_row == overdue + 1


def wait_file(folder: Path, suffix: str, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done:
            path = done[0]
            target = folder.parent / f"{folder.name}-{path.name}"
            shutil.move(path, target)  # leave the folder empty for the next download
            return target
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} file downloaded into {folder}")


def test_another_subtree_is_forbidden_and_the_link_cannot_be_replayed(
    browser, chat, live_server, demo
):
    path = open_link(browser, chat, live_server, "demo_supervisor_1")
    mine = OrgUnit.get(OrgUnit.name == "幸福社区")
    wait_for(browser, "#unit-name")
    assert text(browser, "#unit-name") == "幸福社区"
    other = OrgUnit.get(OrgUnit.name == "和平社区")
    url = f"{live_server}/dashboard/u/{other.id}/"
    assert status_of(browser, url) == 403
    browser.get(url)
    assert "没有权限" in browser.find_element(By.TAG_NAME, "body").text
    assert status_of(browser, f"{live_server}/dashboard/u/{mine.id}/") == 200
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.get(live_server + path)
    assert "已经用过" in browser.find_element(By.TAG_NAME, "body").text


def test_the_wall_display_refreshes_by_itself(browser, chat, live_server, city, demo):
    open_link(browser, chat, live_server, "demo_supervisor_city")
    browser.get(f"{live_server}/dashboard/u/{city.id}/?wall=1&refresh=5")
    wait_for(browser, "body.wall #chart-daily canvas")
    before = int(text(browser, '#panel-status a[data-metric="open"]'))
    lifecycle.submit(demo.resident_1, "3号楼楼道灯坏了", "power_lighting")
    WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "refresh-count").text not in ("", "0")
    )
    wait_for(browser, "#chart-daily canvas")
    assert int(text(browser, '#panel-status a[data-metric="open"]')) == before + 1
