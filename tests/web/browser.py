"""Headless Chromium for the end-to-end journeys: Debian's chromium and chromium-driver, never a download."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = Path(os.environ.get("CORDIALE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(
    os.environ.get("CORDIALE_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1024",
    "--lang=en-GB",
)


def start_chromium() -> webdriver.Chrome:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        reason = f"headless Chromium not found ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium-driver"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(15)
    return driver


def _replaced(old: WebElement) -> bool:
    """Whether the page holding ``old`` was replaced. While the next page loads, chromedriver may answer
    "Node with given id does not belong to the document" instead of a stale-element error: both mean gone."""
    try:
        old.is_enabled()
    except WebDriverException:  # StaleElementReferenceException included
        return True
    return False


class Page:
    """A few verbs over the driver, in the words of the journeys."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def el(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click(self, css: str) -> None:
        """Click a link or a submit button and wait for the next page to replace this one."""
        old = self.el("html")
        self.el(css).click()
        WebDriverWait(self.driver, 60).until(lambda _driver: _replaced(old))

    def wait_for_text(self, css: str, text: str) -> None:
        WebDriverWait(self.driver, 60).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )

    def fill(self, name: str, value: str) -> None:
        field = self.el(f'[name="{name}"]')
        if field.get_attribute("type") == "date":
            self.driver.execute_script("arguments[0].value = arguments[1];", field, value)
        elif field.tag_name == "select":
            Select(field).select_by_visible_text(value)
        elif field.get_attribute("type") == "checkbox":
            if field.is_selected() != (value == "on"):
                field.click()
        else:
            field.clear()
            field.send_keys(value)

    def text(self) -> str:
        return self.el("body").text

    def sign_in(self, username: str, password: str) -> None:
        self.driver.delete_all_cookies()
        self.go("/accounts/login/")
        self.fill("username", username)
        self.fill("password", password)
        self.click("#sign-in")

    def fetch(self, path: str) -> str:
        """GET ``path`` from the page with the browser's session (for downloads)."""
        script = (
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(done);"
        )
        return str(self.driver.execute_async_script(script, self.base + path))
