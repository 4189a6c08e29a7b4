"""The gateway's request parsing, in process: every accepted field lands in the ChatRequest as
sent, every refused one is refused by name with a message that says what is allowed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ponder.request import ChatRequest, Message, ThinkingSettings
from ponder.server.errors import MalformedJSONError, ParamError
from ponder.server.parse import MAX_TTFA_HEADER, parse_body, parse_chat

HI = [{"role": "user", "content": "hi"}]


def text_part(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def chat(headers: dict[str, str] | None = None, **body: Any) -> ChatRequest:
    return parse_chat({"model": "m", "messages": HI, **body}, headers or {}, "req_1").chat


def refused(body: dict[str, Any], headers: dict[str, str] | None = None) -> ParamError:
    with pytest.raises(ParamError) as info:
        parse_chat(body, headers or {}, "req_1")
    return info.value


def test_a_full_request_lands_field_by_field() -> None:
    body = {
        "model": "deep",
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "developer", "content": "D"},
            {"role": "user", "content": [text_part("a"), text_part(""), text_part("b")]},
            {"role": "assistant", "content": "A", "reasoning_content": "T"},
            {"role": "assistant", "content": None, "reasoning_content": ""},
            {"role": "user", "content": "U"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 2,
        "top_p": 0,
        "max_tokens": 10,
        "stop": ["x", "y", "z", "w"],
        "reasoning_effort": "medium",
        "thinking": {"enabled": True, "budget": 7},
    }
    parsed = parse_chat(body, {MAX_TTFA_HEADER: "250.5"}, "req_9")
    assert parsed.stream is True and parsed.include_usage is True
    turns = [(m.role, m.content, m.thinking) for m in parsed.chat.messages]
    assert turns == [
        ("system", "S", ""),
        ("system", "D", ""),
        ("user", "ab", ""),
        ("assistant", "A", "T"),
        ("assistant", "", ""),
        ("user", "U", ""),
    ]
    assert replace(parsed.chat, messages=()) == ChatRequest(
        messages=(),
        model="deep",
        thinking=ThinkingSettings(enabled=True, budget=7, effort="medium"),
        temperature=2.0,
        top_p=0.0,
        max_tokens=10,
        stop=("x", "y", "z", "w"),
        max_ttfa_ms=250.5,
        request_id="req_9",
    )
    assert isinstance(parsed.chat.temperature, float)


def test_defaults_when_fields_are_absent() -> None:
    parsed = parse_chat({"model": "m", "messages": HI}, {}, "req_2")
    assert (parsed.stream, parsed.include_usage) == (False, False)
    assert parsed.chat == ChatRequest(messages=(Message("user", "hi"),), model="m",
                                      request_id="req_2")


def test_nulls_mean_absent() -> None:
    parsed = parse_chat(
        {"model": "m", "messages": HI, "stream": None, "temperature": None, "top_p": None,
         "max_tokens": None, "stop": None, "reasoning_effort": None, "thinking": None,
         "n": None, "stream_options": None},
        {}, "r",
    )
    assert parsed.stream is False and parsed.include_usage is False
    assert parsed.chat == ChatRequest(messages=(Message("user", "hi"),), model="m", request_id="r")


@pytest.mark.parametrize("options", [{}, {"include_usage": False}, {"include_usage": None}])
def test_include_usage_needs_true(options: dict[str, Any]) -> None:
    body = {"model": "m", "messages": HI, "stream_options": options}
    assert parse_chat(body, {}, "r").include_usage is False


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"max_tokens": 5}, 5),
        ({"max_completion_tokens": 6}, 6),
        ({"max_completion_tokens": 6, "max_tokens": 5}, 6),
        ({"max_tokens": 1}, 1),
    ],
)
def test_max_tokens_spellings(body: dict[str, Any], expected: int) -> None:
    assert chat(**body).max_tokens == expected


@pytest.mark.parametrize(
    ("effort", "thinking"),
    [
        ("none", ThinkingSettings(enabled=False)),
        ("minimal", ThinkingSettings(effort="low")),
        ("low", ThinkingSettings(effort="low")),
        ("medium", ThinkingSettings(effort="medium")),
        ("high", ThinkingSettings(effort="high")),
    ],
)
def test_reasoning_effort(effort: str, thinking: ThinkingSettings) -> None:
    assert chat(reasoning_effort=effort).thinking == thinking


def test_thinking_table_wins_over_effort_none() -> None:
    assert chat(reasoning_effort="none", thinking={"enabled": True}).thinking == ThinkingSettings(
        enabled=True
    )
    assert chat(thinking={"enabled": None, "budget": None}).thinking == ThinkingSettings()
    assert chat(thinking={"enabled": False}).thinking == ThinkingSettings(enabled=False)


@pytest.mark.parametrize(
    ("stop", "expected"),
    [("END", ("END",)), (["a"], ("a",)), (["a", "b", "c", "d", "e"], ("a", "b", "c", "d", "e")),
     ([], ())],
)
def test_stop_forms(stop: Any, expected: tuple[str, ...]) -> None:
    assert chat(stop=stop).stop == expected


@pytest.mark.parametrize(
    ("value", "ms"), [("1", 1.0), ("0.5", 0.5), ("1e3", 1000.0)]
)
def test_latency_budget_header(value: str, ms: float) -> None:
    assert chat({MAX_TTFA_HEADER: value}).max_ttfa_ms == ms


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"messages": HI}, "model", "'model' is required: fast, deep, auto or a configured alias."),
        ({"model": "", "messages": HI}, "model", "'model' is required"),
        ({"model": 3, "messages": HI}, "model", "'model' is required"),
        ({"model": "m"}, "messages", "'messages' must be a non-empty array."),
        ({"model": "m", "messages": []}, "messages", "'messages' must be a non-empty array."),
        ({"model": "m", "messages": "hi"}, "messages", "'messages' must be a non-empty array."),
        ({"model": "m", "messages": ["hi"]}, "messages[0]",
         "messages[0] must be an object with role and content."),
        ({"model": "m", "messages": [*HI, {"role": "robot", "content": "x"}]}, "messages[1].role",
         "messages[1].role must be one of system, developer, user, assistant, tool."),
        ({"model": "m", "messages": [{"role": 1, "content": "x"}]}, "messages[0].role",
         "messages[0].role must be one of"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content",
         "messages[0].content must be a string or an array of content parts."),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content[0].image_url",
         "messages[0].content[0].image_url.url must be an http(s) URL or a data: URL."),
        ({"model": "m", "messages": [{"role": "system", "content": [
            {"type": "image_url", "image_url": "https://x"}]}]},
         "messages[0].content[0]", "messages[0].content[0]: only text parts are supported here."),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
         "messages[0].content[0]", "only text and image_url parts are supported here."),
        ({"model": "m", "messages": [{"role": "user", "content": ["hi"]}]},
         "messages[0].content[0]", "only text and image_url parts are supported here."),
        ({"model": "m", "messages": HI, "n": 2}, "n", "'n' must be 1: ponder returns one choice."),
        ({"model": "m", "messages": HI, "stream": 1}, "stream", "'stream' must be true or false."),
        ({"model": "m", "messages": HI, "stream_options": True}, "stream_options",
         "'stream_options' must be an object."),
        ({"model": "m", "messages": HI, "temperature": 2.01}, "temperature",
         "'temperature' must be a number between 0 and 2."),
        ({"model": "m", "messages": HI, "temperature": -0.01}, "temperature", "between 0 and 2"),
        ({"model": "m", "messages": HI, "temperature": True}, "temperature", "between 0 and 2"),
        ({"model": "m", "messages": HI, "temperature": "1"}, "temperature", "between 0 and 2"),
        ({"model": "m", "messages": HI, "top_p": 1.01}, "top_p",
         "'top_p' must be a number between 0 and 1."),
        ({"model": "m", "messages": HI, "max_tokens": 0}, "max_tokens",
         "'max_tokens' must be a positive integer."),
        ({"model": "m", "messages": HI, "max_tokens": 2.5}, "max_tokens", "positive integer"),
        ({"model": "m", "messages": HI, "max_tokens": True}, "max_tokens", "positive integer"),
        ({"model": "m", "messages": HI, "max_completion_tokens": -1}, "max_completion_tokens",
         "'max_completion_tokens' must be a positive integer."),
        ({"model": "m", "messages": HI, "stop": [3]}, "stop",
         "'stop' must be a string or an array of strings."),
        ({"model": "m", "messages": HI, "stop": {"a": 1}}, "stop", "a string or an array"),
        ({"model": "m", "messages": HI, "reasoning_effort": "max"}, "reasoning_effort",
         "'reasoning_effort' must be none, minimal, low, medium or high."),
        ({"model": "m", "messages": HI, "thinking": True}, "thinking",
         "'thinking' must be an object: {enabled, budget}."),
        ({"model": "m", "messages": HI, "thinking": {"enabled": 1}}, "thinking.enabled",
         "'thinking.enabled' must be true or false."),
        ({"model": "m", "messages": HI, "thinking": {"budget": 0}}, "thinking.budget",
         "'thinking.budget' must be a positive integer."),
    ],
)
def test_refused_by_name(body: dict[str, Any], param: str, message: str) -> None:
    error = refused(body)
    assert error.param == param
    assert message in error.message


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan", ""])
def test_a_bad_latency_budget_header_is_refused(value: str) -> None:
    error = refused({"model": "m", "messages": HI}, {MAX_TTFA_HEADER: value})
    assert error.param == MAX_TTFA_HEADER
    assert error.message == f"Header {MAX_TTFA_HEADER} must be a positive number of ms."


def test_parse_body() -> None:
    assert parse_body(b'{"a": 1}') == {"a": 1}
    with pytest.raises(MalformedJSONError, match=r"^Request body is not valid JSON: "):
        parse_body(b"{nope")
    with pytest.raises(MalformedJSONError, match=r"^Request body is not valid JSON: "):
        parse_body(b"\xff\xfe")
    with pytest.raises(MalformedJSONError, match=r"^Request body must be a JSON object\.$"):
        parse_body(b"[1, 2]")
