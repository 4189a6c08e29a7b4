"""The provider contract's shared behaviour, exactly: the ``started`` event :meth:`stream` puts
before a provider's own events, the refusal of a forced tool call on a model that cannot call
tools, and the defaults every provider inherits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ponder.config import ModelConfig, ThinkingConfig
from ponder.errors import ToolsUnsupportedError
from ponder.events import Answer, Event, Finished
from ponder.providers.base import Availability, Provider
from ponder.request import (
    ChatRequest,
    ReasoningPart,
    ThinkingSettings,
    ToolChoice,
    ToolSpec,
)
from tests.provider_exact import plain


class Echo(Provider):
    """The smallest provider: answers with the prompt."""

    kind = "echo"

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        yield Answer(request.last_user_text)
        yield Finished("stop")


class Toolless(Echo):
    supports_tools = False


def config(enabled: bool = True) -> ModelConfig:
    return ModelConfig("m", "echo", model="up", thinking=ThinkingConfig(enabled=enabled))


def ask(**fields: object) -> ChatRequest:
    return ChatRequest.from_prompt("hi", model="m", request_id="req_1", **fields)


async def events(p: Provider, request: ChatRequest, **kwargs: object) -> list[tuple[object, ...]]:
    return plain([e async for e in p.stream(request, **kwargs)])  # type: ignore[arg-type]


async def test_stream_starts_with_what_was_chosen_and_why() -> None:
    assert await events(Echo(config()), ask()) == [
        ("started", "req_1", "m", "deep", "the client chose 'm'", None),
        ("answer", "hi"),
        ("finished", "stop", None, None, None, None),
    ]
    chosen = await events(
        Echo(config(enabled=False)), ask(), reason="the router chose", estimates={"p_fast": 0.5}
    )
    assert chosen[0] == ("started", "req_1", "m", "fast", "the router chose", {"p_fast": 0.5})
    assert (await events(Echo(config()), ask(), reason=""))[0][4] == "the client chose 'm'"


def test_the_mode_follows_the_requests_thinking() -> None:
    p = Echo(config(enabled=False))
    assert p.mode_for(ask()) == "fast"
    assert p.mode_for(ask(thinking=ThinkingSettings(enabled=True))) == "deep"
    assert p.thinking_for(ask(thinking=ThinkingSettings(budget=9))).budget == 9
    assert Echo(config()).mode_for(ask(thinking=ThinkingSettings(enabled=False))) == "fast"


@pytest.mark.parametrize("choice", [ToolChoice("required"), ToolChoice("tool", "ping")])
async def test_a_forced_call_is_refused_before_anything_is_sent(choice: ToolChoice) -> None:
    with pytest.raises(ToolsUnsupportedError) as caught:
        await events(Toolless(config()), ask(tools=(ToolSpec("ping"),), tool_choice=choice))
    assert caught.value.model == "m" and caught.value.param == "tool_choice"


@pytest.mark.parametrize(
    ("provider", "fields"),
    [
        (Toolless, {"tools": (ToolSpec("ping"),), "tool_choice": ToolChoice("auto")}),
        (Toolless, {"tools": (ToolSpec("ping"),)}),
        (Toolless, {"tool_choice": ToolChoice("required")}),
        (Echo, {"tools": (ToolSpec("ping"),), "tool_choice": ToolChoice("required")}),
    ],
)
async def test_otherwise_tools_are_the_providers_business(
    provider: type[Echo], fields: dict[str, object]
) -> None:
    assert (await events(provider(config()), ask(**fields)))[-1][1] == "stop"


def test_reasoning_is_owned_by_its_kind_and_upstream_model() -> None:
    p = Echo(config())
    assert p.owns(ReasoningPart("t", provider="echo", model="up"))
    assert not p.owns(ReasoningPart("t", provider="echo", model="m"))
    assert not p.owns(ReasoningPart("t", provider="openai", model="up"))
    assert not p.owns(ReasoningPart("t"))


async def test_the_defaults() -> None:
    p = Echo(config())
    assert (p.name, p.config.name) == ("m", "m")
    assert await p.check() == Availability(True, "ready")
    assert await p.aclose() is None
    assert (Provider.kind, Provider.supports_tools, Provider.runs_in_process) == ("", True, False)
    assert Provider.needs_resolver is False
    with pytest.raises(NotImplementedError) as caught:
        Echo.with_resolver(config(), lambda name: p)
    assert str(caught.value) == "Echo does not wrap other models"
