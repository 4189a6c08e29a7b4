"""The hand-over: a layer's opening, then the rest of the stream read directly.

What each layer's opening did must still happen exactly once (its cleanup at the hand-over,
its source left open for the caller), closing at any point must close what is open, an
error in the rest must reach the caller as raised, and once a default-configured model's
stream has committed, its events must pass through no policy's frame."""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar

import pytest

from ponder.config import parse_config
from ponder.engine import Engine
from ponder.events import Answer, Event, Failed, Finished, Started, Thinking
from ponder.policies.breaker import BreakerProvider, CircuitBreaker
from ponder.policies.retry import RetryProvider
from ponder.policies.settings import BreakerPolicy, RetryPolicy
from ponder.providers.base import Provider
from ponder.providers.handover import HandOver, Rest, aclose_stream, closable
from ponder.registry import register
from ponder.request import ChatRequest


class Log(list[str]):
    pass


async def source(log: Log, texts: list[str], fail_after: int | None = None) -> AsyncIterator[Event]:
    try:
        for i, text in enumerate(texts):
            if fail_after is not None and i == fail_after:
                raise ValueError("broke mid-answer")
            yield Answer(text)
    finally:
        log.append("source closed")


async def opening(log: Log, rest: AsyncIterator[Event]) -> AsyncGenerator[Event | Rest, None]:
    try:
        yield Started("r", "m", "fast", "because")
        yield Rest(rest)
        log.append("opening resumed after the hand-over")  # must never run
    except ValueError:
        log.append("opening saw the rest's error")  # nor this
        raise
    finally:
        log.append("opening cleaned up")


async def drain(stream: AsyncIterator[Event]) -> list[Any]:
    return [getattr(e, "text", e.type) async for e in stream]


async def test_the_opening_then_the_rest_and_each_cleanup_once() -> None:
    log = Log()
    stream = HandOver(opening(log, source(log, ["a", "b"])))
    started = await anext(stream)
    assert isinstance(started, Started) and started.reason == "because"
    first = await anext(stream)
    assert isinstance(first, Answer) and first.text == "a"
    assert log == ["opening cleaned up"]  # at the hand-over, before the rest's first event
    assert await drain(stream) == ["b"]
    assert log == ["opening cleaned up", "source closed"]
    await stream.aclose()
    assert log == ["opening cleaned up", "source closed"]  # nothing runs twice


async def test_closing_before_the_hand_over_runs_the_openings_cleanup() -> None:
    log = Log()
    rest = source(log, ["a"])
    stream = HandOver(opening(log, rest))
    await anext(stream)
    await stream.aclose()
    assert log == ["opening cleaned up"]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_closing_after_the_hand_over_closes_the_rest() -> None:
    log = Log()
    stream = HandOver(opening(log, source(log, ["a", "b", "c"])))
    await anext(stream)
    await anext(stream)
    await stream.aclose()
    assert log == ["opening cleaned up", "source closed"]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_an_error_in_the_rest_reaches_the_caller_as_raised() -> None:
    log = Log()
    stream = HandOver(opening(log, source(log, ["a", "b"], fail_after=1)))
    await anext(stream)
    await anext(stream)
    with pytest.raises(ValueError, match="broke mid-answer"):
        await anext(stream)
    assert "opening saw the rest's error" not in log


async def test_an_opening_without_a_rest_ends_the_stream() -> None:
    async def only_failed() -> AsyncGenerator[Event | Rest, None]:
        yield Failed("upstream", "http_error", "no")

    stream = HandOver(only_failed())
    assert [e.type async for e in stream] == ["failed"]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_a_rest_that_was_handed_over_already_is_skipped() -> None:
    log = Log()
    inner = HandOver(opening(log, source(log, ["a", "b"])))
    await anext(inner)  # started
    await anext(inner)  # "a": inner has handed over

    async def outer_opening() -> AsyncGenerator[Event | Rest, None]:
        yield Rest(inner)

    outer = HandOver(outer_opening())
    assert await drain(outer) == ["b"]
    assert outer._rest is not inner and outer._rest is not None  # read past inner's layer
    await outer.aclose()
    assert log == ["opening cleaned up", "source closed"]


# -- the policies' openings --------------------------------------------------------------------


class Stacks(Provider):
    """Two thoughts and three answer deltas; for each delta after the first, the names of the
    frames it is read through (a policy's frame resumed per event would show up here)."""

    seen: ClassVar[list[list[str]]] = []

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        for text in ("t1", "t2"):
            yield Thinking(text)
        for index, text in enumerate(("x", "y", "z")):
            if index:
                type(self).seen.append(callers())
            yield Answer(text)
        yield Finished("stop")


def callers() -> list[str]:
    frame = sys._getframe(2)  # the caller of this generator's frame
    names = []
    while frame is not None:
        names.append(frame.f_code.co_qualname)
        frame = frame.f_back
    return names


register("stacks")(Stacks)


async def test_a_committed_stream_passes_through_no_policy_frame() -> None:
    """The default policies (retries and the breaker) wrap the model: after the first output
    each event goes from the provider's generator to the engine's with nothing between."""
    config = parse_config({"models": {"m": {"provider": "stacks"}}, "router": {"kind": "rules"}})
    engine = Engine(config)
    provider = engine.provider("m")
    assert isinstance(provider, RetryProvider) and isinstance(provider.inner, BreakerProvider)
    Stacks.seen = []
    events = await engine.collect(ChatRequest.from_prompt("q", model="m"))
    await engine.aclose()
    assert [e.type for e in events].count("answer") == 3
    assert len(Stacks.seen) == 2
    for names in Stacks.seen:
        assert names[0] == "Engine.stream"
        policy_frames = [n for n in names if "_opening" in n or n == "attempt"]
        assert policy_frames == []


class Scripted(Provider):
    def __init__(self, events: list[Event | Exception]) -> None:
        super().__init__(parse_config({"models": {"m": {"provider": "stacks"}}}).model("m"))
        self.events = events

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        for item in self.events:
            if isinstance(item, Exception):
                raise item
            yield item


async def test_the_breaker_judges_once_at_the_first_output_and_not_a_later_error() -> None:
    breaker = CircuitBreaker("m", BreakerPolicy(min_requests=1, failure_rate=0.5))
    provider = BreakerProvider(Scripted([Answer("a"), ValueError("later")]), breaker)
    stream = provider.stream(ChatRequest.from_prompt("q", model="m"))
    assert (await anext(stream)).type == "started"
    assert (await anext(stream)).type == "answer"
    with pytest.raises(ValueError):
        await anext(stream)
    await stream.aclose()
    assert breaker.state == "closed"  # the verdict was "healthy", given at the first output


async def test_a_retry_wrapper_hands_over_and_closes_the_upstream_once() -> None:
    log = Log()

    class Closing(Provider):
        async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
            try:
                yield Answer("a")
                yield Answer("b")
                yield Finished("stop")
            finally:
                log.append("upstream closed")

    model = parse_config({"models": {"m": {"provider": "stacks"}}}).model("m")
    retry = RetryProvider(Closing(model), RetryPolicy(attempts=3))
    stream = retry.stream(ChatRequest.from_prompt("q", model="m"))
    kinds = [(await anext(stream)).type for _ in range(3)]
    assert kinds == ["started", "answer", "answer"]
    assert log == []
    await stream.aclose()
    assert log == ["upstream closed"]


async def test_a_rest_without_aclose_is_read_and_closed_quietly() -> None:
    """A rest may be any async iterator (a class with ``__anext__`` only): closing skips it."""

    class Plain:
        def __init__(self) -> None:
            self.items = [Answer("a"), Answer("b")]

        def __aiter__(self) -> Plain:
            return self

        async def __anext__(self) -> Event:
            if not self.items:
                raise StopAsyncIteration
            return self.items.pop(0)

    async def opening() -> AsyncGenerator[Event | Rest, None]:
        yield Rest(Plain())

    stream = HandOver(opening())
    assert (await anext(stream)).type == "answer"
    await stream.aclose()  # no aclose on the rest: nothing to call, nothing raised
    await aclose_stream(Plain())
    with pytest.raises(AssertionError):
        closable(Plain())
