"""Token economics: prices, the cost of a request by part, budgets and daily spend caps."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest

from ponder.budget import CostModel, SpendCapError, SpendLedger, budget_choice, day_start
from ponder.config import FREE, ModelConfig, Price, load_config, parse_config
from ponder.errors import ConfigError
from ponder.events import Usage
from ponder.pricing import cost_of, format_usd, price_for
from ponder.request import ChatRequest
from ponder.server import ServerSettings, create_app
from ponder.store import TraceWriter
from tests.gateway_harness import ThreadServer, write_config

PRICED = """
[models.priced]
provider = "scripted"
price = { input = 2.0, output = 10.0, cached_input = 0.5, reasoning = 20.0 }
script = [["thinking", "Let me think. ", 1], ["answer", "42", 1], ["usage", [1000, 300, 20]],
          ["finish", "stop"]]

[models.capped]
provider = "scripted"
price = { input = 1000000.0, output = 0.0 }
daily_cap_usd = 2500.0
script = [["answer", "ok", 1], ["usage", [1000, 0, 1]], ["finish", "stop"]]

[models.unpriced]
provider = "scripted"
script = [["answer", "ok", 1], ["usage", [10, 0, 1]], ["finish", "stop"]]
"""


# -- arithmetic ---------------------------------------------------------------------------------


def test_cost_by_part_with_cache_and_a_reasoning_rate() -> None:
    price = Price(input=2.0, output=10.0, cached_input=0.5, reasoning=20.0)
    usage = Usage(1000, 300, 20, cached_input_tokens=400)
    cost = cost_of(price, usage)
    assert cost is not None and not cost.estimated
    assert cost.input_usd == pytest.approx((600 * 2.0 + 400 * 0.5) / 1e6)
    assert cost.thinking_usd == pytest.approx(300 * 20.0 / 1e6)
    assert cost.answer_usd == pytest.approx(20 * 10.0 / 1e6)
    assert cost.total_usd == pytest.approx(cost.input_usd + cost.thinking_usd + cost.answer_usd)


def test_thoughts_cost_output_unless_priced_apart() -> None:
    cost = cost_of(Price(1.0, 4.0), Usage(0, 1_000_000, 0))
    assert cost is not None and cost.thinking_usd == pytest.approx(4.0)


def test_estimated_tokens_make_an_estimated_cost() -> None:
    estimated = cost_of(Price(1.0, 1.0), Usage(10, 5, 5, estimated=True))
    assert estimated is not None and estimated.estimated
    # No reported input: the prompt's estimate is used, and the cost says it is estimated.
    guessed = cost_of(Price(1.0, 1.0), Usage(None, 0, 5), input_estimate=100)
    assert guessed is not None and guessed.estimated
    assert guessed.input_usd == pytest.approx(100 / 1e6)


def test_unknown_price_is_unknown_never_zero() -> None:
    assert cost_of(None, Usage(10, 5, 5)) is None
    assert price_for(ModelConfig("x", "openai", base_url="http://h")) is None
    assert price_for(ModelConfig("fast", "local")) == FREE  # the embedded model runs here
    assert format_usd(None) == "—" and format_usd(0.0) == "free"
    assert format_usd(0.0042) == "$0.0042" and format_usd(1.5) == "$1.50"


def test_price_config_is_checked() -> None:
    parsed = parse_config(
        {"models": {"m": {"provider": "openai", "price": {"input": 0.6, "output": 2.5}}}}
    )
    assert parsed.model("m").price == Price(0.6, 2.5)
    for bad in ({"input": 1}, {"input": -1, "output": 1}, {"input": 1, "output": 1, "x": 2}, 5):
        with pytest.raises(ConfigError):
            parse_config({"models": {"m": {"provider": "openai", "price": bad}}})
    with pytest.raises(ConfigError):
        parse_config({"models": {"m": {"provider": "openai", "daily_cap_usd": "lots"}}})


# -- budgets ------------------------------------------------------------------------------------


def test_budget_choice_moves_to_a_mode_that_fits() -> None:
    costs = {"deep": (0.004, "median"), "fast": (0.0005, "median")}
    assert budget_choice("deep", 0.01, costs) == ("deep", None)
    mode, note = budget_choice("deep", 0.001, costs)
    assert mode == "fast" and note is not None and "budget $0.0010" in note
    mode, note = budget_choice("deep", 0.0001, costs)
    assert mode == "fast" and note is not None and "cheapest" in note
    mode, note = budget_choice("deep", 0.001, {"deep": (None, "no price"), "fast": (0.0, "")})
    assert mode == "deep" and note is not None and "not checked" in note
    mode, note = budget_choice("deep", 0.001, {"deep": (0.5, ""), "fast": (None, "no history")})
    assert mode == "fast" and note is not None and "not known yet: no history" in note


def test_cost_model_needs_history_and_a_price() -> None:
    model = ModelConfig("deep", "openai", base_url="http://h", price=Price(1.0, 10.0))
    request = ChatRequest.from_prompt("What is 2 + 2?")
    costs = CostModel()
    assert costs.expected_usd("deep", model, request)[0] is None  # no history yet
    for thought in (100, 200, 300):
        costs.observe("deep", thought, 10)
    usd, where = costs.expected_usd("deep", model, request)
    assert usd is not None and usd == pytest.approx((4 + 200 * 10 + 10 * 10) / 1e6, rel=0.5)
    assert "3 recent" in where


async def test_ledger_rolls_over_at_utc_midnight_and_seeds_from_the_store() -> None:
    now = [dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.UTC).timestamp()]
    loads: list[tuple[str, float]] = []

    async def load(model: str, since: float) -> float:
        loads.append((model, since))
        return 3.0

    ledger = SpendLedger(load, clock=lambda: now[0])
    capped = ModelConfig("m", "openai", base_url="http://h", daily_cap_usd=5.0)
    assert await ledger.spent_today("m") == 3.0 and loads == [("m", day_start(now[0]))]
    ledger.add("m", 1.5)
    await ledger.check(capped)  # 4.5 of 5
    ledger.add("m", 0.5)
    with pytest.raises(SpendCapError) as info:
        await ledger.check(capped)
    assert "$5.00" in info.value.message and "2026-12-02 00:00 UTC" in info.value.message
    now[0] += 120  # past midnight: a new day, read from the store again
    assert await ledger.spent_today("m") == 3.0 and len(loads) == 2


# -- through the gateway ------------------------------------------------------------------------


def _post(base: str, model: str, **extra: object) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(base + "/v1/chat/completions", json=body, timeout=10)


def _trace(base: str, request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 5
    while True:
        response = httpx.get(f"{base}/api/traces/{request_id}", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 200
    data: dict[str, object] = response.json()
    return data


def test_cost_in_extras_traces_and_metrics(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, PRICED))
    app = create_app(config, ServerSettings(), writer=TraceWriter(tmp_path / "t.db"))
    with ThreadServer(app) as server:
        priced = _post(server.base_url, "priced")
        unpriced = _post(server.base_url, "unpriced")
        streamed = httpx.post(
            server.base_url + "/v1/chat/completions",
            json={"model": "priced", "stream": True,
                  "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        trace = _trace(server.base_url, priced.headers["x-ponder-request-id"])
        metrics = httpx.get(server.base_url + "/metrics").text
        dearest = httpx.get(server.base_url + "/api/traces?sort=cost&limit=1").json()["data"]
        above = httpx.get(server.base_url + "/api/traces?min_cost=0.000001").json()["data"]
    cost = priced.json()["ponder"]["cost"]
    assert cost["input_usd"] == pytest.approx(1000 * 2.0 / 1e6)
    assert cost["thinking_usd"] == pytest.approx(300 * 20.0 / 1e6)
    assert cost["answer_usd"] == pytest.approx(20 * 10.0 / 1e6)
    assert cost["total_usd"] == pytest.approx(0.0082) and cost["estimated"] is False
    assert unpriced.json()["ponder"]["cost"] is None
    final = [line for line in streamed.text.splitlines() if '"event":"finished"' in line]
    assert '"total_usd":0.0082' in final[0]
    assert trace["cost_usd"] == pytest.approx(0.0082)
    assert trace["cost_thinking_usd"] == pytest.approx(0.006)
    assert 'ponder_cost_usd_total{model="priced",mode="deep",part="thinking"} 0.012' in metrics
    assert 'model="unpriced"' not in "\n".join(
        line for line in metrics.splitlines() if line.startswith("ponder_cost_usd_total")
    )
    assert dearest[0]["model"] == "priced"
    assert {t["model"] for t in above} == {"priced"}


def test_daily_cap_refuses_with_429_and_holds_across_a_restart(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, PRICED))
    db = tmp_path / "t.db"
    with ThreadServer(create_app(config, ServerSettings(), writer=TraceWriter(db))) as server:
        first = _post(server.base_url, "capped")  # 1000 input tokens at $1/token: $1000
        assert first.status_code == 200
        _post(server.base_url, "capped")
        _post(server.base_url, "capped")  # $3000 of $2500: the next is refused
        refused = _post(server.base_url, "capped")
        other = _post(server.base_url, "unpriced")
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "spend_cap_reached"
    assert "$2,500.00" in error["message"] or "$2500.00" in error["message"]
    assert "UTC" in error["message"] and "daily_cap_usd" in error["message"]
    assert other.status_code == 200
    # A new process reads today's spend from the store: still refused.
    with ThreadServer(create_app(config, ServerSettings(), writer=TraceWriter(db))) as server:
        again = _post(server.base_url, "capped")
    assert again.status_code == 429


def test_auto_respects_max_cost_usd(tmp_path: Path) -> None:
    extra = """
[models.fast]
provider = "scripted"
thinking = { enabled = false }
price = { input = 1.0, output = 1.0 }
script = [["answer", "4", 1], ["usage", [10, 0, 1]], ["finish", "stop"]]

[models.deep]
provider = "scripted"
price = { input = 1.0, output = 100.0 }
script = [["thinking", "Hmm. ", 1], ["answer", "4", 1], ["usage", [10, 500, 1]],
          ["finish", "stop"]]
"""
    text = write_config(tmp_path).read_text().replace("[models.fast]", "[models.fast-old]")
    text = text.replace("[models.deep]", "[models.deep-old]")
    path = tmp_path / "ponder.toml"
    path.write_text(text + extra)
    config = load_config(path)
    app = create_app(config, ServerSettings(), writer=TraceWriter(tmp_path / "t.db"))
    prompt = [{"role": "user", "content": "Think step by step: what is 4821 × 37?"}]
    with ThreadServer(app) as server:
        for _ in range(3):  # history for the cost estimate
            httpx.post(server.base_url + "/v1/chat/completions",
                       json={"model": "deep", "messages": prompt})  # fmt: skip
        time.sleep(0.3)
        free = httpx.post(server.base_url + "/v1/chat/completions",
                          json={"model": "auto", "messages": prompt}).json()  # fmt: skip
        tight = httpx.post(
            server.base_url + "/v1/chat/completions",
            json={"model": "auto", "messages": prompt, "ponder": {"max_cost_usd": 0.001}},
        ).json()
        header = httpx.post(
            server.base_url + "/v1/chat/completions",
            json={"model": "auto", "messages": prompt},
            headers={"x-ponder-max-cost-usd": "0.001"},
        ).json()
    assert free["ponder"]["mode"] == "deep"
    assert tight["ponder"]["mode"] == "fast", tight["ponder"]["reason"]
    assert "deep would cost ≈$0.050 > budget $0.0010" in tight["ponder"]["reason"]
    assert tight["ponder"]["estimates"]["deep_cost_usd"] > 0.001
    assert header["ponder"]["mode"] == "fast"
