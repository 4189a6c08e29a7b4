"""The engine's wiring, asserted exactly: the spend-cap wrapper (only when a model has a cap
and the engine a ledger), the cost estimate and hedge handed to ``auto``, the router's figures
handed to wrapper kinds, how wrappers' own ``progress`` steps are renumbered, the "Calling X"
step of a tool call, the estimate of usage on every ending, and the models named when a
model refuses a forced tool call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from ponder.budget import SpendCapProvider, SpendLedger
from ponder.config import AUTO, Config, ModelConfig, parse_config
from ponder.engine import Engine
from ponder.errors import ToolsUnsupportedError
from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Progress,
    Thinking,
    ToolCallStart,
    Usage,
)
from ponder.policies.hedge import AutoHedge
from ponder.providers.base import Provider
from ponder.registry import register
from ponder.request import ChatRequest, ToolChoice, ToolSpec
from ponder.router.base import Decision, RoutingProvider
from ponder.tokens import estimate_tokens


class CountingNarrator:
    """Labels every thought delta ``saw <text>``; its first close names one last step."""

    def __init__(self) -> None:
        self.closed = 0

    def feed(self, text: str) -> list[str]:
        return [f"saw {text}"]

    def close(self) -> list[str]:
        self.closed += 1
        return ["wrapped up"] if self.closed == 1 else []


@register("listed-events")
class ListedProvider(Provider):
    """Streams the events its ``events`` option lists."""

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        for kind, *args in self.config.options.get("events", []):
            if kind == "thinking":
                yield Thinking(args[0])
            elif kind == "answer":
                yield Answer(args[0])
            elif kind == "progress":
                yield Progress(args[0], args[1])
            elif kind == "tool":
                yield ToolCallStart(args[0], args[1], args[2])
            elif kind == "usage":
                yield Usage(args[0], args[1], args[2])
            elif kind == "finish":
                yield Finished(args[0])


@register("listed-no-tools")
class NoToolsProvider(ListedProvider):
    supports_tools: ClassVar[bool] = False


def engine_of(events: list[list[Any]], **kwargs: Any) -> Engine:
    config = parse_config(
        {"models": {"m": {"provider": "listed-events", "events": events}},
         "router": {"kind": "rules"}}
    )
    return Engine(config, narrator_factory=CountingNarrator, **kwargs)


async def events_of(e: Engine, model: str = "m") -> list[Event]:
    try:
        return await e.collect(ChatRequest.from_prompt("q", model=model))
    finally:
        await e.aclose()


def untimed(events: list[Event]) -> list[Any]:
    out: list[Any] = []
    for event in events[1:]:  # the started event aside
        event = replace(event, at_ns=0)
        if isinstance(event, Finished):
            event = replace(event, timings=None)
        out.append(event)
    return out


async def test_wrappers_steps_share_the_count_and_markers_pass_unchanged() -> None:
    events = await events_of(engine_of([
        ["thinking", "ab"],
        ["progress", "hedge: racing", 0],  # renumbered after the narrator's step 0
        ["progress", "fell back to fast", -1],  # a marker: as it is, and not counted
        ["progress", "hedge: deep wins", 7],
        ["thinking", "cd"],
        ["answer", "x"],
        ["finish", "stop"],
    ]))
    assert untimed(events) == [
        Thinking("ab", at_ns=0),
        Progress("saw ab", 0, at_ns=0),
        Progress("hedge: racing", 1, at_ns=0),
        Progress("fell back to fast", -1, at_ns=0),
        Progress("hedge: deep wins", 2, at_ns=0),
        Thinking("cd", at_ns=0),
        Progress("saw cd", 3, at_ns=0),
        Progress("wrapped up", 4, at_ns=0),
        Answer("x", at_ns=0),
        Usage(None, estimate_tokens("abcd"), estimate_tokens("x"), estimated=True, at_ns=0),
        Finished("stop", at_ns=0),
    ]


async def test_a_wrappers_first_step_is_step_zero() -> None:
    events = await events_of(engine_of([["progress", "hedge: racing", 3], ["finish", "stop"]]))
    assert untimed(events) == [
        Progress("hedge: racing", 0, at_ns=0),
        Usage(None, 0, 0, estimated=True, at_ns=0),
        Progress("wrapped up", 1, at_ns=0),
        Finished("stop", at_ns=0),
    ]


async def test_a_tool_call_names_its_step_and_later_thoughts_start_a_new_narration() -> None:
    events = await events_of(engine_of([
        ["thinking", "ab"],
        ["tool", 0, "call_1", "get_weather"],
        ["thinking", "cd"],
        ["tool", 1, "call_2", "get_time"],
        ["finish", "tool_calls"],
    ]))
    assert untimed(events) == [
        Thinking("ab", at_ns=0),
        Progress("saw ab", 0, at_ns=0),
        Progress("wrapped up", 1, at_ns=0),  # the thoughts before the call are closed
        ToolCallStart(0, "call_1", "get_weather", at_ns=0),
        Progress("Calling get_weather", 2, at_ns=0),
        Thinking("cd", at_ns=0),
        Progress("saw cd", 3, at_ns=0),
        Progress("wrapped up", 4, at_ns=0),  # a new narrator, closed for the first time
        ToolCallStart(1, "call_2", "get_time", at_ns=0),
        Progress("Calling get_time", 5, at_ns=0),
        # The calls' names are output the meter counts (it was fed the tool-call events).
        Usage(None, estimate_tokens("abcd"), estimate_tokens("get_weatherget_time"),
              estimated=True, at_ns=0),
        Progress("wrapped up", 6, at_ns=0),  # and the narrator after the second call
        Finished("tool_calls", at_ns=0),
    ]


async def test_reported_usage_is_not_estimated_again_when_the_stream_breaks() -> None:
    events = await events_of(engine_of([["answer", "hi"], ["usage", 3, 0, 7]]))
    assert untimed(events)[-2:] == [
        Usage(3, 0, 7, at_ns=0),
        Failed(
            side="upstream", code="stream_broken", retryable=True,
            message="m: the stream ended without a finish signal.", at_ns=0,
        ),
    ]


async def test_an_estimate_is_marked_and_counts_thoughts_and_answer_apart() -> None:
    events = await events_of(
        engine_of([["thinking", "one two three"], ["answer", "four"], ["finish", "stop"]])
    )
    (usage,) = [e for e in events if isinstance(e, Usage)]
    assert replace(usage, at_ns=0) == Usage(
        input_tokens=None, thinking_tokens=estimate_tokens("one two three"),
        answer_tokens=estimate_tokens("four"), estimated=True, at_ns=0,
    )
    assert usage.thinking_tokens != usage.answer_tokens  # the two texts are told apart


async def test_a_forced_tool_call_refused_names_the_models_that_can_call_tools() -> None:
    config = parse_config({
        "models": {
            "m": {"provider": "listed-no-tools"},
            "gone": {"provider": "no-such-kind"},  # skipped, and the rest still listed
            "caller": {"provider": "listed-events"},
        },
        "router": {"kind": "rules"},
    })
    e = Engine(config, narrator_factory=CountingNarrator)
    capable = e.tool_capable_models()
    # The built-in models that can (config order), then this file's one.
    assert capable == [*Engine(parse_config({})).tool_capable_models(), "caller"]
    forced = ChatRequest.from_prompt(
        "q", model="m", tools=(ToolSpec("get_time"),), tool_choice=ToolChoice("required")
    )
    try:
        events = await e.collect(forced)
    finally:
        await e.aclose()
    # Refused before anything was sent: no started event, the estimate, then the refusal.
    assert [replace(event, at_ns=0) for event in events] == [
        Usage(None, 0, 0, estimated=True, at_ns=0),
        replace(ToolsUnsupportedError("m", capable).to_event(), at_ns=0),
    ]
    assert events[-1].message.endswith(  # type: ignore[union-attr]
        f"Models configured here that can: {', '.join(sorted(capable))}."
    )


def test_tool_capable_models_exactly() -> None:
    config = Config(models={
        "a": ModelConfig("a", "listed-events"),
        "b": ModelConfig("b", "listed-no-tools"),
        "c": ModelConfig("c", "no-such-kind"),
        "d": ModelConfig("d", "listed-events"),
    })
    assert Engine(config).tool_capable_models() == ["a", "d"]


def capped(**table: Any) -> Config:
    return parse_config({
        "models": {
            "m": {"provider": "listed-events", "events": [["answer", "ok"], ["finish", "stop"]],
                  **table},
        },
        "router": {"kind": "rules"},
    })


def ledger_spent(amount: float) -> SpendLedger:
    async def load(model: str, day: float) -> float:
        return amount

    return SpendLedger(load)


async def test_a_capped_model_is_wrapped_in_its_spend_cap_when_there_is_a_ledger() -> None:
    ledger = ledger_spent(0.0)
    e = Engine(capped(daily_cap_usd=1.0), spend=ledger)
    wrapped = e.provider("m")
    assert isinstance(wrapped, SpendCapProvider)
    assert wrapped.inner is e.policies.provider("m") and wrapped.ledger is ledger
    assert e.provider("m") is wrapped
    await e.aclose()


def test_no_spend_cap_without_a_cap_or_without_a_ledger() -> None:
    uncapped = Engine(capped(), spend=ledger_spent(5.0))
    assert uncapped.provider("m") is uncapped.policies.provider("m")
    unledgered = Engine(capped(daily_cap_usd=1.0))
    assert unledgered.provider("m") is unledgered.policies.provider("m")


async def test_a_model_over_its_cap_fails_and_one_under_it_answers() -> None:
    over = await events_of(Engine(capped(daily_cap_usd=1.0), spend=ledger_spent(1.0)))
    failed = over[-1]
    assert isinstance(failed, Failed)
    assert (failed.side, failed.code) == ("client", "spend_cap_reached")
    assert failed.message.startswith("Model 'm' reached its daily spend cap")
    under = await events_of(Engine(capped(daily_cap_usd=1.0), spend=ledger_spent(0.5)))
    assert [e.type for e in under] == ["started", "answer", "usage", "finished"]


def priced_config(**router: Any) -> Config:
    price = {"input": 1.0, "output": 2.0}
    return parse_config({
        "models": {
            "fast": {"provider": "listed-events", "price": price},
            "deep": {"provider": "listed-events", "price": price},
        },
        "router": {"kind": "rules", **router},
    })


def test_auto_gets_the_engines_cost_estimate_per_mode_model_and_request() -> None:
    e = Engine(priced_config())
    for _ in range(3):
        e.costs.observe("fast", 10, 20)
        e.costs.observe("deep", 1000, 20)
    auto = e.provider(AUTO)
    assert isinstance(auto, RoutingProvider) and auto.cost is not None
    deep = e.config.model("deep")
    short = ChatRequest.from_prompt("q", model=AUTO)
    long = ChatRequest.from_prompt("q " * 400, model=AUTO)
    for mode in ("fast", "deep"):
        for request in (short, long):
            assert auto.cost(mode, deep, request) == e.costs.expected_usd(mode, deep, request)
    fast_usd, fast_why = auto.cost("fast", deep, short)
    deep_usd, _ = auto.cost("deep", deep, short)
    long_usd, _ = auto.cost("deep", deep, long)
    assert fast_why == "median of 3 recent fast"
    assert fast_usd is not None and deep_usd is not None and long_usd is not None
    assert fast_usd < deep_usd < long_usd  # the mode and the request both count


def test_auto_gets_a_hedge_that_resolves_through_the_engine_unless_hedging_is_off() -> None:
    e = Engine(priced_config(hedge_slowdown=2.5))
    auto = e.provider(AUTO)
    assert isinstance(auto, RoutingProvider)
    assert isinstance(auto.hedger, AutoHedge)
    assert auto.hedger.settings.slowdown == 2.5
    assert auto.hedger.provider.resolve == e.provider
    off = Engine(priced_config(hedge=False)).provider(AUTO)
    assert isinstance(off, RoutingProvider) and off.hedger is None


class FiguresRouter:
    """Always deep, with figures of the request a wrapper kind can read."""

    def decide(self, request: ChatRequest) -> Decision:
        e2e = 100.0 * len(request.last_user_text)
        return Decision("deep", "figures", estimates={"e2e_deep_ms": e2e})


def test_wrapper_kinds_get_the_engines_lookup_and_the_routers_figures() -> None:
    e = Engine(priced_config(), router=FiguresRouter())  # type: ignore[arg-type]
    request = ChatRequest.from_prompt("nine char", model=AUTO)
    assert e._estimate(request) == {"e2e_deep_ms": 900.0}
    made: dict[str, Any] = {}

    class Wrapper(ListedProvider):
        needs_resolver: ClassVar[bool] = True

        @classmethod
        def with_resolver(cls, config: ModelConfig, resolve: Any, estimate: Any = None) -> Provider:
            made.update(resolve=resolve, estimate=estimate)
            return cls(config)

    register("listed-wrapper")(Wrapper)
    e._create(ModelConfig("w", "listed-wrapper"))
    assert made["resolve"] == e.provider
    assert made["estimate"](request) == {"e2e_deep_ms": 900.0}


@pytest.mark.parametrize("hedge", [True, False])
def test_the_auto_provider_is_the_router_model(hedge: bool) -> None:
    auto = Engine(priced_config(hedge=hedge)).provider(AUTO)
    assert auto.config == ModelConfig(AUTO, "router")
