"""Auto mode's rules: categories, modes, reasons, the latency budget."""

from __future__ import annotations

import pytest

from ponder.config import parse_config
from ponder.request import ChatRequest, ThinkingSettings
from ponder.router.default import load_default_router
from ponder.router.latency import LatencyTracker
from ponder.router.rules import CATEGORIES, CATEGORY_MODE, REASONS, RuleRouter, is_multistep_math

CASES = [
    ("hi!", "small_talk", "fast"),
    ("Thanks, that helped", "small_talk", "fast"),
    ("good morning", "small_talk", "fast"),
    ("The quick brown fox jumps over the...", "autocomplete", "fast"),
    ("Complete this sentence: the best way to learn is", "autocomplete", "fast"),
    ("What is the capital of France?", "simple_fact", "fast"),
    ("Who wrote Hamlet?", "simple_fact", "fast"),
    ("What is 2 + 2?", "simple_fact", "fast"),
    ("Translate to German: where is the station?", "light_edit", "fast"),
    ("Summarize this paragraph: cats sleep a lot.", "light_edit", "fast"),
    ("What is 4821 × 37?", "arithmetic", "deep"),
    ("4821*37", "arithmetic", "deep"),
    ("How much is 5930 plus 2871?", "arithmetic", "deep"),
    ("compute 482 times 7", "arithmetic", "deep"),
    ("Solve for x: 3x + 5 = 20", "arithmetic", "deep"),
    (
        "Orders: ann 30, bob 20, ann 15. Refunds: ann 30. Who are the top 2 spenders, "
        "excluding customers who refunded more than half of their orders?",
        "ledger",
        "deep",
    ),
    ("Write SQL to find each customer's total spend in March", "sql", "deep"),
    ("SELECT name FROM users WHERE id = 3 -- why is this slow?", "sql", "deep"),
    ("Analyze this CSV of sales and find the trend", "data_analysis", "deep"),
    ("Refactor this function to remove the global state", "refactor", "deep"),
    ("Here's a traceback from my tests, can you debug it?", "refactor", "deep"),
    ("What are the trade-offs between Kafka and RabbitMQ here?", "planning", "deep"),
    (
        "Write an essay on rivers in exactly 5 paragraphs; each must mention a city.",
        "long_form",
        "deep",
    ),
    ("Think step by step: is 91 prime?", "explicit_deep", "deep"),
    ("Please think hard about this one: hi", "explicit_deep", "deep"),
    ("Quick answer: what is 4821 × 37?", "explicit_fast", "fast"),
    ("Explain photosynthesis", "default", "fast"),
    ("x " * 1000, "long_prompt", "deep"),
]


@pytest.mark.parametrize(("text", "category", "mode"), CASES)
def test_categories_and_modes(text: str, category: str, mode: str) -> None:
    assert RuleRouter.categorise(text) == category
    decision = RuleRouter().decide(ChatRequest.from_prompt(text))
    assert decision.mode == mode
    assert decision.reason == REASONS[category]


def test_every_category_has_a_mode_and_a_one_line_reason() -> None:
    assert set(CATEGORIES) == set(CATEGORY_MODE) == set(REASONS)
    for reason in REASONS.values():
        assert reason and "\n" not in reason and len(reason) < 120
    assert RuleRouter.categories == CATEGORIES


def test_multistep_math_threshold() -> None:
    assert not is_multistep_math("2 + 2")
    assert not is_multistep_math("12 + 34")
    assert is_multistep_math("123 + 456")
    assert is_multistep_math("12 × 34")
    assert is_multistep_math("4821 × 7")
    assert is_multistep_math("1 + 2 + 3")
    assert not is_multistep_math("in 2024 the team grew")
    assert not is_multistep_math("What happened on 2024-01-31?")
    assert not is_multistep_math("Meet at 10:30 - 11:45?")


def test_client_thinking_setting_wins_over_text() -> None:
    router = RuleRouter()
    on = ChatRequest.from_prompt("hi", thinking=ThinkingSettings(enabled=True))
    off = ChatRequest.from_prompt("Refactor this code", thinking=ThinkingSettings(enabled=False))
    assert router.decide(on).mode == "deep" and "thinking.enabled=true" in router.decide(on).reason
    assert router.decide(off).mode == "fast"


def test_latency_budget_forces_fast_when_deep_cannot_meet_it() -> None:
    router = RuleRouter(LatencyTracker({"deep": 4000.0}))
    tight = ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=500)
    decision = router.decide(tight)
    assert decision.mode == "fast"
    assert "latency budget 500 ms" in decision.reason and "4000 ms" in decision.reason
    assert "configured estimate" in decision.reason
    assert decision.estimates == {"deep_ttfa_ms": 4000.0, "max_ttfa_ms": 500}
    loose = ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=10_000)
    assert router.decide(loose).mode == "deep"
    explicit = ChatRequest.from_prompt("think hard: hi", max_ttfa_ms=500)
    assert router.decide(explicit).mode == "fast"  # a hard budget beats a soft wish


def test_budget_uses_recent_observations_over_the_default() -> None:
    tracker = LatencyTracker({"deep": 4000.0}, min_samples=3)
    router = RuleRouter(tracker)
    request = ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=1000)
    assert router.decide(request).mode == "fast"
    for ttfa in (300.0, 350.0, 400.0, 380.0):
        tracker.observe("deep", ttfa)
    decision = router.decide(request)
    assert decision.mode == "deep"
    assert decision.estimates is not None and decision.estimates["deep_ttfa_ms"] < 1000
    value, source = tracker.estimate("deep")
    assert value is not None and "recent requests" in source


def test_fast_requests_ignore_the_budget() -> None:
    decision = RuleRouter().decide(ChatRequest.from_prompt("hello", max_ttfa_ms=1))
    assert decision.mode == "fast" and decision.estimates is None


def test_default_router_reads_config_estimates() -> None:
    config = parse_config({"router": {"deep_ttfa_ms": 250}})
    router = load_default_router(config)
    request = ChatRequest.from_prompt("What is 4821 × 37?", max_ttfa_ms=300)
    assert router.decide(request).mode == "deep"
