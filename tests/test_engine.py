from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ponder.config import ModelConfig, ThinkingConfig, parse_config
from ponder.engine import Engine
from ponder.errors import UnknownModelError
from ponder.events import Answer, Event, Failed, Finished, Progress, Started, Thinking, Usage
from ponder.request import ChatRequest
from ponder.router.base import Decision
from tests.fakes import ScriptedProvider


def engine_with(script: list[list[Any]], **kwargs: Any) -> Engine:
    config = parse_config(
        {
            "models": {
                "m": {"provider": "scripted", "script": script},
                "fast": {"provider": "scripted", "script": script, "thinking": {"enabled": False}},
                "deep": {"provider": "scripted", "script": script},
            }
        }
    )
    return Engine(config, **kwargs)


async def run(engine: Engine, model: str = "m") -> list[Event]:
    return await engine.collect(ChatRequest.from_prompt("q", model=model))


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


async def test_started_first_usage_once_terminal_last_with_timings() -> None:
    events = await run(
        engine_with(
            [
                ["thinking", "The question asks for a sum. "],
                ["thinking", "Add the digits with a carry.\n", 5],
                ["answer", "42"],
                ["finish", "stop"],
            ]
        )
    )
    assert types(events)[0] == "started"
    assert types(events)[-1] == "finished"
    assert types(events).count("usage") == 1
    started = events[0]
    assert isinstance(started, Started) and started.mode == "deep"
    assert started.reason == "the client chose 'm'"
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.estimated is True
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.timings is not None
    assert finished.timings["ttfa_ms"] is not None
    assert finished.timings["ttfa_ms"] >= finished.timings["ttft_ms"] >= 0  # type: ignore[operator]
    # progress comes from the thoughts, before the first answer token
    first_answer = next(i for i, e in enumerate(events) if isinstance(e, Answer))
    progress = [i for i, e in enumerate(events) if isinstance(e, Progress)]
    assert progress and progress[0] < first_answer


async def test_reported_usage_is_passed_through_not_estimated() -> None:
    events = await run(engine_with([["answer", "hi"], ["usage", [3, 0, 1]], ["finish", "stop"]]))
    usage = [e for e in events if isinstance(e, Usage)]
    assert len(usage) == 1 and usage[0].estimated is False and usage[0].answer_tokens == 1


async def test_raised_upstream_error_keeps_deltas_and_ends_failed() -> None:
    events = await run(
        engine_with([["thinking", "so far"], ["answer", "part"], ["raise", "overloaded"]])
    )
    assert [e.text for e in events if isinstance(e, Thinking | Answer)] == ["so far", "part"]
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.status == 503 and failed.retryable and "overloaded" in failed.message
    assert types(events).count("usage") == 1


async def test_stream_without_terminal_event_is_reported_broken() -> None:
    events = await run(engine_with([["answer", "cut"]]))
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.code == "stream_broken"


async def test_a_bug_in_a_provider_still_ends_the_stream_cleanly() -> None:
    events = await run(engine_with([["crash", "secret-ish detail"]]))
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.code == "internal_error"
    assert "secret-ish" not in failed.message


async def test_unknown_model_raises_before_anything_is_sent() -> None:
    with pytest.raises(UnknownModelError):
        await run(engine_with([]), model="nope")


async def test_closing_the_stream_runs_provider_cleanup() -> None:
    engine = engine_with([["thinking", "a"], ["thinking", "b", 5000], ["finish", "stop"]])
    before = ScriptedProvider.closed

    async def consume() -> None:
        async for _ in engine.stream(ChatRequest.from_prompt("q", model="m")):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ScriptedProvider.closed == before + 1


class AlwaysDeep:
    def decide(self, request: ChatRequest) -> Decision:
        return Decision("deep", "test says deep", {"p_fast": 0.2})


async def test_auto_routes_and_says_why() -> None:
    engine = engine_with([["answer", "x"], ["finish", "stop"]], router=AlwaysDeep())
    events = await run(engine, model="auto")
    started = events[0]
    assert isinstance(started, Started)
    # The reason also says why auto did not hedge (no verifier recognises "q").
    assert (started.model, started.mode, started.reason) == (
        "deep", "deep", "test says deep; not hedged: the embedded verifier does not apply"
    )
    assert started.estimates == {"p_fast": 0.2}


def test_mode_follows_thinking_switch() -> None:
    provider = ScriptedProvider(
        ModelConfig("m", "scripted", thinking=ThinkingConfig(enabled=False))
    )
    assert provider.mode_for(ChatRequest.from_prompt("q")) == "fast"


async def test_last_thought_step_is_named_before_the_answer() -> None:
    # The final sentence has no terminator, so only closing the narrator can name it; that
    # must happen when the answer starts, not at the end of the stream.
    events = await run(engine_with([
        ["thinking", "The question asks for a sum. Then check the result"],
        ["answer", "42"],
        ["answer", " done"],
        ["finish", "stop"],
    ]))
    first_answer = next(i for i, e in enumerate(events) if isinstance(e, Answer))
    labels_before = [e for e in events[:first_answer] if isinstance(e, Progress)]
    labels_after = [e for e in events[first_answer:] if isinstance(e, Progress)]
    assert len(labels_before) >= 2 and labels_after == []
    assert [p.index for p in labels_before] == list(range(len(labels_before)))
