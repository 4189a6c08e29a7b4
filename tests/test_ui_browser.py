"""The web UI in a real browser (Debian's Chromium, headless, driven by Playwright) against a
real ``ponder serve`` subprocess on a free loopback port.

Two servers:
- ``model_server``: the default config, so fast and deep are the embedded model (the mode,
  race and screenshot tests run on it);
- ``fake_server``: the ``ui-fake`` upstream (``tests/ui_fake.py``) for what a real model will
  not do on demand: hostile markup in thoughts and answer, and a long steady stream to Stop.

Screenshots (desktop 1280×800 and phone 390×844, light and dark) go to artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.gateway_harness import finished_trace as trace
from tests.ui_fake import HOSTILE_THOUGHTS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STREAM_TIMEOUT_MS = 60_000

FAKE_CONFIG = """
[server]
stall_floor_s = 1  # the stall test waits a second or two, not ten

[models.fast]
provider = "ui-fake"
thinking = { enabled = false }

[models.deep]
provider = "ui-fake"
thinking = { enabled = true }
price = { input = 3.0, output = 15.0 }
"""

# Records, per assistant message, when the page first showed each thing (performance.now()),
# from a MutationObserver: the test judges the order the person saw, not the app's own flags.
OBSERVER = """
(() => {
  const ui = (window.__ui = { msgs: {}, dialogs: 0 });
  let next = 0;
  const sample = () => {
    for (const msg of document.querySelectorAll("article.msg.assistant")) {
      if (!msg.dataset.uiId) msg.dataset.uiId = String(next++);
      const st = ui.msgs[msg.dataset.uiId] || (ui.msgs[msg.dataset.uiId] = { labels: [] });
      const now = performance.now();
      const box = msg.querySelector("details.thinking");
      const answer = msg.querySelector(".answer");
      const answered = Boolean(answer && answer.textContent.trim());
      if (box && !box.hidden) {
        const label = box.querySelector("summary").textContent.trim();
        if (st.thinking === undefined) {
          st.thinking = now;
          st.openAtFirst = box.open;
          st.background = getComputedStyle(box).backgroundColor;
          st.color = getComputedStyle(box).color;
        }
        const fresh = st.labels.at(-1) !== label && st.labels.length < 200;
        if (!answered && fresh) st.labels.push(label);
      }
      if (st.step === undefined && msg.querySelector(".steps li")) st.step = now;
      if (st.answer === undefined && answered) {
        st.answer = now;
        st.openAtAnswer = box && !box.hidden ? box.open : null;
        st.stepsAtAnswer = msg.querySelectorAll(".steps li").length;
      }
    }
  };
  new MutationObserver(sample).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
})();
"""


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def ponder_serve(
    tmp: Path, config: str | None, env_extra: dict[str, str] | None = None
) -> Iterator[str]:
    """A real ``ponder serve`` subprocess (``env_extra`` added to its environment); yields its
    base URL."""
    port = free_port()
    args = ["serve", "--port", str(port), "--db", str(tmp / "traces.sqlite")]
    if config is not None:
        path = tmp / "ponder.toml"
        path.write_text(config)
        args += ["--config", str(path)]
    launcher = (
        "import sys, tests.ui_fake; from ponder.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("PONDER_CONFIG", None)
    env.pop("PONDER_API_KEY", None)
    env.update(env_extra or {})
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, *args], cwd=tmp, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ponder serve exited: {(tmp / 'server.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("ponder serve did not come up in 90 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ponder serve`` with no config file: fast and deep are the embedded model."""
    config = FAKE_CONFIG if os.environ.get("PONDER_UI_TEST_UPSTREAM") == "fake" else None
    with ponder_serve(tmp_path_factory.mktemp("model"), config) as base:
        yield base


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ponder_serve(tmp_path_factory.mktemp("fake"), FAKE_CONFIG) as base:
        yield base


# --- browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure_chromium.sh")], check=True)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Session:
    """A page with the observer installed, dialogs counted, and console errors collected."""

    def __init__(self, browser: Browser, base: str, **context: Any) -> None:
        self.base = base
        self.browser = browser
        self.context = browser.new_context(viewport=DESKTOP, **context)
        self.context.add_init_script(OBSERVER)
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type == "error" else None
        )
        self.page.goto(base + "/")
        self.page.wait_for_selector("#prompt")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()

    def ask(self, prompt: str, mode: str) -> Any:
        """Type a prompt, pick a mode, press Enter; return the new assistant message locator."""
        page = self.page
        replies = page.locator("#chat-log article.msg.assistant")
        before = replies.count()
        page.locator(f'#mode-select input[value="{mode}"]').check(force=True)
        page.fill("#prompt", prompt)
        page.press("#prompt", "Enter")
        message = replies.nth(before)
        message.wait_for()
        return message

    def observed(self, message: Any) -> dict[str, Any]:
        ui_id = message.get_attribute("data-ui-id")
        result: dict[str, Any] = self.page.evaluate("id => window.__ui.msgs[id]", ui_id)
        return result


@pytest.fixture
def session(browser: Browser, model_server: str) -> Iterator[Session]:
    s = Session(browser, model_server)
    yield s
    s.close()


@pytest.fixture
def fake_session(browser: Browser, fake_server: str) -> Iterator[Session]:
    s = Session(browser, fake_server)
    yield s
    s.close()


def wait_state(message: Any, *states: str, timeout_ms: int = STREAM_TIMEOUT_MS) -> str:
    """Poll the message's state until it is one of ``states`` (the page's CSP forbids the
    eval that ``wait_for_function`` needs)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        state: str | None = message.get_attribute("data-state")
        if state in states:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"message stayed {state!r}, wanted {states}")
        time.sleep(0.05)


def fmt_ms(ms: float | None) -> str:
    """util.js's fmtMs, to check that the meters show the server's figures."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{math.floor(ms + 0.5)} ms"
    if ms < 10000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 1000:.1f} s"


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", css)[:3])


def meters(message: Any) -> dict[str, str]:
    return {
        key: message.locator(f'.meter[data-meter="{key}"] dd').inner_text().strip()
        for key in ("ttft", "ttfa", "thinking", "tokens", "decode", "effective", "cost")
    }


# --- the modes, on the embedded model --------------------------------------------------------

DEEP_PROMPT = "What is 4821 × 37?"


def ask_and_trace(
    session: Session, model_server: str, mode: str
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Ask DEEP_PROMPT in ``mode``; the message, the server's trace and what the page showed."""
    message = session.ask(DEEP_PROMPT, mode)
    assert wait_state(message, "done", "failed") == "done", message.inner_text()
    request_id = message.get_attribute("data-request-id")
    assert request_id
    server = trace(model_server, request_id)
    # The route: the badge names the mode the server used.
    assert message.locator(".route .badge").inner_text().strip().lower() == server["mode"]
    return message, server, session.observed(message)


def assert_thoughts_shown(message: Any, server: dict[str, Any], seen: dict[str, Any]) -> None:
    """Gray, collapsed, before the answer; it ticked "Thinking… 1.2 s · 34 tokens" live.

    Never after the answer. The embedded model thinks for ~40 ms, so one network read can
    carry the last thoughts and the first answer token, and the page then shows both in the
    same frame (equal timestamps); the stream order itself is asserted server-side.
    """
    assert seen["thinking"] <= seen["answer"]
    assert seen["openAtFirst"] is False and seen["openAtAnswer"] is False
    r, g, b = rgb(seen["background"])
    assert max(r, g, b) - min(r, g, b) <= 12, seen["background"]  # a neutral gray
    card = message.evaluate("el => getComputedStyle(el).backgroundColor")
    assert rgb(seen["background"]) != rgb(card)  # set apart from the answer
    live = [label for label in seen["labels"] if label.startswith("Thinking…")]
    assert all(re.fullmatch(r"Thinking… \d+\.\d s · [\d,]+ tokens?", x) for x in live)
    # A live label was shown while only thoughts were on the page, unless one read carried
    # the whole thought and the first answer token (then the page rightly never showed one).
    assert live or seen["thinking"] == seen["answer"], seen["labels"]
    # It ticked when the thought lasted long enough to (the embedded model may think 0.1 s).
    assert len(live) >= 2 or server["thinking_ms"] <= 400, live
    summary = message.locator("details.thinking summary").inner_text()
    pattern = r"Thought (for [\d.]+ s|briefly) · [\d,]+ tokens?"
    assert re.fullmatch(pattern, summary.strip()), summary
    assert message.locator("details.thinking").evaluate("el => el.open") is False
    # A progress step arrived before the first answer token.
    assert seen["step"] <= seen["answer"] and seen["stepsAtAnswer"] >= 1
    # Expanding shows the thoughts as text.
    message.locator("details.thinking summary").click()
    assert message.locator(".thoughts").inner_text().strip()
    assert server["thinking_tokens"] > 0
    assert meters(message)["thinking"] == fmt_ms(server["thinking_ms"])


def assert_meters_and_answer(session: Session, message: Any, server: dict[str, Any]) -> None:
    """Meters filled with the server's figures (not the client's), and the answer shown."""
    shown = meters(message)
    assert shown["ttft"] == fmt_ms(server["ttft_ms"])
    assert shown["ttfa"] == fmt_ms(server["ttfa_ms"])
    assert re.fullmatch(r"[\d,]+ / [\d,]+( est\.)?", shown["tokens"]), shown
    thought, answer = (int(x.replace(",", "")) for x in re.findall(r"[\d,]+", shown["tokens"])[:2])
    assert (thought, answer) == (server["thinking_tokens"] or 0, server["answer_tokens"])
    assert shown["effective"].endswith("tok/s")
    assert shown["cost"] == "free"  # the embedded model runs here: it costs nothing, says so
    # Decode speed needs two output tokens; every mode's answer to DEEP_PROMPT has six digits.
    assert server["answer_tokens"] > 1 and shown["decode"].endswith("tok/s")
    assert server["answer"].strip()
    assert server["answer"].strip() in message.locator(".answer").inner_text()
    assert not session.dialogs and not session.errors, (session.dialogs, session.errors)


def test_deep_mode_streams_thoughts_steps_and_meters(session: Session, model_server: str) -> None:
    message, server, seen = ask_and_trace(session, model_server, "deep")
    assert server["mode"] == "deep"
    assert_thoughts_shown(message, server, seen)
    assert_meters_and_answer(session, message, server)


def test_auto_mode_shows_the_route_and_why(session: Session, model_server: str) -> None:
    message, server, seen = ask_and_trace(session, model_server, "auto")
    # The shipped learned router sends a 4-digit product to deep, with its estimates.
    assert server["mode"] == "deep"
    assert message.locator(".route-auto").inner_text().startswith("Auto")
    assert message.locator(".route-reason").inner_text().startswith(server["route_reason"][:40])
    estimates = server["route_estimates"]
    figures = message.locator(".route-estimates").inner_text()
    assert figures.endswith("→ deep"), figures
    assert f"P(fast correct) {estimates['p_fast']:.2f}" in figures
    assert_thoughts_shown(message, server, seen)
    assert_meters_and_answer(session, message, server)


def test_fast_mode_streams_no_thoughts(session: Session, model_server: str) -> None:
    message, server, _ = ask_and_trace(session, model_server, "fast")
    assert server["mode"] == "fast"
    assert message.locator("details.thinking").is_hidden()
    assert server["thinking_tokens"] in (0, None)
    assert meters(message)["thinking"] == "0"
    assert_meters_and_answer(session, message, server)


def test_race_shows_both_lanes_timelines_and_verdicts(session: Session) -> None:
    page = session.page
    page.click("#tab-race")
    page.fill("#race-prompt", DEEP_PROMPT)
    page.click("#race-start")
    page.locator("#race-stop").wait_for(state="visible")
    page.locator("#race-start").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS * 2)
    for lane in ("fast", "deep"):
        host = page.locator(f"#lane-{lane}")
        assert host.locator("article.msg.assistant").get_attribute("data-state") == "done"
        assert host.locator(".route .badge").inner_text().strip().lower() == lane
        verdict = host.locator(".verdict")
        assert verdict.is_visible()
        assert re.match(r"(✓ Correct|✗ Wrong — expected 178377)", verdict.inner_text())
        row = page.locator(f'#race-timeline .tl-row[data-lane="{lane}"]')
        assert row.locator(".end-mark").inner_text() in ("✓", "✗")
        assert row.locator(".flag").inner_text().startswith("first answer ")
    # The deep lane's timeline has a thinking segment; both share one axis.
    deep_think = page.locator('.tl-row[data-lane="deep"] .seg-think').evaluate(
        "el => el.getBoundingClientRect().width"
    )
    assert deep_think > 5
    assert page.locator("#race-timeline .axis .tick").count() >= 2
    summary = page.locator("#race-summary").inner_text()
    assert "first answer token" in summary and ("correct" in summary or "wrong" in summary.lower())
    # The third lane, the hedge: it says which lane answered and why, shows both lanes in
    # miniature, and never serves an answer the verifier rejected.
    hedge = page.locator("#lane-hedge")
    assert hedge.locator("article.msg.assistant").get_attribute("data-state") == "done"
    badge = hedge.locator(".badge-hedge").inner_text().lower()  # styled upper-case
    assert re.fullmatch(r"answered by (fast|deep)", badge)
    assert hedge.locator(".hedge .hedge-lane").count() == 2
    assert hedge.locator(".hedge .hedge-lane.served").count() == 1
    assert hedge.locator(".hedge-summary").inner_text().strip()
    assert hedge.locator(".verdict").inner_text().startswith("✓ Correct")
    assert page.locator('#race-timeline .tl-row[data-lane="hedge"] .end-mark').inner_text() == "✓"
    assert "Hedge: " in summary
    assert not session.dialogs and not session.errors


# --- stopping --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["button", "escape"])
def test_stop_cancels_the_generation(fake_session: Session, fake_server: str, how: str) -> None:
    page = fake_session.page
    message = fake_session.ask("Think about this slow question", "deep")
    message.locator(".steps li").first.wait_for()
    assert page.locator("#stop").is_visible() and page.locator("#send").is_hidden()
    if how == "button":
        page.click("#stop")
    else:
        page.keyboard.press("Escape")
    assert wait_state(message, "stopped", timeout_ms=5000) == "stopped"
    assert page.locator("#send").is_visible()
    summary = message.locator("details.thinking summary").inner_text()
    assert summary.startswith("Stopped after")
    # Nothing more arrives, and the server recorded the disconnect and stopped generating.
    length = len(message.locator(".thoughts").text_content() or "")
    page.wait_for_timeout(600)
    assert len(message.locator(".thoughts").text_content() or "") == length
    request_id = message.get_attribute("data-request-id")
    assert request_id
    server = trace(fake_server, request_id)
    assert server["status"] == "client_disconnected", server
    assert server["answer"] == ""
    assert server["e2e_ms"] < 10_000  # the fake would have thought for ~20 s


# --- hostile output --------------------------------------------------------------------------


@pytest.mark.parametrize("csp", ["with CSP", "renderer alone"])
def test_hostile_output_stays_inert(browser: Browser, fake_server: str, csp: str) -> None:
    # "renderer alone" turns the page's Content-Security-Policy off, to prove the rendering
    # itself keeps model output inert (CSP is the second line of defence, not the only one).
    s = Session(browser, fake_server, bypass_csp=csp == "renderer alone")
    try:
        message = s.ask("Reply with something hostile please", "deep")
        assert wait_state(message, "done") == "done"
        message.locator("details.thinking summary").click()
        s.page.wait_for_timeout(300)
        page = s.page
        assert s.dialogs == []
        assert page.evaluate("() => window.__pwned") is None
        inside = message.locator(".answer, .thoughts, .steps, .route")
        for tag in ("script", "img", "iframe", "svg", "object", "embed", "style", "div"):
            assert inside.locator(tag).count() == 0, tag
        assert page.locator("[id^=injected]").count() == 0
        handlers = message.evaluate(
            """el => [...el.querySelectorAll('.answer *, .thoughts *, .steps *, .route *')]
                 .flatMap(n => [...n.attributes]
                 .filter(a => a.name.startsWith('on') || a.name === 'style'
                              || /^\\s*javascript:/i.test(a.value))
                 .map(a => n.tagName + ' ' + a.name))"""
        )
        assert handlers == []
        hrefs = message.locator(".answer a").evaluate_all(
            "els => els.map(a => a.getAttribute('href'))"
        )
        assert all(h is None or re.match(r"^(https?:|mailto:|#)", h) for h in hrefs), hrefs
        # The markup is shown as text, so the person sees what the model wrote.
        answer = message.locator(".answer").inner_text()
        assert "<script>" in answer and "onerror" in answer
        assert "[image: pixel]" in answer
        thoughts = message.locator(".thoughts").text_content()
        assert thoughts == HOSTILE_THOUGHTS  # every character, shown as text
        # Markdown still works: the code block is highlighted.
        assert message.locator(".answer pre code.hljs span").count() > 0
        assert s.dialogs == []
    finally:
        s.close()


# --- keyboard, history -----------------------------------------------------------------------


def test_enter_sends_and_shift_enter_adds_a_line(fake_session: Session) -> None:
    page = fake_session.page
    page.locator('#mode-select input[value="fast"]').check(force=True)
    page.click("#prompt")
    page.keyboard.type("What is 7305 − 2948?")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#prompt") == "What is 7305 − 2948?\nsecond line"
    assert page.locator("article.msg.user").count() == 0
    page.keyboard.press("Enter")
    page.locator("article.msg.user").first.wait_for()
    bubble = page.locator("article.msg.user .bubble").inner_text()
    assert bubble == "What is 7305 − 2948?\nsecond line"
    assert page.input_value("#prompt") == ""
    wait_state(page.locator("article.msg.assistant").first, "done")


def test_history_lists_traces_filters_and_charts_ttfa_by_mode(fake_session: Session) -> None:
    for prompt, mode in (("What is 7305 − 2948?", "fast"), ("What is 347 × 28?", "deep")):
        wait_state(fake_session.ask(prompt, mode), "done")
    page = fake_session.page
    page.click("#tab-history")
    rows = page.locator("#history-table tbody tr.trace-row")
    rows.first.wait_for()
    modes = set(rows.evaluate_all("rs => rs.map(r => r.dataset.mode)"))
    assert {"fast", "deep"} <= modes
    assert page.locator("#ttfa-chart circle.dot.mode-fast").count() >= 1
    assert page.locator("#ttfa-chart circle.dot.mode-deep").count() >= 1
    assert page.locator("#ttfa-chart .median-label").count() == 2
    # A row opens the full trace: route, steps, answer.
    deep_row = page.locator('#history-table tbody tr.trace-row[data-mode="deep"]').first
    deep_row.click()
    detail = page.locator("#history-table tr.trace-detail")
    detail.locator(".steps li").first.wait_for()
    assert "Route" in detail.inner_text() and detail.locator(".detail-answer").inner_text()
    deep_row.click()
    assert detail.count() == 0
    page.select_option("#history-filters select[name=mode]", "fast")
    page.wait_for_timeout(500)
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.mode)")) == {"fast"}
    assert page.locator("#ttfa-chart circle.dot.mode-deep").count() == 0
    page.select_option("#history-filters select[name=mode]", "")
    page.fill("#history-filters input[name=q]", "347")
    page.wait_for_timeout(800)
    prompts = rows.evaluate_all("rs => rs.map(r => r.children[3].textContent)")
    assert prompts and all("347" in p for p in prompts)


# --- looks: both widths, both schemes --------------------------------------------------------


def test_screenshots_desktop_and_phone_light_and_dark(session: Session) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = session.page
    wait_state(session.ask("What is 347 × 28?", "deep"), "done")
    wait_state(
        session.ask(
            "Orders: ivy 64, ned 45, ray 30, ivy 49, kai 90. Refunds: kai 90, ray 30. Who are the"
            " top 2 spenders, excluding customers who refunded more than half of their orders?",
            "auto",
        ),
        "done",
    )
    page.click("#tab-race")
    page.fill("#race-prompt", DEEP_PROMPT)
    page.click("#race-start")
    page.locator("#race-start").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS * 2)
    shots = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            for view in ("chat", "race", "history"):
                page.click(f"#tab-{view}")
                page.wait_for_timeout(400)
                if view == "chat":
                    page.locator("#chat-log").evaluate("el => { el.scrollTop = el.scrollHeight; }")
                path = SCREENSHOTS / f"{view}-{size_name}-{scheme}.png"
                page.screenshot(path=str(path), full_page=view != "chat")
                shots.append(path)
                # Nothing spills sideways at phone width.
                overflow = page.evaluate("() => document.documentElement.scrollWidth")
                assert overflow <= size["width"], (view, size_name, overflow)
            background = rgb(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))
            assert (sum(background) / 3 < 60) if scheme == "dark" else (sum(background) / 3 > 200)
    assert all(p.stat().st_size > 10_000 for p in shots)
    # The toggle overrides the system scheme, both ways.
    page.emulate_media(color_scheme="light")
    page.click("#theme-toggle")
    body = "() => getComputedStyle(document.body).backgroundColor"
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert sum(rgb(page.evaluate(body))) / 3 < 60
    page.click("#theme-toggle")
    assert sum(rgb(page.evaluate(body))) / 3 > 200
    assert not session.dialogs and not session.errors


def test_interleaved_turn_renders_thoughts_call_thoughts_answer(fake_session: Session) -> None:
    """Thinking, a tool call with hostile arguments, more thinking, the answer: each in its
    place, in order, the arguments shown as text and inert."""
    from tests.ui_fake import TOOL_ARGUMENTS

    s = fake_session
    message = s.ask("Be an agent and look it up", "deep")
    assert wait_state(message, "done") == "done"
    order = message.evaluate(
        """el => [...el.querySelectorAll('details.thinking, details.tool-call, .answer')]
             .filter(n => !n.hidden).map(n => n.className.split(' ')[0])"""
    )
    assert order == ["thinking", "tool-call", "thinking", "answer"]
    call = message.locator("details.tool-call")
    assert call.locator(".tool-name").inner_text() == "Called run_sql"
    call.locator("summary").click()
    assert call.locator(".tool-args").text_content() == TOOL_ARGUMENTS
    assert call.locator("img, script").count() == 0
    assert s.page.evaluate("() => window.__pwned") is None and s.dialogs == []
    after = message.locator("details.thinking.segment .thoughts").text_content()
    assert after == "The query returned one row, so the answer is 1. "
    assert message.locator(".answer").inner_text().strip() == "The answer is 1."
    steps = message.locator(".steps .step-label").all_inner_texts()
    assert "Calling run_sql" in steps
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    message.screenshot(path=str(SCREENSHOTS / "desktop-light-tool-call.png"))


# --- first impressions: the showcase, canned replies, history, meters, words, access --------

SIZES = {"desktop": DESKTOP, "phone": PHONE}

# WCAG 2 contrast of each element's text against the first opaque background behind it.
CONTRAST = """
els => els.map(el => {
  const parse = c => {
    const m = (c.match(/[\\d.]+/g) || []).map(Number);
    const rgba = m.length >= 4 ? m.slice(0, 4) : [...m.slice(0, 3), 1];
    return c.startsWith("color(") ? [...rgba.slice(0, 3).map(v => v * 255), rgba[3]] : rgba;
  };
  const page = parse(getComputedStyle(document.body).backgroundColor);
  const linear = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  let bg = null;
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c[3] > 0.5) { bg = c.slice(0, 3).map((v, i) => v * c[3] + page[i] * (1 - c[3])); break; }
  }
  bg = bg || page;
  const fg = parse(getComputedStyle(el).color);
  const mixed = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
  const [hi, lo] = [lum(mixed), lum(bg)].sort((a, b) => b - a);
  const text = el.textContent.trim().slice(0, 30);
  return { what: el.className || el.tagName, text, ratio: (hi + 0.05) / (lo + 0.05) };
})
"""


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


# Each meter at its widest: five-digit token counts marked estimated, five-digit speeds.
WIDEST_METERS = """
dds => dds.forEach(dd => {
  const widest = { ttft: "12.3 s", ttfa: "12.3 s", thinking: "12.3 s", decode: "12,345 tok/s",
                   effective: "12,345 tok/s", cost: "≈$0.0042" }[dd.parentElement.dataset.meter];
  if (widest) dd.textContent = widest;
  else {
    dd.querySelector(".tok-thought").textContent = "12,345";
    dd.querySelector(".tok-answer").textContent = "6,789";
    const est = Object.assign(document.createElement("span"), { className: "est" });
    dd.querySelector(".tok-nums").append(Object.assign(est, { textContent: " est." }));
  }
})
"""


def overflowing(locator: Any) -> list[str]:
    """The texts of elements in ``locator`` whose content is wider than their box (cut off)."""
    found: list[str] = locator.evaluate_all(
        "els => els.filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.textContent)"
    )
    return found


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_example_chip_is_answered_right_in_deep_mode(session: Session, size: str) -> None:
    page = session.page
    page.set_viewport_size(SIZES[size])
    chips = page.locator("#examples .chip")
    labels = chips.all_inner_texts()
    assert len(labels) >= 4
    page.locator('#mode-select input[value="deep"]').check(force=True)
    for index in range(len(labels)):
        if page.locator("#examples .chip").count():
            page.locator("#examples .chip").nth(index).click()
        else:  # the empty state is gone after the first message: use the race view's chips
            page.click("#tab-race")
            page.locator("#race-examples .chip").nth(index).click()
            prompt = page.input_value("#race-prompt")
            page.click("#tab-chat")
            page.fill("#prompt", prompt)
        before = page.locator("#chat-log article.msg.assistant").count()
        page.press("#prompt", "Enter")
        message = page.locator("#chat-log article.msg.assistant").nth(before)
        assert wait_state(message, "done") == "done"
        verdict = message.locator(".verdict")
        verdict.wait_for(state="visible")
        assert verdict.inner_text() == "✓ Correct", (labels[index], message.inner_text())
    shot(page, f"examples-{size}", full_page=False)
    assert not session.dialogs and not session.errors


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_canned_reply_is_labelled_and_left_out_of_meters_verdicts_and_medians(
    session: Session, model_server: str, size: str
) -> None:
    page = session.page
    page.set_viewport_size(SIZES[size])
    for mode in ("auto", "deep"):
        message = session.ask("What is 52 + 77?", mode)
        assert wait_state(message, "done") == "done"
        assert message.get_attribute("data-declined") == "true"
        assert message.locator(".badge-declined").inner_text().lower() == "canned reply"
        assert message.locator(".meters").is_hidden()  # no "TTFT 0 ms · 0.0 tok/s"
        assert "tok/s" not in message.inner_text()
        assert "a size I was not trained on" in message.locator(".answer").inner_text()
        page.wait_for_timeout(300)
        assert message.locator(".verdict").is_hidden()
    shot(page, f"declined-chat-{size}", full_page=False)
    # the race has nothing to judge
    page.click("#tab-race")
    page.fill("#race-prompt", "What is 52 + 77?")
    page.click("#race-start")
    page.locator("#race-start").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
    summary = page.locator("#race-summary").inner_text()
    assert "declined" in summary and "no race to judge" in summary
    assert "sooner" not in summary and "0 ms" not in summary
    shot(page, f"declined-race-{size}")
    # one real answer per mode, then the history: canned replies out of the medians
    page.click("#tab-chat")
    for mode in ("fast", "deep"):
        wait_state(session.ask("What is 347 × 28?", mode), "done")
    page.click("#tab-history")
    page.locator("#history-table tbody tr.trace-row").first.wait_for()
    page.wait_for_timeout(300)
    traces = httpx.get(f"{model_server}/api/traces?limit=200", timeout=5).json()["data"]
    for mode in ("fast", "deep"):
        timed = [t for t in traces if t["mode"] == mode and t["finish_reason"] != "declined"]
        label = page.locator("#ttfa-chart .median-label").nth(0 if mode == "fast" else 1)
        assert f"(n={len(timed)})" in (label.text_content() or "")
        assert page.locator(f"#ttfa-chart circle.dot.mode-{mode}").count() == len(timed)
    declined = sum(t["finish_reason"] == "declined" for t in traces)
    assert declined >= 3 and f"{declined} canned replies left out" in page.inner_text("#chart-note")
    ends = page.locator("#history-table tbody tr.trace-row td.cell-end").all_inner_texts()
    assert "declined" in ends and "finished" in ends
    shot(page, f"declined-history-{size}")
    assert not session.dialogs and not session.errors


def test_history_reads_as_finish_reasons_and_never_shows_null(
    fake_session: Session, fake_server: str
) -> None:
    page = fake_session.page
    wait_state(fake_session.ask("What is 347 × 28?", "fast"), "done")  # no steps, no error
    wait_state(fake_session.ask("Is this brief?", "deep"), "done")
    stopped = fake_session.ask("Answer in a drawl", "deep")
    stopped.locator(".answer").get_by_text("word", exact=False).first.wait_for()
    page.click("#stop")
    assert wait_state(stopped, "stopped") == "stopped"
    assert stopped.locator(".status").inner_text() == "Stopped."  # no implementation detail
    page.click("#tab-history")
    page.wait_for_timeout(400)
    page.click("#history-filters button[type=submit]")
    page.wait_for_timeout(600)
    assert page.locator("#history-table thead th").last.inner_text().lower() == "finish"
    rows = page.locator("#history-table tbody tr.trace-row")
    ends = rows.locator("td.cell-end").all_inner_texts()
    assert "stopped by you" in ends and "finished" in ends
    assert not any(e in ("ok", "stop", "client disconnected") for e in ends)
    partial = 0
    for index in range(rows.count()):
        row = rows.nth(index)
        row.click()
        detail = page.locator("#history-table tr.trace-detail")
        detail.locator(".detail-field").first.wait_for()
        text = detail.inner_text()
        assert "null" not in text and "undefined" not in text, text
        if row.locator("td.cell-end").inner_text() == "stopped by you":
            # what was written before the stop, never shown as an answer that was read
            answers = detail.locator(".detail-answer")
            assert answers.count() == detail.locator(".detail-answer.partial").count()
            if answers.count():
                partial += 1
                assert "generated before the stop" in text
        row.click()
    assert partial >= 1
    assert not fake_session.dialogs and not fake_session.errors


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_meter_labels_and_values_are_never_cut_off(session: Session, size: str) -> None:
    page = session.page
    page.set_viewport_size(SIZES[size])
    message = session.ask(
        "Orders: ivy 64, ned 45, ray 30, ivy 49, kai 90. Refunds: kai 90, ray 30. Who are the"
        " top 2 spenders, excluding customers who refunded more than half of their orders?",
        "deep",
    )
    wait_state(message, "done")
    message.locator(".verdict").wait_for(state="visible")  # the verdict sits beside them
    assert overflowing(message.locator(".meter dt, .meter dt button, .meter dd")) == []
    # the widest values a meter shows, at every width from a wide desktop to a small phone
    message.locator(".meter dd").evaluate_all(WIDEST_METERS)
    for width in (1280, 1100, 960, 860, 780, 700, 620, 540, 460, 390, 340):
        page.set_viewport_size({"width": width, "height": 800})
        cut = overflowing(message.locator(".meter dt, .meter dt button, .meter dd"))
        assert cut == [], (width, cut)
    page.set_viewport_size(SIZES[size])
    page.click("#tab-race")
    page.fill("#race-prompt", DEEP_PROMPT)
    page.click("#race-start")
    page.locator("#race-start").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
    for lane in ("fast", "deep"):
        host = page.locator(f"#lane-{lane}")
        host.locator(".verdict").wait_for(state="visible")
        assert overflowing(host.locator(".meter dt, .meter dt button, .meter dd")) == []
    # the race axis at phone width (run there, or run wide and then narrowed): no two labels
    # overlap
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    boxes = page.locator("#race-timeline .axis .tick").evaluate_all(
        "els => els.map(el => el.getBoundingClientRect()).map(r => [r.left, r.right])"
    )
    assert len(boxes) >= 2
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(boxes)), boxes
    shot(page, f"meters-race-{size}")


def test_phone_history_keeps_the_prompt_and_key_timings_in_view(session: Session) -> None:
    page = session.page
    page.set_viewport_size(PHONE)
    wait_state(session.ask(DEEP_PROMPT, "deep"), "done")
    page.click("#tab-history")
    row = page.locator("#history-table tbody tr.trace-row").first
    row.wait_for()
    page.wait_for_timeout(300)
    for cell in ("td.prompt-cell", "td.cell-ttfa", "td.cell-e2e", "td.cell-end"):
        box = row.locator(cell).bounding_box()
        assert box is not None and box["width"] > 0, cell
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (cell, box)
    assert DEEP_PROMPT in row.locator("td.prompt-cell").inner_text()
    label = row.locator("td.cell-ttfa").evaluate("el => getComputedStyle(el, '::before').content")
    assert "TTFA" in label
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "history-cards-phone")


def test_replies_use_plain_words(session: Session, fake_session: Session) -> None:
    # a mode the person picked needs no reason
    picked = session.ask(DEEP_PROMPT, "deep")
    wait_state(picked, "done")
    assert picked.locator(".route-reason").count() == 0
    assert "requested by name" not in picked.inner_text()
    # auto: one line of reason; the whole of it and the figures on demand
    auto = session.ask(DEEP_PROMPT, "auto")
    wait_state(auto, "done")
    reason = auto.locator(".route-reason")
    height, line = reason.evaluate(
        "el => [el.getBoundingClientRect().height, parseFloat(getComputedStyle(el).lineHeight)]"
    )
    assert height < 1.5 * line
    more = auto.locator(".route-more")
    assert more.is_hidden()
    auto.locator(".route-why").click()
    assert more.is_visible() and auto.locator(".route-why").get_attribute("aria-expanded") == "true"
    assert more.locator(".route-full").inner_text().strip()
    # a thought under 0.1 s is "brief", not "0.0 s"
    brief = fake_session.ask("Is this brief?", "deep")
    wait_state(brief, "done")
    summary = brief.locator("details.thinking summary").inner_text().strip()
    assert summary.startswith("Thought briefly ·"), summary
    assert "0.0 s" not in brief.inner_text()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(session: Session, scheme: str) -> None:
    page = session.page
    page.emulate_media(color_scheme=scheme)
    page.click("#tab-race")
    page.fill("#race-prompt", DEEP_PROMPT)
    page.click("#race-start")
    page.locator("#race-start").wait_for(state="visible", timeout=STREAM_TIMEOUT_MS)
    page.locator("#lane-deep .verdict").wait_for(state="visible")
    checked = page.locator(
        ".verdict, .end-mark, .race-summary, .meter dt button, .tick, .route-reason, .badge"
    ).evaluate_all(CONTRAST)
    page.click("#tab-chat")
    checked += page.locator(".hint, .chip, .tab").evaluate_all(CONTRAST)
    assert {"hint", "verdict verdict-ok"} <= {c["what"] for c in checked}
    assert any(c["what"] == "verdict verdict-bad" for c in checked)  # the hare guessed wrong
    low = [c for c in checked if c["ratio"] < 4.5]
    assert low == [], low


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_definitions_and_reasons_open_by_keyboard_and_touch(
    browser: Browser, model_server: str, size: str
) -> None:
    s = Session(browser, model_server, has_touch=size == "phone")
    try:
        page = s.page
        page.set_viewport_size(SIZES[size])
        message = s.ask(DEEP_PROMPT, "deep")
        wait_state(message, "done")
        message.locator(".verdict").wait_for(state="visible")
        explain = message.locator(".explain")
        ttfa = message.locator('.meter[data-meter="ttfa"] dt button')
        if size == "phone":
            ttfa.tap()
        else:
            ttfa.focus()
            page.keyboard.press("Enter")
        assert explain.is_visible()
        assert explain.inner_text().startswith("TTFA: Request sent → first answer token")
        assert ttfa.get_attribute("aria-expanded") == "true"
        verdict = message.locator(".verdict")
        if size == "phone":
            verdict.tap()
        else:
            verdict.focus()
            page.keyboard.press("Space")
        assert "task verifier" in explain.inner_text()
        assert ttfa.get_attribute("aria-expanded") == "false"
        shot(page, f"explain-{size}", full_page=False)
        # the view switcher: one Tab stop, arrow keys move between the tabs
        tabs = page.locator(".tab")
        assert tabs.evaluate_all("ts => ts.map(t => t.tabIndex)") == [0, -1, -1]
        page.locator("#tab-chat").focus()
        for key, view in (("ArrowRight", "race"), ("ArrowRight", "history"), ("ArrowRight", "chat"),
                          ("ArrowLeft", "history"), ("Home", "chat"), ("End", "history")):
            page.keyboard.press(key)
            focused = page.evaluate("() => document.activeElement.id")
            assert focused == f"tab-{view}", (key, focused)
            assert page.locator(f"#tab-{view}").get_attribute("aria-selected") == "true"
            assert page.locator(f"#view-{view}").is_visible()
        assert not s.dialogs and not s.errors
    finally:
        s.close()


def test_cost_meter_priced_and_unpriced(fake_session: Session) -> None:
    """Deep has a price in the config: its reply shows what it cost (≈, the fake reports no
    usage, so the tokens are estimated), thinking's share on hover. Fast has none: "—"."""
    s = fake_session
    deep = s.ask("What is 347 * 28?", "deep")
    assert wait_state(deep, "done") == "done"
    cost = deep.locator('.meter[data-meter="cost"] dd')
    assert re.fullmatch(r"≈\$\d+(\.\d+)?(e-\d+)?", cost.inner_text().strip()), cost.inner_text()
    assert (cost.get_attribute("title") or "").startswith("thinking $")
    fast = s.ask("What is 347 * 28?", "fast")
    assert wait_state(fast, "done") == "done"
    assert fast.locator('.meter[data-meter="cost"] dd').inner_text().strip() == "—"
    # History: sorted dearest first, the priced deep request leads; its cost column shows.
    s.page.locator("#tab-history").click()
    s.page.select_option('#history-filters select[name="sort"]', "cost")
    first = s.page.locator("#history-table tbody tr.trace-row").first
    first.wait_for()
    deadline = time.monotonic() + 10
    while first.get_attribute("data-mode") != "deep" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first.get_attribute("data-mode") == "deep"
    assert first.locator(".cell-cost").inner_text().startswith("≈$")


# --- the wait, predicted ---------------------------------------------------------------------


def _teach(base: str, prompt: str, models: tuple[str, ...] = ("fast", "deep"), n: int = 6) -> None:
    """Real requests, so the estimator has a history for the prompt's kind."""
    for model in models:
        for _ in range(n):
            body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
            assert httpx.post(f"{base}/v1/chat/completions", json=body, timeout=60).is_success


def test_the_wait_is_estimated_before_sending_and_followed_while_thinking(
    session: Session, model_server: str
) -> None:
    page = session.page
    _teach(model_server, "What is 5123 × 44?")
    page.fill("#prompt", DEEP_PROMPT)
    deep = page.locator('#wait-hint .wait-part[data-mode="deep"]')
    deep.wait_for(state="visible")
    expected = httpx.post(f"{model_server}/api/estimate", json={"prompt": DEEP_PROMPT}).json()
    est = expected["estimates"]["deep"]
    assert est is not None and est["samples"] >= 6
    text = deep.inner_text()
    assert text.startswith("Deep ≈ ") and "thought tokens" in text, text
    low, high = round(est["thinking_tokens"]["p10"]), round(est["thinking_tokens"]["p90"])
    usual = str(low) if low == high else f"{low}–{high}"  # one figure when they agree
    assert f"usually {usual} thought tokens" in text
    fast = page.locator('#wait-hint .wait-part[data-mode="fast"]')
    assert fast.inner_text().startswith("Fast ≈ ")
    auto = page.locator("#wait-hint .wait-auto")
    assert auto.inner_text() == f"Auto → {expected['auto']['mode']}"
    # The sample size: on hover (title) and, by keyboard, in the detail line.
    assert f"based on {est['samples']} " in (deep.get_attribute("title") or "")
    deep.focus()
    page.keyboard.press("Enter")
    detail = page.locator("#wait-hint .wait-detail")
    assert detail.is_visible() and f"based on {est['samples']} " in detail.inner_text()
    assert deep.get_attribute("aria-expanded") == "true"
    shot(page, "wait-estimate-desktop", full_page=False)
    # It follows the typing: another prompt, another answer from the server.
    other = "hello there, how are you today?"
    page.fill("#prompt", other)
    again = httpx.post(f"{model_server}/api/estimate", json={"prompt": other}).json()
    deadline = time.monotonic() + 10
    while auto.inner_text() != f"Auto → {again['auto']['mode']}" or detail.is_visible():
        assert time.monotonic() < deadline, auto.inner_text()
        time.sleep(0.05)
    # While thinking, the gray box counts against the estimate.
    page.fill("#prompt", DEEP_PROMPT)
    deep.wait_for(state="visible")
    message = session.ask(DEEP_PROMPT, "deep")
    assert wait_state(message, "done") == "done"
    labels = session.observed(message)["labels"]
    pattern = rf"^Thinking… [\d.]+ s · \d+ of ~{round(est['thinking_tokens']['p50'])} tokens"
    assert any(re.match(pattern, label) for label in labels), labels
    assert not session.errors


def test_a_stalled_stream_offers_stop_and_answer_fast_instead(
    fake_session: Session, fake_server: str
) -> None:
    page = fake_session.page
    message = fake_session.ask("Please stall on this one", "deep")
    stall = message.locator(".stall")
    stall.wait_for(state="visible", timeout=20_000)
    assert re.match(r"^No tokens for \d+ s — the model may be stuck", stall.inner_text())
    assert stall.get_attribute("role") == "alert"
    assert stall.locator("button", has_text="Stop").is_visible()
    shot(page, "stall-desktop", full_page=False)
    stall.locator("button", has_text="Answer fast instead").click()
    assert wait_state(message, "stopped", timeout_ms=5000) == "stopped"
    replies = page.locator("#chat-log article.msg.assistant")
    fast = replies.last
    assert wait_state(fast, "done") == "done"
    assert fast.get_attribute("data-mode") == "fast"
    assert fast.locator(".answer").inner_text().strip()  # the fast model answered
    asked = page.locator("#chat-log article.msg.user").last
    assert asked.inner_text() == "Please stall on this one"
    # The stall is in the deep request's trace.
    request_id = message.get_attribute("data-request-id")
    assert request_id
    server = trace(fake_server, request_id)
    assert server["status"] == "client_disconnected"
    assert any(note.startswith("stall: No tokens for") for note in server["notes"]), server
    assert not fake_session.errors


# --- accessibility ---------------------------------------------------------------------------

AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
  });
  const violations = result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ")),
  }));
  return { violations, passed: result.passes.map((p) => p.id) };
}"""


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (vendored copy,
    evaluated by the debugger protocol: the page's CSP would refuse a script tag)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found: dict[str, Any] = page.evaluate(AXE_RUN)
    # axe really looked: the rules that matter here ran and passed on this page
    assert {"aria-allowed-attr", "button-name", "color-contrast"} <= set(found["passed"])
    return [v for v in found["violations"] if v["impact"] in ("serious", "critical")]


def test_streaming_is_announced_politely_and_axe_finds_nothing_serious(
    fake_session: Session,
) -> None:
    page = fake_session.page
    message = fake_session.ask("Tell me in a long drawl", "deep")
    answer = message.locator(".answer")
    assert answer.get_attribute("aria-live") == "polite"
    wait_state(message, "answering")
    assert answer.get_attribute("aria-busy") == "true"  # no announcement per token
    assert wait_state(message, "done") == "done"
    assert answer.get_attribute("aria-busy") == "false"  # now it is read, once
    summary = message.locator("details.thinking summary")
    assert summary.get_attribute("aria-expanded") == "false"
    summary.focus()
    page.keyboard.press("Enter")
    assert message.locator("details.thinking").evaluate("d => d.open") is True
    assert summary.get_attribute("aria-expanded") == "true"
    page.fill("#prompt", "What is 12 + 30?")  # the wait hint, too
    page.locator("#wait-hint .wait-line").wait_for(state="visible")
    assert serious_violations(page) == []
    page.emulate_media(color_scheme="dark", reduced_motion="reduce")
    assert serious_violations(page) == []
    bar = summary.locator(".wait-bar-fill")  # reduced motion: the bar jumps, never slides
    assert bar.evaluate("e => getComputedStyle(e).transitionDuration") == "0s"
    assert not fake_session.errors


# --- conversations that last -----------------------------------------------------------------


def test_a_reload_restores_the_chat_with_its_timings(session: Session, model_server: str) -> None:
    page = session.page
    first = session.ask(DEEP_PROMPT, "deep")
    assert wait_state(first, "done") == "done"
    second = session.ask("What is 7305 − 2948?", "fast")
    assert wait_state(second, "done") == "done"
    before = [meters(m) for m in (first, second)]
    timings = [phases(m) for m in (first, second)]
    assert list(timings[0]) == ["waiting", "thinking", "answering"]  # deep thought first
    assert list(timings[1]) == ["waiting", "answering"]  # fast did not
    answers = [m.locator(".answer").inner_text() for m in (first, second)]
    label = first.locator("details.thinking summary").inner_text().strip()
    request_id = first.get_attribute("data-request-id")
    assert request_id
    trace(model_server, second.get_attribute("data-request-id") or "")  # both are stored
    page.reload()
    restored = page.locator('#chat-log article.msg.assistant[data-restored="true"]')
    restored.nth(1).wait_for()
    assert restored.count() == 2
    assert page.locator("#chat-log article.msg.user").all_inner_texts() == [
        DEEP_PROMPT, "What is 7305 − 2948?",
    ]
    again = [restored.nth(i) for i in range(2)]
    assert [m.locator(".answer").inner_text() for m in again] == answers
    assert [meters(m) for m in again] == before  # the server's figures, as shown live
    assert [phases(m) for m in again] == timings  # waiting, thinking, answering: the same
    assert again[0].locator("details.thinking summary").inner_text().strip() == label
    assert again[0].get_attribute("data-request-id") == request_id
    assert again[0].get_attribute("data-mode") == "deep"
    # The next turn carries the restored chat as its context, in the same conversation.
    third = session.ask("And 12 + 30?", "fast")
    assert wait_state(third, "done") == "done"
    conversation = trace(model_server, request_id)["conversation_id"]
    third_id = third.get_attribute("data-request-id") or ""
    assert trace(model_server, third_id)["conversation_id"] == conversation
    # New chat: an empty page, and a reload does not bring the old chat back (the list has it).
    page.click("#new-chat")
    page.wait_for_selector("#chat-empty")
    page.reload()
    page.wait_for_load_state("networkidle")  # the list of conversations has come
    assert page.locator("#chat-empty").is_visible()
    assert page.locator("#chat-log article.msg").count() == 0
    assert page.locator(".conv-open").first.inner_text().startswith(DEEP_PROMPT)
    assert not session.errors


def phases(message: Any) -> dict[str, str]:
    """A reply's phases as shown: {"waiting": "12 ms", "thinking": …, "answering": …}."""
    shown = message.locator(".phases .phase")
    shown.first.wait_for()
    found = [shown.nth(i) for i in range(shown.count())]
    return {str(p.get_attribute("data-phase")): p.locator(".phase-ms").inner_text() for p in found}


def conversation(base: str, conversation_id: str, requests: int) -> dict[str, Any]:
    """GET /api/conversations/{id} once the store has ``requests`` traces of it (traces are
    written off the stream path)."""
    deadline = time.monotonic() + 10
    while True:
        response = httpx.get(f"{base}/api/conversations/{conversation_id}", timeout=5)
        body: dict[str, Any] = response.json()
        if response.status_code == 200 and body["requests"] >= requests:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"conversation {conversation_id}: {response.text[:300]}")
        time.sleep(0.1)


def chat_id(page: Page) -> str:
    found: str = page.evaluate("() => sessionStorage.getItem('ponder-conversation')")
    assert found
    return found


def test_the_list_switches_conversations_by_mouse_and_keyboard(
    session: Session, model_server: str
) -> None:
    page = session.page
    first = session.ask("What is 347 × 28?", "fast")
    assert wait_state(first, "done") == "done"
    answer_one = first.locator(".answer").inner_text()  # (the locator is "the first reply")
    one = chat_id(page)
    page.click("#new-chat")
    assert page.locator("#chat-empty").is_visible()
    second = session.ask("What is 7305 − 2948?", "fast")
    assert wait_state(second, "done") == "done"
    two = chat_id(page)
    assert two != one
    items = page.locator("#conversation-list .conv-open")
    assert items.nth(0).locator(".conv-title").inner_text() == "What is 7305 − 2948?"
    assert items.nth(1).locator(".conv-title").inner_text() == "What is 347 × 28?"
    assert items.nth(0).get_attribute("aria-current") == "true"
    assert serious_violations(page) == []
    shot(page, "conversations-desktop", full_page=False)
    conversation(model_server, one, 1)
    items.nth(1).click()  # back to the first conversation
    restored = page.locator('#chat-log article.msg.assistant[data-restored="true"]')
    restored.first.wait_for()
    assert page.locator("#chat-log article.msg.user .bubble").all_inner_texts() == [
        "What is 347 × 28?"
    ]
    assert restored.first.locator(".answer").inner_text() == answer_one
    assert items.nth(1).get_attribute("aria-current") == "true"
    assert chat_id(page) == one
    # By keyboard: the list is reachable, the arrows move in it, Enter opens.
    conversation(model_server, two, 1)
    items.nth(1).focus()
    page.keyboard.press("ArrowUp")
    assert items.nth(0).evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    page.locator("#chat-log .bubble", has_text="What is 7305 − 2948?").wait_for()
    assert chat_id(page) == two
    # A reload keeps this tab's conversation and lists the others, most recent first.
    page.reload()
    page.locator('#chat-log article.msg.assistant[data-restored="true"]').first.wait_for()
    assert page.locator("#chat-log .bubble").all_inner_texts() == ["What is 7305 − 2948?"]
    assert items.nth(0).get_attribute("aria-current") == "true"
    # Delete asks once, in place; then the conversation is gone from the list and the store.
    page.locator(f'.conv-item[data-id="{one}"] .conv-delete').click()
    asking = page.locator(f'.conv-item[data-id="{one}"]')
    assert "Delete “What is 347 × 28?” and its requests?" in asking.inner_text()
    asking.locator(".conv-keep").click()  # changed my mind
    assert page.locator(f'.conv-item[data-id="{one}"] .conv-open').is_visible()
    page.locator(f'.conv-item[data-id="{one}"] .conv-delete').click()
    page.locator(f'.conv-item[data-id="{one}"] .conv-confirm').click()
    page.locator(f'.conv-item[data-id="{one}"]').wait_for(state="detached")
    assert httpx.get(f"{model_server}/api/conversations/{one}").status_code == 404
    assert chat_id(page) == two  # the one on view stays
    # On a phone the list is a panel behind a button, and choosing closes it again.
    page.set_viewport_size(PHONE)
    toggle = page.locator("#conversations-toggle")
    assert page.locator("#conversations").is_hidden() and toggle.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert items.nth(0).is_visible()
    shot(page, "conversations-phone", full_page=False)
    assert serious_violations(page) == []
    page.keyboard.press("Escape")  # closes, and focus goes back to the button
    assert page.locator("#conversations").is_hidden()
    assert toggle.evaluate("el => el === document.activeElement")
    toggle.click()
    page.click("#new-chat")
    assert page.locator("#conversations").is_hidden()
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("#chat-empty").is_visible()
    assert not session.errors


def test_regenerate_in_another_mode_replaces_the_reply_and_is_recorded_so(
    session: Session, model_server: str
) -> None:
    page = session.page
    original = session.ask(DEEP_PROMPT, "fast")
    assert wait_state(original, "done") == "done"
    old_id = original.get_attribute("data-request-id") or ""
    replies = page.locator("#chat-log article.msg.assistant")
    bar = original.locator(".regen")
    assert bar.get_attribute("aria-label") == "Regenerate this reply"
    bar.locator("button", has_text="Deep").click()
    again = replies.first
    page.locator(f'#chat-log article.msg.assistant:not([data-request-id="{old_id}"])').wait_for()
    assert wait_state(again, "done") == "done"
    assert replies.count() == 1 and page.locator("#chat-log article.msg.user").count() == 1
    assert again.get_attribute("data-mode") == "deep"
    assert again.locator("details.thinking").is_visible()  # it thought, this time
    new_id = again.get_attribute("data-request-id") or ""
    server = trace(model_server, new_id)
    assert (server["requested_model"], server["mode"], server["turn_index"]) == ("deep", "deep", 0)
    assert server["prompt"] == DEEP_PROMPT
    assert trace(model_server, old_id)["mode"] == "fast"  # History keeps the first reply
    stored = conversation(model_server, chat_id(page), 2)
    assert [t["request_id"] for t in stored["turns"]] == [new_id]
    # And by keyboard, as Auto: the router chooses this time.
    again.locator(".regen button", has_text="Auto").focus()
    page.keyboard.press("Enter")
    page.locator(f'#chat-log article.msg.assistant:not([data-request-id="{new_id}"])').wait_for()
    third = replies.first
    assert wait_state(third, "done") == "done"
    assert third.locator(".route-auto").inner_text() == "Auto →"
    third_id = third.get_attribute("data-request-id") or ""
    assert trace(model_server, third_id)["requested_model"] == "auto"
    page.reload()
    restored = page.locator('#chat-log article.msg.assistant[data-restored="true"]')
    restored.first.wait_for()
    assert restored.count() == 1
    assert restored.first.get_attribute("data-request-id") == third_id
    assert not session.errors


def test_edit_and_resend_truncates_the_chat_and_continues_from_the_edit(
    session: Session, model_server: str
) -> None:
    page = session.page
    for prompt in ("What is 347 × 28?", "What is 7305 − 2948?", "compute 4821 times 37"):
        assert wait_state(session.ask(prompt, "fast"), "done") == "done"
    users = page.locator("#chat-log article.msg.user")
    second = users.nth(1)
    second.hover()
    second.locator(".edit-message").click()
    editor = second.locator("textarea.edit-text")
    assert editor.input_value() == "What is 7305 − 2948?"
    editor.fill("What is 12 + 30?")
    editor.press("Escape")  # cancel: nothing changes
    assert second.locator(".bubble").inner_text() == "What is 7305 − 2948?"
    second.locator(".edit-message").click()
    second.locator("textarea.edit-text").fill("What is 12 + 30?")
    second.locator("textarea.edit-text").press("Enter")
    replies = page.locator("#chat-log article.msg.assistant")
    page.locator("#chat-log .bubble", has_text="What is 12 + 30?").wait_for()
    assert wait_state(replies.nth(1), "done") == "done"
    assert users.locator(".bubble").all_inner_texts() == ["What is 347 × 28?", "What is 12 + 30?"]
    assert replies.count() == 2
    edited = trace(model_server, replies.nth(1).get_attribute("data-request-id") or "")
    assert (edited["prompt"], edited["turn_index"]) == ("What is 12 + 30?", 1)
    # The chat goes on from the edit: the next turn is the third, after the edited one.
    last = session.ask("What is 7305 − 2948?", "fast")
    assert wait_state(last, "done") == "done"
    after = trace(model_server, last.get_attribute("data-request-id") or "")
    assert after["turn_index"] == 2
    stored = conversation(model_server, chat_id(page), 5)
    assert [t["prompt"] for t in stored["turns"]] == [
        "What is 347 × 28?", "What is 12 + 30?", "What is 7305 − 2948?",
    ]  # fmt: skip
    page.reload()
    page.locator('#chat-log article.msg.assistant[data-restored="true"]').nth(2).wait_for()
    assert users.locator(".bubble").all_inner_texts() == [t["prompt"] for t in stored["turns"]]
    assert not session.errors
