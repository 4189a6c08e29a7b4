"""The policies on their own: breaker states, backoff and Retry-After, config errors, and the
one-``started`` contract (stamped at the first attempt) over in-process providers."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ponder.config import ModelConfig, parse_config
from ponder.engine import Engine
from ponder.errors import CircuitOpenError, ConfigError, UpstreamError
from ponder.events import Answer, Event, Failed, Finished, Started, Thinking
from ponder.policies.breaker import CircuitBreaker
from ponder.policies.fallback import FallbackProvider
from ponder.policies.retry import RetryProvider
from ponder.policies.settings import BreakerPolicy, RetryPolicy
from ponder.providers.base import Provider
from ponder.providers.http import retry_after_s
from ponder.request import ChatRequest


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_cools_down_and_lets_one_probe_through() -> None:
    clock = Clock()
    policy = BreakerPolicy(window_s=10, min_requests=4, failure_rate=0.5, cooldown_s=5)
    breaker = CircuitBreaker("m", policy, clock)
    for failed in (False, True, False):
        breaker.record(breaker.admit(), failed)
    assert breaker.state == "closed"  # 1 of 3: under the minimum count
    breaker.record(breaker.admit(), True)  # 2 of 4 = 50%
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as refused:
        breaker.admit()
    assert refused.value.retry_after_s == 5
    clock.now = 5
    assert breaker.state == "half_open"
    probe = breaker.admit()
    assert probe is True
    with pytest.raises(CircuitOpenError):
        breaker.admit()  # one probe at a time
    breaker.record(probe, True)
    assert breaker.state == "open" and breaker.opened == 2
    clock.now = 10
    probe = breaker.admit()
    breaker.record(probe, False)
    assert breaker.state == "closed"
    breaker.record(breaker.admit(), True)
    assert breaker.state == "closed"  # the window was cleared on closing


def test_breaker_window_forgets_old_outcomes() -> None:
    clock = Clock()
    breaker = CircuitBreaker("m", BreakerPolicy(window_s=10, min_requests=2), clock)
    breaker.record(breaker.admit(), True)
    clock.now = 11
    breaker.record(breaker.admit(), True)
    assert breaker.state == "closed"  # the first failure left the window


def test_a_probe_that_says_nothing_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker("m", BreakerPolicy(min_requests=1, cooldown_s=1), clock)
    breaker.record(breaker.admit(), True)
    clock.now = 1
    breaker.record(breaker.admit(), None)  # e.g. the client went away
    assert breaker.admit() is True


def test_full_jitter_backoff_is_capped_and_retry_after_wins() -> None:
    policy = RetryPolicy(attempts=5, backoff_ms=100, max_backoff_ms=400, max_retry_after_ms=2000)
    retry = RetryProvider(Scripted([]), policy, rng=random.Random(1))
    draws = [retry.backoff_s(n, None) for n in (1, 2, 3, 4) for _ in range(200)]
    assert all(d is not None and 0 <= d <= 0.4 for d in draws)
    assert max(d for d in draws[:200] if d is not None) <= 0.1
    assert retry.backoff_s(1, 1.5) == 1.5
    assert retry.backoff_s(1, 3.0) is None  # asks for more than max_retry_after_ms


def test_retry_after_header_forms() -> None:
    assert retry_after_s({"retry-after": "7"}) == 7
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after_s({"retry-after": date})
    assert wait is not None and 25 <= wait <= 31
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"retries": {"attempts": 0}}, "retries.attempts must be at least 1"),
        ({"retries": {"tries": 3}}, "retries has unknown keys: tries"),
        ({"timeouts": {"ttft_ms": "fast"}}, "timeouts.ttft_ms has a value of the wrong type"),
        ({"fallbacks": ["nowhere"]}, "fallbacks names 'nowhere', which is not a model"),
        ({"fallbacks": ["m"]}, "the model itself"),
        ({"breaker": {"failure_rate": 2}}, "breaker.failure_rate must be in (0, 1]"),
    ],
)
def test_policy_config_errors_say_what_to_fix(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"models": {"m": {"provider": "scripted", **table}}})
    assert message in error.value.message


def test_defaults_and_zero_turns_a_timeout_off() -> None:
    timeouts = {"connect_ms": 0, "ttft_ms": 500}
    model = {"provider": "scripted", "breaker": False, "timeouts": timeouts}
    config = parse_config({"models": {"m": model}})
    policies = config.model("m").policies
    assert policies.timeouts.connect_ms is None and policies.timeouts.ttft_ms == 500
    assert not policies.breaker.enabled and policies.retries.attempts == 3
    assert config.model("fast").policies.fallbacks == ()


class Scripted(Provider):
    """Each stream plays the next script: events to yield, or an exception to raise."""

    def __init__(self, scripts: list[list[Event | Exception]], name: str = "m") -> None:
        super().__init__(ModelConfig(name, "test"))
        self.scripts = scripts
        self.calls = 0
        self.generated_at: list[int] = []  # when each attempt began generating

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.generated_at.append(time.perf_counter_ns())
        script = self.scripts[min(self.calls, len(self.scripts) - 1)]
        self.calls += 1
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item


async def _no_sleep(seconds: float) -> None:
    return None


async def _collect(provider: Provider) -> list[Event]:
    return [e async for e in provider.stream(ChatRequest.from_prompt("q", model="m"))]


async def test_one_started_stamped_at_the_first_attempt() -> None:
    inner = Scripted([[UpstreamError("m", 503, "busy")], [Answer("hi"), Finished("stop")]])
    retry = RetryProvider(inner, RetryPolicy(attempts=3), sleep=_no_sleep)
    events = await _collect(retry)
    started = [e for e in events if isinstance(e, Started)]
    assert len(started) == 1 and inner.calls == 2
    first, second = inner.generated_at
    assert started[0].at_ns <= first < second  # the zero is the first attempt's start
    assert [e.type for e in events] == ["started", "answer", "finished"]
    assert retry.retried == 1


async def test_no_retry_once_a_thought_went_out() -> None:
    inner = Scripted([[Thinking("hm"), UpstreamError("m", 503, "dropped")]])
    retry = RetryProvider(inner, RetryPolicy(attempts=3), sleep=_no_sleep)
    with pytest.raises(UpstreamError):
        await _collect(retry)
    assert inner.calls == 1


async def test_client_errors_are_neither_retried_nor_fallen_back_from() -> None:
    primary = Scripted([[UpstreamError("m", 400, "bad request")]])
    backup = Scripted([[Answer("b"), Finished("stop")]], name="b")
    chain = FallbackProvider(RetryProvider(primary, RetryPolicy(), sleep=_no_sleep), [backup])
    events = await _collect(chain)
    assert primary.calls == 1 and backup.calls == 0
    assert isinstance(events[-1], Failed) and events[-1].status == 400
    assert [e.type for e in events] == ["started", "failed"]


async def test_engine_wraps_models_from_the_config() -> None:
    config = parse_config(
        {"models": {"m": {"provider": "scripted", "fallbacks": ["fast"],
                          "script": [["raise", "down"]], "retries": {"attempts": 1}}}}
    )
    engine = Engine(config)
    try:
        events = await engine.collect(ChatRequest.from_prompt("What is 2+3?", model="m"))
    finally:
        await engine.aclose()
    started = next(e for e in events if isinstance(e, Started))
    assert started.model == "fast" and started.mode == "fast"
    assert started.reason.endswith("m: HTTP 503 → fast")
    assert isinstance(events[-1], Finished)


async def test_connect_ms_is_the_http_clients_connect_timeout() -> None:
    from ponder.providers.http import make_client

    model = {"provider": "openai", "base_url": "http://x/v1", "timeouts": {"connect_ms": 1500}}
    client = make_client(parse_config({"models": {"m": model}}).model("m"), "http://x/v1")
    try:
        assert client.timeout.connect == 1.5 and client.timeout.read == 600.0
    finally:
        await client.aclose()
