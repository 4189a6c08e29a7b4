"""Request bodies: how thinking on/off, effort and budget are spelled per flavour and provider,
and how error bodies are read. Pure functions, no network."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.config import ModelConfig, ThinkingConfig, parse_config
from ponder.errors import ConfigError
from ponder.providers.anthropic import AnthropicProvider
from ponder.providers.http import error_message
from ponder.providers.ollama import OllamaProvider
from ponder.providers.openai import OpenAIProvider
from ponder.registry import create_provider
from ponder.request import ChatRequest, Message, ThinkingSettings


def model(provider: str, **table: Any) -> Any:
    cfg = parse_config({"models": {"m": {"provider": provider, "base_url": "http://h", **table}}})
    return cfg.model("m")


def ask(**thinking: Any) -> ChatRequest:
    return ChatRequest.from_prompt("q", model="m", thinking=ThinkingSettings(**thinking))


ON = {"enabled": True}
OFF = {"enabled": False}

# (flavour, request thinking override, expected body fields, fields that must be absent)
FLAVOUR_CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("deepseek", ON, {"thinking": {"type": "enabled"}}, []),
    ("deepseek", OFF, {"thinking": {"type": "disabled"}}, []),
    ("qwen", ON, {"chat_template_kwargs": {"enable_thinking": True}}, []),
    ("qwen", OFF, {"chat_template_kwargs": {"enable_thinking": False}}, []),
    ("openai", {"effort": "high"}, {"reasoning_effort": "high"}, []),
    ("openai", {"budget": 1000}, {"reasoning_effort": "low"}, []),
    ("openai", {"budget": 20000}, {"reasoning_effort": "high"}, []),
    ("openai", OFF, {"reasoning_effort": "minimal"}, []),
    ("openai", ON, {}, ["reasoning_effort"]),
    ("openrouter", {"effort": "low"}, {"reasoning": {"effort": "low"}}, []),
    ("openrouter", {"budget": 3000}, {"reasoning": {"max_tokens": 3000}}, []),
    ("openrouter", ON, {"reasoning": {"enabled": True}}, []),
    ("openrouter", OFF, {"reasoning": {"enabled": False}}, []),
    ("none", {"effort": "high", "budget": 9}, {}, ["thinking", "reasoning", "reasoning_effort"]),
]


@pytest.mark.parametrize(("flavour", "override", "fields", "absent"), FLAVOUR_CASES)
def test_flavours(
    flavour: str, override: dict[str, Any], fields: dict[str, Any], absent: list[str]
) -> None:
    provider = OpenAIProvider(model("openai", thinking={"flavour": flavour}))
    body = provider.build_body(ask(**override), stream=True)
    for key, value in fields.items():
        assert body[key] == value
    for key in absent:
        assert key not in body
    assert "chat_template_kwargs" not in body or flavour == "qwen"


def test_openai_flavour_uses_max_completion_tokens() -> None:
    provider = OpenAIProvider(model("openai", thinking={"flavour": "openai"}))
    body = provider.build_body(ChatRequest.from_prompt("q", model="m", max_tokens=99), True)
    assert body["max_completion_tokens"] == 99 and "max_tokens" not in body


def test_extra_body_and_send_reasoning_option() -> None:
    provider = OpenAIProvider(
        model("openai", extra_body={"top_k": 20}, send_reasoning=True, thinking={"flavour": "qwen"})
    )
    request = ChatRequest(
        messages=(Message("assistant", "a", thinking="t"), Message("user", "u")), model="m"
    )
    body = provider.build_body(request, stream=False)
    assert body["top_k"] == 20
    assert body["messages"][0]["reasoning_content"] == "t"
    assert "stream_options" not in body


def test_unknown_flavour_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="flavour"):
        OpenAIProvider(ModelConfig("m", "openai", thinking=ThinkingConfig(flavour="nope")))


@pytest.mark.parametrize(
    ("thinking", "request_max", "expected", "max_tokens"),
    [
        ({"budget": 500}, None, {"type": "enabled", "budget_tokens": 1024}, 8192),
        ({"budget": 16000}, None, {"type": "enabled", "budget_tokens": 16000}, 20096),
        ({"budget": 2000}, 1000, {"type": "enabled", "budget_tokens": 2000}, 3000),
        ({}, None, {"type": "enabled", "budget_tokens": 4096}, 8192),
        ({"effort": "high"}, None, {"type": "adaptive"}, 8192),
    ],
)
def test_anthropic_thinking(
    thinking: dict[str, Any], request_max: int | None, expected: dict[str, Any], max_tokens: int
) -> None:
    provider = AnthropicProvider(model("anthropic", thinking=thinking))
    request = ChatRequest.from_prompt("q", model="m", max_tokens=request_max, temperature=0.2)
    body = provider.build_body(request)
    assert body["thinking"] == expected
    assert body["max_tokens"] == max_tokens
    assert "temperature" not in body  # only the default is allowed while thinking


def test_anthropic_thinking_off_and_adaptive_option() -> None:
    off = AnthropicProvider(model("anthropic", thinking={"enabled": False}))
    body = off.build_body(ChatRequest.from_prompt("q", model="m", temperature=0.2))
    assert "thinking" not in body and body["temperature"] == 0.2
    adaptive = AnthropicProvider(model("anthropic", adaptive=True, thinking={"budget": 5000}))
    assert adaptive.build_body(ask())["thinking"] == {"type": "adaptive"}


def test_ollama_think_flag() -> None:
    provider = OllamaProvider(model("ollama"))
    assert provider.build_body(ask(enabled=False))["think"] is False
    body = provider.build_body(ChatRequest.from_prompt("q", model="m", max_tokens=64))
    assert body["think"] is True and body["options"] == {"num_predict": 64}
    levels = OllamaProvider(model("ollama", think_levels=True))
    assert levels.build_body(ask(effort="low"))["think"] == "low"


def test_registered_through_entry_points() -> None:
    for kind, cls in [
        ("openai", OpenAIProvider),
        ("anthropic", AnthropicProvider),
        ("ollama", OllamaProvider),
    ]:
        assert type(create_provider(model(kind))) is cls


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": {"message": "bad", "type": "invalid_request_error"}}',
            "bad (invalid_request_error)",
        ),
        (
            b'{"type":"error","error":{"type":"not_found_error","message":"model: x"}}',
            "model: x (not_found_error)",
        ),
        (b'{"error": "model \\"q\\" not found"}', 'model "q" not found'),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"", "Service Unavailable"),
    ],
)
def test_error_message_extraction(body: bytes, expected: str) -> None:
    assert error_message(body, "Service Unavailable") == expected
