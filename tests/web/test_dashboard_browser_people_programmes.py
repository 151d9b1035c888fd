"""The people and programmes pages in real headless Chromium: the charts are drawn (SVG marks carrying the
numbers of the tables), a click on a mark drills down to the works or rows behind it, the empty states;
screenshots saved under ci-artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.browser import Page, start_chromium
from tests.web.dash_common import ARAMCO, ARTIFACTS, KFUPM, VENDOR
from tests.web.factories import PASSWORD, World
from tests.web.test_dashboard_programmes import CNRS, ICL, make_programme

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if not (VENDOR / "vega-embed.min.js").is_file():
        reason = f"the chart libraries are not installed in {VENDOR}: run scripts/report_deps.sh (npm ci)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    d = start_chromium()
    yield d
    d.quit()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.driver.set_window_size(1280, page.driver.execute_script("return document.body.scrollHeight") + 100)
    assert page.driver.save_screenshot(str(ARTIFACTS / name))


def _drawn(page: Page) -> None:
    WebDriverWait(page.driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.chartsDrawn === 'true'")
    )


def _datum(page: Page, el: Any, key: str) -> Any:
    return page.driver.execute_script(f"return arguments[0].__data__.datum.{key}", el)


def _height(page: Page, el: Any) -> float:
    return float(page.driver.execute_script("return arguments[0].getBBox().height", el))


def test_people_charts_are_drawn_and_marks_drill_down(driver: Any, live_server: Any, store: Path) -> None:
    User.objects.create_user("director", password=PASSWORD)
    page = Page(driver, live_server.url)
    page.sign_in("director", PASSWORD)
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/people/?from=2012")
    _drawn(page)
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#pairs-year-table tr.pairs-year")
    table = {
        int(r.get_attribute("data-year")): (
            int(r.get_attribute("data-new")),
            int(r.get_attribute("data-repeat")),
        )
        for r in rows
    }
    # two stacked segments per year (new, repeat), each carrying its year's number
    segs = page.driver.find_elements(By.CSS_SELECTOR, "#chart-pairs svg g.mark-rect.role-mark path")
    assert len(segs) == 2 * len(table) >= 10
    drawn = {
        (int(_datum(page, s, "year")), _datum(page, s, "kind")): int(_datum(page, s, "pairs")) for s in segs
    }
    assert drawn == {(y, k): v[0 if k == "new" else 1] for y, v in table.items() for k in ("new", "repeat")}
    assert len({s.get_attribute("fill") for s in segs}) == 2, "new and repeat pairs in their own colours"
    tallest = max(segs, key=lambda s: _height(page, s))
    assert _height(page, tallest) > 50
    # the units chart: one bar per unit row of the table
    units = page.driver.find_elements(By.CSS_SELECTOR, "#units-table tr.unit-row")
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-units svg g.mark-rect.role-mark path")
    assert len(bars) == len(units) > 2
    _shot(page, "dashboard-people.png")
    # a click on the year with the most new pairs lists the works those new pairs wrote that year
    year = max(table, key=lambda y: table[y][0])
    target = next(
        s for s in segs if int(_datum(page, s, "year")) == year and _datum(page, s, "kind") == "new"
    )
    ActionChains(page.driver).move_to_element(target).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/works/" in d.current_url)
    assert f"year={year}" in page.driver.current_url and "pairs=new" in page.driver.current_url
    works = page.driver.find_elements(By.CSS_SELECTOR, "#works-table tr.work")
    assert 0 < len(works) <= table[year][0]
    assert page.driver.find_elements(By.CSS_SELECTOR, '#works-table a.doi[href^="https://doi.org/"]')
    _shot(page, "dashboard-people-works.png")
    # a unit's bar lists its joint works, as many as its row says
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/people/?from=2012")
    _drawn(page)
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-units svg g.mark-rect.role-mark path")
    top = max(bars, key=lambda b: int(_datum(page, b, "joint_works")))
    unit, joint = _datum(page, top, "unit_id"), int(_datum(page, top, "joint_works"))
    ActionChains(page.driver).move_to_element(top).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/works/" in d.current_url)
    assert f"unit={unit}" in page.driver.current_url
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#works-table tr.work")) == joint


def test_programme_charts_are_drawn_and_marks_drill_down(
    driver: Any, live_server: Any, world: World, settings: Any
) -> None:
    make_programme(world)
    page = Page(driver, live_server.url)
    page.sign_in("director", PASSWORD)
    page.go(f"/dashboard/{CNRS}/{ICL}/programmes/")
    _drawn(page)
    calls = page.driver.find_elements(By.CSS_SELECTOR, "#calls-table tr.call-row")
    apps = {int(r.get_attribute("data-call")): int(r.get_attribute("data-applications")) for r in calls}
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-calls svg g.mark-rect.role-mark path")
    assert {int(_datum(page, b, "call_id")): int(_datum(page, b, "applications")) for b in bars} == apps
    money_rows = page.driver.find_elements(By.CSS_SELECTOR, "#money-table tr.money-row")
    money = {
        (int(r.get_attribute("data-partner")), kind): float(r.get_attribute(f"data-{attr}-eur"))
        for r in money_rows
        for kind, attr in (("commitment", "committed"), ("payment", "paid"))
    }
    money_bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-money svg g.mark-rect.role-mark path")
    assert {
        (int(_datum(page, b, "partner_id")), _datum(page, b, "kind")): float(_datum(page, b, "eur"))
        for b in money_bars
    } == money
    widths = {
        (int(_datum(page, b, "partner_id")), _datum(page, b, "kind")): float(
            page.driver.execute_script("return arguments[0].getBBox().width", b)
        )
        for b in money_bars
    }
    biggest = max(money, key=lambda k: money[k])
    assert widths[biggest] == max(widths.values()) > 100
    assert page.driver.find_elements(By.CSS_SELECTOR, "#chart-exchanges svg g.mark-rect.role-mark path")
    _shot(page, "dashboard-programmes.png")
    # a click on the paid bar of the partner who paid most lists its payments
    payer = max((k for k in money if k[1] == "payment"), key=lambda k: money[k])
    target = next(
        b for b in money_bars if (int(_datum(page, b, "partner_id")), _datum(page, b, "kind")) == payer
    )
    ActionChains(page.driver).move_to_element(target).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/programmes/rows/" in d.current_url)
    assert f"partner={payer[0]}" in page.driver.current_url and "kind=payment" in page.driver.current_url
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#rows-table tr.programme-row")) == 2
    _shot(page, "dashboard-programme-rows.png")
    # a click on a call's bar lists its applications
    page.go(f"/dashboard/{CNRS}/{ICL}/programmes/")
    _drawn(page)
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-calls svg g.mark-rect.role-mark path")
    top = max(bars, key=lambda b: int(_datum(page, b, "applications")))
    call = int(_datum(page, top, "call_id"))
    ActionChains(page.driver).move_to_element(top).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/programmes/rows/" in d.current_url)
    assert f"call={call}" in page.driver.current_url
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#rows-table tr.programme-row")) == apps[call] == 3
    # the empty state: a partnership the programmes do not know
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/programmes/")
    empty = page.el("#empty-state")
    assert empty.is_displayed() and "No programme data yet" in empty.text
    page.driver.implicitly_wait(0)
    try:
        assert not page.driver.find_elements(By.CSS_SELECTOR, "svg")
    finally:
        page.driver.implicitly_wait(15)
    _shot(page, "dashboard-programmes-empty.png")
