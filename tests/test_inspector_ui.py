"""The inspector's page in headless Chromium (Debian's `chromium` and `chromedriver`, driven by
Selenium; no browser download): a run recorded by a real server with an API key, then the login,
the charts' points, the items filter, a group, an item with hostile text, and a screenshot.

`REFEREE_UI_SCREENSHOT=docs/inspector.png` also saves the screenshot there (the docs')."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.inspector.store import ItemFilter, Store, sqlite_url
from tests.helpers import skip_loudly
from tests.server_utils import server_process, wait_for

KEY = "ui-test-key"
HOSTILE = (
    '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    '<a href="javascript:window.__xss=3" id="evil">click</a> **not bold**'
)


STEPS = 8


def record_run(url: str) -> None:
    """A GRPO run: 2 prompts x 4 samples per step; the policy gets better with the steps."""
    auth = {"Authorization": f"Bearer {KEY}"}
    for step in range(STEPS):
        items = []
        for prompt in range(2):
            a, b = 3 + prompt, 4 + step
            for sample in range(4):
                right = sample < 1 + 3 * step // (STEPS - 1)
                guess = a * b if right else a * b + 1
                items.append(
                    {
                        "id": f"{step}-{prompt}-{sample}",
                        "group": f"{step}-{prompt}",
                        "prompt": f"What is {a} times {b}?",
                        "completion": f"<think>{a} x {b}</think>The answer is $\\boxed{{{guess}}}$.",
                        "answer": str(a * b),
                    }
                )
        if step == STEPS - 1:
            items[-1]["completion"] = HOSTILE
            items.append(
                {
                    "id": "agent",
                    "completion": [
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "type": "function",
                                    "function": {"name": "calculator", "arguments": '{"expression": "5*6"}'},
                                }
                            ],
                        },
                        {"role": "tool", "content": "30 <b>bold?</b>"},
                        {"role": "assistant", "content": "The answer is $\\boxed{30}$."},
                    ],
                    "answer": "30",
                }
            )
        body = {"rewards": {"math": 1.0, "format": 0.1}, "items": items, "run": "ui-demo", "step": step}
        response = httpx.post(f"{url}/v1/rewards", json=body, headers=auth, timeout=60)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    database = tmp_path_factory.mktemp("ui") / "ui.sqlite"
    env = {"REFEREE_RECORD": sqlite_url(database), "REFEREE_API_KEY": KEY}
    with server_process(env=env) as (url, _):
        record_run(url)
        store = Store(sqlite_url(database))
        assert wait_for(lambda: sum(run["items"] for run in store.runs()) == 8 * STEPS + 1, 30)
        yield url, store


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        skip_loudly("the inspector's page", "Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1400,1000", "--disable-dev-shm-usage",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def until(driver: object, condition: Callable[[Any], Any], timeout: float = 20) -> Any:
    """WebDriverWait that also retries when the page re-rendered an element between finding and
    reading it (a stale element reference)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)  # type: ignore[arg-type]


def wait(driver: object, css: str, count: int = 1, timeout: float = 20) -> list[object]:
    from selenium.webdriver.common.by import By

    return until(
        driver,
        lambda d: found if len(found := d.find_elements(By.CSS_SELECTOR, css)) >= count else False,
        timeout,
    )


def test_the_page_shows_the_recorded_run(
    recorded: tuple[str, Store], browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    url, store = recorded
    driver = browser
    driver.get(f"{url}/ui")  # type: ignore[attr-defined]
    key = wait(driver, "#key")[0]
    key.send_keys(KEY)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "login-button").click()  # type: ignore[attr-defined]
    cookie = driver.get_cookie("referee_ui")  # type: ignore[attr-defined]
    assert wait(driver, "#runs a.run-link")[0].text == "ui-demo"  # type: ignore[attr-defined]
    cookie = driver.get_cookie("referee_ui")  # type: ignore[attr-defined]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and KEY not in cookie["value"]
    assert driver.execute_script("return document.cookie") == ""  # type: ignore[attr-defined]

    # The dashboard: the charts hold the recorded points.
    driver.find_element(By.CSS_SELECTOR, "#runs a.run-link").click()  # type: ignore[attr-defined]
    wait(driver, "#chart-reward canvas")
    chart = driver.execute_script("return window.referee.charts['chart-reward']")  # type: ignore[attr-defined]
    series = store.series("ui-demo")
    assert chart["steps"] == series["steps"] == list(range(STEPS))
    assert chart["series"]["reward"] == pytest.approx(series["reward"])
    assert chart["series"]["math"] == pytest.approx(series["components"]["math"])
    assert series["components"]["math"][0] < series["components"]["math"][-1]  # it learned

    # The items table, filtered to the right answers.
    wait(driver, ".items-table tr.item-row")
    driver.find_element(By.CSS_SELECTOR, "#f-component option[value='math']").click()  # type: ignore[attr-defined]
    driver.find_element(By.ID, "f-min").send_keys("1")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "apply").click()  # type: ignore[attr-defined]
    right = store.items(ItemFilter(run="ui-demo", component="math", score_min=1))["total"]
    until(driver, lambda d: d.find_element(By.ID, "items-total").text == f"{right} items")
    rows = until(
        driver,
        lambda d: (
            found if len(found := d.find_elements(By.CSS_SELECTOR, "#items tr.item-row")) == right else False
        ),
    )

    # A group side by side, sorted by reward, with its advantages.
    rows[0].find_element(By.CSS_SELECTOR, "a.group-link").click()
    members = wait(driver, "#group .member", 4)
    advantages = [float(m.find_element(By.CSS_SELECTOR, ".advantage").text) for m in members]  # type: ignore[attr-defined]
    assert advantages == sorted(advantages, reverse=True) and abs(sum(advantages)) < 1e-2

    # The item with hostile text: shown as text, nothing of it runs.
    hostile = store.items(ItemFilter(run="ui-demo", text="<script>"))["items"][0]
    driver.get(f"{url}/ui#/item/{hostile['pk']}")  # type: ignore[attr-defined]
    completion = wait(driver, "#completion pre")[0]
    assert "<script>window.__xss = 1</script>" in completion.text  # type: ignore[attr-defined]
    assert driver.find_elements(By.CSS_SELECTOR, "#completion script, #completion img, #evil") == []  # type: ignore[attr-defined]
    assert driver.execute_script("return window.__xss === undefined")  # type: ignore[attr-defined]

    # A trajectory: turns, the tool call, the tool's answer as text.
    agent = store.items(ItemFilter(run="ui-demo", text="calculator"))["items"][0]
    driver.get(f"{url}/ui#/item/{agent['pk']}")  # type: ignore[attr-defined]
    turns = wait(driver, "#completion .turn", 3)
    assert "calculator" in turns[0].text and "30 <b>bold?</b>" in turns[1].text  # type: ignore[attr-defined]

    driver.get(f"{url}/ui#/run/ui-demo")  # type: ignore[attr-defined]
    wait(driver, "#chart-reward canvas")
    wait(driver, ".items-table tr.item-row")
    shot = tmp_path / "inspector.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000  # type: ignore[attr-defined]
    if os.environ.get("REFEREE_UI_SCREENSHOT"):
        shutil.copy(shot, os.environ["REFEREE_UI_SCREENSHOT"])
