"""The overview in real headless Chromium: the charts are drawn (SVG marks, one bar per year with the
numbers of the table), a click on a bar drills down to its works, the empty state; screenshots saved under
ci-artifacts/ for CI to keep."""

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
from tests.web.dash_common import ARAMCO, ARTIFACTS, KFUPM, VENDOR, lonely_partner

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-test-password-42"


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


@pytest.fixture()
def page(driver: Any, live_server: Any, transactional_db: None) -> Page:
    User.objects.create_user("director", password=PASSWORD)
    p = Page(driver, live_server.url)
    p.sign_in("director", PASSWORD)
    return p


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.driver.set_window_size(1280, page.driver.execute_script("return document.body.scrollHeight") + 100)
    assert page.driver.save_screenshot(str(ARTIFACTS / name))


def test_overview_draws_its_charts_and_drills_down(page: Page, store: Path) -> None:
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/?from=2012&event=2019")
    WebDriverWait(page.driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.chartsDrawn === 'true'")
    )
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#joint-table tr.year-row")
    table = {int(r.get_attribute("data-year")): float(r.get_attribute("data-value")) for r in rows}
    # the bars vega drew, as SVG rects with their data: one per year, heights ordered like the numbers
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-joint svg g.mark-rect.role-mark path")
    assert len(bars) == len(table) >= 10
    heights = [float(page.driver.execute_script("return arguments[0].getBBox().height", b)) for b in bars]
    drawn = page.driver.execute_script(
        "return window.cordialeViews.joint.data('joint').map(d => [d.year, d.value, d.status])"
    )
    assert {int(y): float(v) for y, v, _ in drawn} == table
    by_year = dict(zip([int(y) for y, _, _ in drawn], heights, strict=True))
    top = max(table, key=lambda y: table[y])
    low = min(table, key=lambda y: table[y])
    assert by_year[top] > by_year[low] >= 0 and by_year[top] > 100
    fills = {b.get_attribute("fill") for b in bars}
    assert len(fills) == 2, "partial years are drawn in their own colour"
    # the event marker and the other charts are drawn too
    assert page.driver.find_elements(By.CSS_SELECTOR, "#chart-joint svg g.mark-rule line")
    # one line per partner, split where the partial years start (dashed)
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#chart-shares svg g.mark-line path")) == 4
    assert page.driver.find_elements(By.CSS_SELECTOR, "#chart-growth svg g.mark-symbol.role-mark path")
    _shot(page, "dashboard-overview.png")

    # a click on the 2020 bar lists the works behind it
    index = [int(y) for y, _, _ in drawn].index(2020)
    old = page.el("html")
    ActionChains(page.driver).move_to_element(bars[index]).click().perform()
    WebDriverWait(page.driver, 60).until(
        lambda d: "/works/" in d.current_url and old != d.find_element(By.CSS_SELECTOR, "html")
    )
    page.wait_for_text("h1", "2020")
    assert "year=2020" in page.driver.current_url and "from=2012" in page.driver.current_url
    works = page.driver.find_elements(By.CSS_SELECTOR, "#works-table tr.work")
    assert len(works) == table[2020] > 0
    assert page.driver.find_elements(By.CSS_SELECTOR, '#works-table a.doi[href^="https://doi.org/"]')
    _shot(page, "dashboard-works-2020.png")


def test_empty_partnership_shows_a_helpful_state(page: Page, store: Path) -> None:
    lonely = lonely_partner(store)
    page.go(f"/dashboard/{ARAMCO}/{lonely}/?rule=direct")
    empty = page.el("#empty-state")
    assert empty.is_displayed() and "No joint works yet" in empty.text and "--fetch" in empty.text
    page.driver.implicitly_wait(0)  # an absence is checked at once, not after the implicit wait
    try:
        assert not page.driver.find_elements(By.CSS_SELECTOR, "svg")
    finally:
        page.driver.implicitly_wait(15)
    _shot(page, "dashboard-empty.png")


def test_strengths_chart_is_drawn_and_a_dot_drills_down(page: Page, store: Path) -> None:
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/fields/?level=field")
    WebDriverWait(page.driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.chartsDrawn === 'true'")
    )
    data = page.driver.execute_script(
        "return window.cordialeViews.strengths.data('strengths').map(d => d.class_id)"
    )
    dots = page.driver.find_elements(By.CSS_SELECTOR, "#chart-strengths svg g.mark-symbol.role-mark path")
    assert len(dots) == len(data) > 10
    _shot(page, "dashboard-strengths.png")
    target = next(
        i
        for i, d in enumerate(dots)
        if page.driver.execute_script("return arguments[0].__data__.datum.class_id", d)
    )
    ActionChains(page.driver).move_to_element(dots[target]).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/works/" in d.current_url)
    assert "level=field" in page.driver.current_url and "class=" in page.driver.current_url
    assert page.el("#works-count").is_displayed()


def test_open_access_chart_is_drawn_and_a_segment_drills_down(page: Page, store: Path) -> None:
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/open-access/?from=2018")
    WebDriverWait(page.driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.chartsDrawn === 'true'")
    )
    data = page.driver.execute_script("return window.cordialeViews.oa.data('oa').length")
    segments = page.driver.find_elements(By.CSS_SELECTOR, "#chart-oa svg g.mark-rect.role-mark path")
    assert len(segments) == data > 5
    _shot(page, "dashboard-open-access.png")
    tallest = max(
        segments, key=lambda s: page.driver.execute_script("return arguments[0].getBBox().height", s)
    )
    ActionChains(page.driver).move_to_element(tallest).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/works/" in d.current_url)
    assert "oa=" in page.driver.current_url and page.driver.find_elements(
        By.CSS_SELECTOR, "#works-table tr.work"
    )


def test_sdg_bars_are_drawn_and_a_bar_drills_down(page: Page, store: Path) -> None:
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/sdg/?from=2012")
    WebDriverWait(page.driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.chartsDrawn === 'true'")
    )
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#sdg-table tr.sdg-goal")
    table = {int(r.get_attribute("data-sdg")): int(r.get_attribute("data-works")) for r in rows}
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-sdg svg g.mark-rect.role-mark path")
    assert len(bars) == len(table) == 17
    drawn = page.driver.execute_script(
        "return window.cordialeViews.sdg.data('sdg').map(d => [d.sdg, d.works])"
    )
    assert {int(g): int(n) for g, n in drawn} == table
    widths = {
        int(page.driver.execute_script("return arguments[0].__data__.datum.sdg", b)): float(
            page.driver.execute_script("return arguments[0].getBBox().width", b)
        )
        for b in bars
    }
    top = max(table, key=lambda g: table[g])
    assert widths[top] == max(widths.values()) > 100
    assert all(widths[g] == 0 for g in table if table[g] == 0)
    assert len({b.get_attribute("fill") for b in bars}) == 17, "each goal in its UN colour"
    _shot(page, "dashboard-sdg.png")
    target = next(
        b for b in bars if page.driver.execute_script("return arguments[0].__data__.datum.sdg", b) == top
    )
    ActionChains(page.driver).move_to_element(target).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/works/" in d.current_url)
    assert f"sdg={top}" in page.driver.current_url and "source=openalex" in page.driver.current_url
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#works-table tr.work")) == table[top]


def test_third_party_map_is_drawn_with_africa_and_a_country_drills_down(page: Page, store: Path) -> None:
    page.go(f"/dashboard/{KFUPM}/{ARAMCO}/third-parties/?from=2012")
    WebDriverWait(page.driver, 60).until(
        lambda d: d.execute_script("return document.body.dataset.chartsDrawn === 'true'")
    )
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#country-table tr.country-row")
    table = {r.get_attribute("data-key"): int(r.get_attribute("data-works")) for r in rows}
    # two layers of country shapes: the land (all ~177 countries of the atlas), then the shaded ones
    layers = page.driver.find_elements(By.CSS_SELECTOR, "#chart-map svg g.mark-shape.role-mark")
    assert len(layers) == 2
    land = layers[0].find_elements(By.CSS_SELECTOR, "path")
    shaded = layers[1].find_elements(By.CSS_SELECTOR, "path")
    assert len(land) > 150
    keys = [page.driver.execute_script("return arguments[0].__data__.datum.key", p) for p in shaded]
    assert set(keys) <= set(table) and len(keys) >= len(table) - 5 > 5  # tiny states are not in the atlas
    assert len({p.get_attribute("fill") for p in shaded}) > 3, "countries shaded by their works"
    widths = [float(page.driver.execute_script("return arguments[0].getBBox().width", p)) for p in shaded]
    assert max(widths) > 20
    # continents as bars, Africa among them in its own colour
    bars = page.driver.find_elements(By.CSS_SELECTOR, "#chart-continents svg g.mark-rect.role-mark path")
    names = [page.driver.execute_script("return arguments[0].__data__.datum.continent", b) for b in bars]
    assert "Africa" in names
    africa = bars[names.index("Africa")].get_attribute("fill")
    assert all(b.get_attribute("fill") != africa for i, b in enumerate(bars) if names[i] != "Africa")
    assert page.driver.find_elements(By.CSS_SELECTOR, "#chart-trend svg g.mark-line path")
    _shot(page, "dashboard-third-parties.png")
    # the country with the most works among those whose centre lies on their own shape (not an archipelago)
    centred = (
        "const r = arguments[0].getBoundingClientRect(); "
        "return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === arguments[0]"
    )
    clickable = [i for i, p in enumerate(shaded) if page.driver.execute_script(centred, p)]
    top = max(clickable, key=lambda i: table[keys[i]])
    ActionChains(page.driver).move_to_element(shaded[top]).click().perform()
    WebDriverWait(page.driver, 60).until(lambda d: "/works/" in d.current_url)
    assert f"country={keys[top]}" in page.driver.current_url
    assert len(page.driver.find_elements(By.CSS_SELECTOR, "#works-table tr.work")) == table[keys[top]]
