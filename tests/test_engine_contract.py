"""The engine's stream contract, event by event: with a narrator whose labels are known, the
exact sequence (progress indices, where the last step is named, the estimated usage), the
exact failure for each way a stream can go wrong, and the provider cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from ponder.config import AUTO, ModelConfig, parse_config
from ponder.engine import Engine, default_router
from ponder.events import Answer, Event, Failed, Finished, Progress, Started, Thinking, Usage
from ponder.providers.base import Provider
from ponder.registry import register
from ponder.request import ChatRequest
from ponder.router.rules import RuleRouter
from ponder.tokens import estimate_tokens

TIMING_KEYS = {
    "ttft_ms", "ttfa_ms", "thinking_ms", "e2e_ms", "decode_tps", "effective_tps",
    "itl_p50_ms", "itl_p95_ms", "itl_p99_ms",
}


class EchoNarrator:
    """Labels every thought delta ``saw <text>``; closing names two last steps, once."""

    made: ClassVar[list[EchoNarrator]] = []  # every narrator the engine asked for, in order

    def __init__(self) -> None:
        self.closed = 0
        type(self).made.append(self)

    def feed(self, text: str) -> list[str]:
        return [f"saw {text}"]

    def close(self) -> list[str]:
        self.closed += 1
        return ["last step", "checked"] if self.closed == 1 else []


@register("raising")
class RaisingProvider(Provider):
    """Sends one thought, then raises the exception named in its options."""

    closes = 0

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        yield Thinking("so far")
        kind = self.config.options["raise"]
        if kind == "connect":
            raise httpx.ConnectError("refused")
        raise KeyError("a bug")

    async def aclose(self) -> None:
        type(self).closes += 1


def engine(script: list[list[Any]] | None = None, **table: Any) -> Engine:
    model = {"provider": "scripted", "script": script or [], **table}
    config = parse_config({"models": {"m": model}, "router": {"kind": "rules"}})
    return Engine(config, narrator_factory=EchoNarrator)


async def events_of(e: Engine, model: str = "m") -> list[Event]:
    try:
        return await e.collect(ChatRequest.from_prompt("q", model=model))
    finally:
        await e.aclose()


def without_times(events: list[Event]) -> list[Any]:
    """Events with their timestamps and timings cleared, to compare sequences exactly."""
    out: list[Any] = []
    for event in events:
        event = replace(event, at_ns=0)
        if isinstance(event, Finished):
            event = replace(event, timings=None)
        out.append(event)
    return out


async def test_the_exact_sequence_of_a_thought_then_an_answer() -> None:
    events = await events_of(engine([
        ["thinking", "ab"], ["thinking", "cd"], ["answer", ""], ["answer", "x"],
        ["answer", "yz"], ["finish", "stop"],
    ]))
    started = events[0]
    assert isinstance(started, Started)
    assert without_times(events[1:]) == [
        Thinking("ab", at_ns=0),
        Progress("saw ab", 0, at_ns=0),
        Thinking("cd", at_ns=0),
        Progress("saw cd", 1, at_ns=0),
        Answer("", at_ns=0),  # an empty delta does not end the thoughts
        Progress("last step", 2, at_ns=0),  # named when the answer starts
        Progress("checked", 3, at_ns=0),
        Answer("x", at_ns=0),
        Answer("yz", at_ns=0),
        Usage(None, estimate_tokens("abcd"), estimate_tokens("xyz"), estimated=True, at_ns=0),
        Finished("stop", at_ns=0),
    ]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.timings is not None
    assert set(finished.timings) == TIMING_KEYS
    assert finished.timings["ttfa_ms"] is not None and finished.timings["e2e_ms"] is not None
    assert finished.timings["thinking_ms"] is not None
    # Closed when the answer started and at the finish, not again for each answer delta.
    assert EchoNarrator.made[-1].closed == 2


async def test_thoughts_that_never_reach_an_answer_are_closed_at_the_finish() -> None:
    events = await events_of(engine([["thinking", "ab"], ["finish", "length"]]))
    assert without_times(events[1:]) == [
        Thinking("ab", at_ns=0),
        Progress("saw ab", 0, at_ns=0),
        Usage(None, estimate_tokens("ab"), 0, estimated=True, at_ns=0),
        Progress("last step", 1, at_ns=0),
        Progress("checked", 2, at_ns=0),
        Finished("length", at_ns=0),
    ]


async def test_reported_usage_is_fed_to_the_meter_and_not_estimated_again() -> None:
    events = await events_of(
        engine([["answer", "hi"], ["usage", [3, 0, 7]], ["finish", "stop"]])
    )
    assert without_times(events[1:]) == [
        Progress("last step", 0, at_ns=0),
        Progress("checked", 1, at_ns=0),
        Answer("hi", at_ns=0),
        Usage(3, 0, 7, at_ns=0),
        Finished("stop", at_ns=0),
    ]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.timings is not None
    assert finished.timings["effective_tps"] is not None  # the meter counted 7 answer tokens


async def test_a_stream_without_a_finish_is_broken_by_name() -> None:
    events = await events_of(engine([["thinking", "ab"], ["answer", "x"]]))
    assert without_times(events[-2:]) == [
        Usage(None, estimate_tokens("ab"), estimate_tokens("x"), estimated=True, at_ns=0),
        Failed(
            side="upstream", code="stream_broken", retryable=True,
            message="m: the stream ended without a finish signal.", at_ns=0,
        ),
    ]


async def test_a_failed_event_ends_the_stream_with_the_estimate_first() -> None:
    events = await events_of(engine([["answer", "part"], ["fail", "dropped"]]))
    assert without_times(events[-2:]) == [
        Usage(None, 0, estimate_tokens("part"), estimated=True, at_ns=0),
        Failed(side="upstream", code="test", message="dropped", at_ns=0),
    ]


async def test_a_connection_failure_is_a_network_failure_by_name() -> None:
    events = await events_of(engine(provider="raising", **{"raise": "connect"}))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert (failed.side, failed.code, failed.retryable) == ("network", "upstream_unreachable", True)
    assert failed.message == "m: connection failed: ConnectError"
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.thinking_tokens == estimate_tokens("so far")


async def test_a_bug_below_is_an_internal_error_that_names_only_its_type() -> None:
    events = await events_of(engine(provider="raising", **{"raise": "bug"}))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert (failed.side, failed.code) == ("ponder", "internal_error")
    assert failed.message == "m: internal error (KeyError); see server log."


async def test_providers_are_cached_per_name_and_closed_once() -> None:
    e = engine(provider="raising", **{"raise": "bug"})
    first = e.provider("m")
    assert e.provider("m") is first
    router = e.provider(AUTO)
    assert e.provider(AUTO) is router
    assert router.config == ModelConfig(AUTO, "router") and router.name == "auto"
    before = RaisingProvider.closes
    await e.aclose()
    assert RaisingProvider.closes == before + 1
    assert e.provider("m") is not first  # aclose forgot them


def test_the_default_router_reads_the_config() -> None:
    config = parse_config({"router": {"kind": "rules"}})
    assert isinstance(default_router(config), RuleRouter)
    assert isinstance(Engine(config).router, RuleRouter)
