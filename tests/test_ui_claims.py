"""What the web UI claims, asserted exactly in a real browser against a real ``ponder serve``
with ``PONDER_API_KEY`` set (the ``ui-fake`` upstream, whose fast mode gets multiplications
wrong on purpose): the key prompt, the race verdict of a right and a wrong lane, the history's
model filter, and the meters' hover definitions (DESIGN.md's metric definitions)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from tests.test_ui_browser import (
    FAKE_CONFIG,
    STREAM_TIMEOUT_MS,
    Session,
    browser,
    ponder_serve,
    wait_state,
)

__all__ = ["browser"]  # the fixture, shared with the other browser tests

KEY = "ui-key-5d21c8"
# A third model on the fake upstream, reached only through the API: the history's model filter
# must tell it apart from fast and deep.
CONFIG = FAKE_CONFIG + '\n[models.hare]\nprovider = "ui-fake"\nthinking = { enabled = false }\n'
RACE_PROMPT = "What is 347 × 28?"
EXPECTED = "9716"

# The meters' hover text: DESIGN.md's definitions word for word, and the cost meter's.
DEFINITIONS = {
    "ttft": "Request sent → first token of any kind (thought or answer)",
    "ttfa": "Request sent → first answer token: what you actually wait for",
    "thinking": "TTFA − TTFT when the model thought, else 0",
    "tokens": "Thought tokens / answer tokens (reported by the provider, or estimated)",
    "decode": "(output tokens − 1) / (E2E − TTFT), all output tokens",
    "effective": "Answer tokens / E2E: the speed a reader experiences",
    "cost": "What the request cost at the model's price (input + thinking + answer, USD per"
    " million tokens); — when the model has no price",
}


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ponder_serve(
        tmp_path_factory.mktemp("keyed"), CONFIG, {"PONDER_API_KEY": KEY}
    ) as base:
        yield base


@pytest.fixture
def unkeyed(browser: Browser, keyed_server: str) -> Iterator[Session]:
    """A fresh tab that has not been given the key."""
    s = Session(browser, keyed_server)
    yield s
    s.close()


@pytest.fixture
def keyed(unkeyed: Session) -> Session:
    """A tab that entered the key in the prompt the page showed."""
    bar = unkeyed.page.locator("#auth-bar")
    bar.wait_for(state="visible")
    bar.locator("input[name=key]").fill(KEY)
    bar.locator("button[type=submit]").click()
    bar.wait_for(state="hidden")
    # The browser logs the 401 that brought the prompt up; only errors after the key count.
    assert unkeyed.errors and all("401" in e for e in unkeyed.errors), unkeyed.errors
    unkeyed.errors.clear()
    return unkeyed


def test_the_page_asks_for_the_key_and_then_uses_it(unkeyed: Session, keyed_server: str) -> None:
    # The premise: without the key, or with a wrong one, the API refuses.
    assert httpx.get(keyed_server + "/api/config", timeout=10).status_code == 401
    wrong = {"authorization": "Bearer not-the-key"}
    assert httpx.get(keyed_server + "/api/config", headers=wrong, timeout=10).status_code == 401
    page = unkeyed.page
    bar = page.locator("#auth-bar")
    bar.wait_for(state="visible")  # the page's first API call got a 401
    assert "This gateway needs its API key (PONDER_API_KEY)" in bar.inner_text()
    assert bar.locator("input[name=key]").evaluate("el => el === document.activeElement")
    bar.locator("input[name=key]").fill(KEY)
    bar.locator("button[type=submit]").click()
    assert bar.is_hidden()
    message = unkeyed.ask("What is 52+77?", "fast")
    assert wait_state(message, "done", "failed") == "done", message.inner_text()
    assert message.locator(".answer").inner_text().strip() == "129"
    assert bar.is_hidden()
    # A new tab lists the saved conversations once it has the key.
    other = Session(unkeyed.browser, keyed_server)
    try:
        other.page.locator("#auth-bar").wait_for(state="visible")
        other.page.fill("#auth-bar input[name=key]", KEY)
        other.page.click("#auth-bar button[type=submit]")
        title = other.page.locator("#conversation-list .conv-title").first
        title.wait_for()
        assert title.inner_text() == "What is 52+77?"
    finally:
        other.close()


def test_race_verdicts_are_exact_for_a_wrong_and_a_right_lane(keyed: Session) -> None:
    page = keyed.page
    page.click("#tab-race")
    page.fill("#race-prompt", RACE_PROMPT)
    page.click("#race-start")
    page.locator("#race-start").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
    fast, deep = page.locator("#lane-fast"), page.locator("#lane-deep")
    assert fast.locator(".answer").inner_text().strip() == "9726"  # the hare guessed
    assert fast.locator(".verdict").inner_text() == f"✗ Wrong — expected {EXPECTED}"
    assert fast.locator(".verdict").get_attribute("data-ok") == "false"
    assert deep.locator(".answer").inner_text().strip() == EXPECTED
    assert deep.locator(".verdict").inner_text() == "✓ Correct"
    assert deep.locator(".verdict").get_attribute("data-ok") == "true"
    marks = {
        lane: page.locator(f'#race-timeline .tl-row[data-lane="{lane}"] .end-mark').inner_text()
        for lane in ("fast", "deep")
    }
    assert marks == {"fast": "✗", "deep": "✓"}
    summary = page.locator("#race-summary")
    assert f"Fast was wrong (expected {EXPECTED}); deep was right: thinking paid off." in (
        summary.inner_text()
    )
    assert "tone-deep" in (summary.get_attribute("class") or "")
    assert not keyed.errors, keyed.errors


def test_history_filters_by_model(keyed: Session, keyed_server: str) -> None:
    auth = {"authorization": f"Bearer {KEY}"}
    for model in ("hare", "fast", "hare"):
        body = {"model": model, "messages": [{"role": "user", "content": "What is 2+2?"}]}
        response = httpx.post(
            keyed_server + "/v1/chat/completions", json=body, headers=auth, timeout=30
        )
        assert response.status_code == 200, response.text
    page = keyed.page
    page.click("#tab-history")
    rows = page.locator("#history-table tbody tr.trace-row")
    rows.first.wait_for()
    select = page.locator("#history-filters select[name=model]")
    select.locator('option[value="hare"]').wait_for(state="attached")

    def models_shown() -> list[str]:
        shown: list[str] = rows.evaluate_all("rs => rs.map(r => r.children[1].textContent)")
        return shown

    assert {"hare", "fast"} <= set(models_shown())
    select.select_option("hare")
    page.wait_for_timeout(600)
    assert models_shown() and set(models_shown()) == {"hare"}
    select.select_option("fast")
    page.wait_for_timeout(600)
    assert models_shown() and set(models_shown()) == {"fast"}
    assert not keyed.errors, keyed.errors


def test_meters_explain_themselves_on_hover(keyed: Session) -> None:
    message = keyed.ask("What is 52+77?", "deep")
    assert wait_state(message, "done") == "done"
    titles = {
        key: message.locator(f'.meter[data-meter="{key}"] .meter-name').get_attribute("title")
        for key in DEFINITIONS
    }
    assert titles == DEFINITIONS
    assert message.locator(".meter").count() == len(DEFINITIONS)
    assert not keyed.errors, keyed.errors
