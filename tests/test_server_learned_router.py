"""``auto`` on a real ``ponder serve`` with no ``[router]`` table routes with the shipped learned
router, as the README promises: a decision the rule router would not make, with the learned
router's estimates on the ``started`` event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.config import parse_config
from ponder.request import ChatRequest
from ponder.router.default import latency_tracker
from ponder.router.rules import RuleRouter
from tests.gateway_harness import Served, serve_subprocess

# Scripted fast and deep models, and no [router] table: the shipped default decides.
CONFIG = """
[models.fast]
provider = "scripted"
thinking = { enabled = false }
script = [["answer", "68", 1], ["finish", "stop"]]

[models.deep]
provider = "scripted"
script = [["thinking", "3 + 5 = 8, 2 + 4 = 6. ", 1], ["answer", "68", 1], ["finish", "stop"]]
"""
# The rule router calls this a simple factual question (fast); the learned router's data say
# the embedded model's fast mode gets such sums wrong often enough that deep is cheaper.
PROMPT = "What is 23 + 45?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("learned")
    config = directory / "ponder.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with serve_subprocess(config, directory / "traces.db") as server:
        yield server


def started_event(served: Served, prompt: str) -> dict[str, Any]:
    body = {"model": "auto", "messages": [{"role": "user", "content": prompt}], "stream": True}
    with httpx.stream("POST", served.base_url + "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                if chunk.get("ponder", {}).get("event") == "started":
                    started: dict[str, Any] = chunk["ponder"]
                    return started
    raise AssertionError("no started event in the stream")


def test_the_rule_router_would_answer_fast() -> None:
    """The premise of the next test: this prompt tells the two routers apart."""
    rules = RuleRouter(latency_tracker(parse_config({})))
    assert rules.decide(ChatRequest.from_prompt(PROMPT)).mode == "fast"


def test_auto_uses_the_learned_router_with_its_estimates(served: Served) -> None:
    started = started_event(served, PROMPT)
    # Deep is chosen, and since the embedded verifier checks this sum and fast is likely
    # right, auto races the two behind it (the hedge) and says so.
    assert (started["mode"], started["model"]) == ("deep", "hedge")
    assert started["reason"].startswith("P(fast correct) ")
    assert "; hedge: the embedded verifier applies and hedging pays" in started["reason"]
    estimates = started["estimates"]
    assert set(estimates) >= {"p_fast", "p_deep", "ttfa_fast_ms", "ttfa_deep_ms"}
    assert 0.3 < estimates["p_fast"] < estimates["p_deep"] <= 1.0


def test_outside_its_data_the_learned_router_says_the_rules_decided(served: Served) -> None:
    started = started_event(served, "hello there!")
    assert started["mode"] == "fast"
    assert "(rules: unlike the learned router's data" in started["reason"]


def test_the_served_config_has_no_router_table(served: Served) -> None:
    text = Path(served.db).with_name("ponder.toml").read_text(encoding="utf-8")
    assert "[router]" not in text
