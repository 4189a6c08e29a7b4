"""The gateway's request parsing, in process: every accepted field lands in the ChatRequest as
sent, every refused one is refused by name with a message that says what is allowed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ponder.request import (
    ChatRequest,
    ImagePart,
    Message,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ThinkingSettings,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
    VerifySpec,
)
from ponder.server.errors import MalformedJSONError, ParamError
from ponder.server.parse import MAX_TTFA_HEADER, parse_body, parse_chat

HI = [{"role": "user", "content": "hi"}]
MODEL_REQUIRED = "'model' is required: fast, deep, auto or a configured alias."
TEMPERATURE = "'temperature' must be a number between 0 and 2."
MAX_TOKENS = "'max_tokens' must be a positive integer."


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
        ("minimal", ThinkingSettings(effort="low", effort_word="minimal")),
        ("low", ThinkingSettings(effort="low")),
        ("medium", ThinkingSettings(effort="medium")),
        ("high", ThinkingSettings(effort="high")),
        ("xhigh", ThinkingSettings(effort="high", effort_word="xhigh")),
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
        ({"messages": HI}, "model", MODEL_REQUIRED),
        ({"model": "", "messages": HI}, "model", MODEL_REQUIRED),
        ({"model": 3, "messages": HI}, "model", MODEL_REQUIRED),
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
         "messages[0].content[0]", "messages[0].content[0]: only text and image_url parts"),
        ({"model": "m", "messages": [{"role": "user", "content": ["hi"]}]},
         "messages[0].content[0]", "messages[0].content[0]: only text and image_url parts"),
        ({"model": "m", "messages": HI, "n": 2}, "n", "'n' must be 1: ponder returns one choice."),
        ({"model": "m", "messages": HI, "stream": 1}, "stream", "'stream' must be true or false."),
        ({"model": "m", "messages": HI, "stream_options": True}, "stream_options",
         "'stream_options' must be an object."),
        ({"model": "m", "messages": HI, "temperature": 2.01}, "temperature",
         TEMPERATURE),
        ({"model": "m", "messages": HI, "temperature": -0.01}, "temperature", TEMPERATURE),
        ({"model": "m", "messages": HI, "temperature": True}, "temperature", TEMPERATURE),
        ({"model": "m", "messages": HI, "temperature": "1"}, "temperature", TEMPERATURE),
        ({"model": "m", "messages": HI, "top_p": 1.01}, "top_p",
         "'top_p' must be a number between 0 and 1."),
        ({"model": "m", "messages": HI, "max_tokens": 0}, "max_tokens",
         MAX_TOKENS),
        ({"model": "m", "messages": HI, "max_tokens": 2.5}, "max_tokens", MAX_TOKENS),
        ({"model": "m", "messages": HI, "max_tokens": True}, "max_tokens", MAX_TOKENS),
        ({"model": "m", "messages": HI, "max_completion_tokens": -1}, "max_completion_tokens",
         "'max_completion_tokens' must be a positive integer."),
        ({"model": "m", "messages": HI, "stop": [3]}, "stop",
         "'stop' must be a string or an array of strings."),
        ({"model": "m", "messages": HI, "stop": {"a": 1}}, "stop",
         "'stop' must be a string or an array of strings."),
        ({"model": "m", "messages": HI, "reasoning_effort": "max"}, "reasoning_effort",
         "'reasoning_effort' must be none, minimal, low, medium, high or xhigh."),
        ({"model": "m", "messages": HI, "reasoning_effort": ["high"]}, "reasoning_effort",
         "'reasoning_effort' must be none, minimal, low, medium, high or xhigh."),
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
    assert error.message.startswith(message), error.message


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


# -- tools, tool turns, reasoning fields, images (the parts a request carries) -----------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


def test_tools_and_their_settings_land_as_sent() -> None:
    parsed = chat(
        tools=[WEATHER, {"function": {"name": "bare"}}],
        tool_choice={"type": "function", "function": {"name": "weather"}},
        parallel_tool_calls=False,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "w", "schema": {"type": "object"},
                                         "strict": True}},
    )
    assert parsed.tools == (
        ToolSpec("weather", "Weather by city",
                 {"type": "object", "properties": {"city": {"type": "string"}}}, True),
        ToolSpec("bare"),
    )
    assert parsed.tool_choice == ToolChoice("tool", "weather")
    assert parsed.parallel_tool_calls is False
    assert parsed.response_format == ResponseFormat("json_schema", "w", {"type": "object"}, True)


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_words(choice: str) -> None:
    expected = ToolChoice(choice)  # type: ignore[arg-type]
    assert chat(tools=[WEATHER], tool_choice=choice).tool_choice == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [({"type": "text"}, None), ({"type": "json_object"}, ResponseFormat("json_object")),
     ({"type": "json_schema", "json_schema": {"schema": {}}},
      ResponseFormat("json_schema", None, {}, None))],
)
def test_response_formats(fmt: dict[str, Any], expected: ResponseFormat | None) -> None:
    assert chat(response_format=fmt).response_format == expected


def test_defaults_for_tool_fields() -> None:
    parsed = chat(parallel_tool_calls=None)
    assert (parsed.tools, parsed.tool_choice, parsed.parallel_tool_calls,
            parsed.response_format) == ((), None, None, None)


def test_assistant_calls_tool_results_and_images() -> None:
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/p.png", "detail": "low"}},
            {"type": "image_url", "image_url": "data:image/png;base64,AA"},
        ]},
        {"role": "assistant", "content": None, "reasoning": "think",
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "weather", "arguments": '{"city":"Rome"}'}},
                        {"id": "c2", "function": {"name": "bare", "arguments": {"a": 1}}},
                        {"id": "c3", "function": {"name": "none"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "weather", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "ok"}]},
        {"role": "assistant", "content": "x",
         "reasoning_details": [{"type": "reasoning.text", "text": "a"},
                               {"type": "reasoning.summary", "summary": "b"},
                               {"type": "reasoning.encrypted", "data": "zz"}]},
        {"role": "assistant", "content": "y", "reasoning_content": "rc", "reasoning": "r"},
    ]
    user, called, result, plain, detailed, both = chat(messages=messages).messages
    images = (ImagePart("https://x/p.png", "low"), ImagePart("data:image/png;base64,AA"))
    assert user.parts == (TextPart("look"), *images)
    assert called.parts == (
        ReasoningPart("think", state={"field": "reasoning"}),
        ToolCallPart("c1", "weather", '{"city":"Rome"}'),
        ToolCallPart("c2", "bare", '{"a": 1}'),
        ToolCallPart("c3", "none", ""),
    )
    assert result.role == "tool"
    assert result.parts == (ToolResultPart("c1", "sunny", name="weather"),)
    assert plain.parts == (ToolResultPart("c2", "ok"),)
    details = messages[4]["reasoning_details"]
    assert detailed.parts == (
        ReasoningPart("ab", state={"field": "reasoning_details", "details": details}),
        TextPart("x"),
    )
    assert both.parts[0] == ReasoningPart("rc", state={"field": "reasoning_content"})


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"functions": [{"name": "f"}]}, "functions",
         "'functions' is the legacy form of tool calling: send 'tools' instead."),
        ({"function_call": "auto"}, "functions",
         "'functions' is the legacy form of tool calling: send 'tools' instead."),
        ({"tools": {"a": 1}}, "tools", "'tools' must be an array of function tools."),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type",
         "tools[0]: only function tools are supported (got 'web_search')."),
        ({"tools": ["x"]}, "tools[0].type",
         "tools[0]: only function tools are supported (got None)."),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name",
         "tools[0].function.name is required."),
        ({"tools": [{"type": "function"}]}, "tools[0].function.name",
         "tools[0].function.name is required."),
        ({"tools": [{"function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters",
         "tools[0].function.parameters must be a JSON Schema object."),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice",
         "'tool_choice' must be auto, none, required or"
         ' {"type": "function", "function": {"name": …}}.'),
        ({"tools": [WEATHER], "tool_choice": {"function": {"name": "other"}}}, "tool_choice",
         "tool_choice names 'other', which is not in 'tools'."),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls",
         "'parallel_tool_calls' must be true or false."),
        ({"response_format": {"type": "xml"}}, "response_format",
         "'response_format' type must be text, json_object or json_schema."),
        ({"response_format": {"type": "json_schema", "json_schema": {}}},
         "response_format.json_schema.schema",
         "response_format json_schema needs json_schema.schema (a JSON Schema object)."),
        ({"messages": [{"role": "tool", "content": "4"}]}, "messages[0].tool_call_id",
         "messages[0]: a tool message needs the tool_call_id it answers."),
        ({"messages": [{"role": "assistant", "tool_calls": {}}]}, "messages[0].tool_calls",
         "messages[0].tool_calls must be an array."),
        ({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]},
         "messages[0].tool_calls[0]",
         "messages[0].tool_calls[0] must be {id, type: function, function: {name, arguments}}."),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}]},
         "messages[0].tool_calls[0].function.name",
         "messages[0].tool_calls[0].function.name is required."),
        ({"messages": [{"role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 5}}]}]},
         "messages[0].tool_calls[0].function.arguments",
         "messages[0].tool_calls[0].function.arguments must be a JSON string."),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x"}}]}]},
         "messages[0].content[0].image_url",
         "messages[0].content[0].image_url.url must be an http(s) URL or a data: URL."),
        ({"messages": [{"role": "assistant", "content": [
            {"type": "image_url", "image_url": "https://x"}]}]},
         "messages[0].content[0]", "messages[0].content[0]: only text parts are supported here."),
    ],
)
def test_tool_and_part_errors_name_the_field(
    body: dict[str, Any], param: str, message: str
) -> None:
    error = refused({"model": "m", "messages": HI, **body})
    assert (error.param, error.message) == (param, message)


def test_empty_text_is_no_part() -> None:
    assert chat(messages=[{"role": "user", "content": ""}]).messages[0].parts == ()
    assert chat(messages=[{"role": "user", "content": None}]).messages[0].parts == ()


# -- ponder's extension object ------------------------------------------------------------------

PONDER_OBJECT = "'ponder' must be an object, e.g. {\"verify\": \"embedded\"}."
KNOWN = "known: verify, hedge, max_cost_usd."


@pytest.mark.parametrize(
    ("ponder", "verify", "hedge"),
    [
        (None, None, None),
        ({}, None, None),
        ({"hedge": False}, None, False),
        ({"hedge": True}, None, True),
        ({"hedge": None}, None, None),
        ({"verify": "embedded"}, VerifySpec("embedded", {}), None),
        # The short form: the options sit beside the name.
        ({"verify": "regex", "pattern": "^42$", "full": True},
         VerifySpec("regex", {"pattern": "^42$", "full": True}), None),
        # The long form: the options inside, with the name.
        ({"verify": {"name": "regex", "pattern": "4", "flags": "i"}, "hedge": False},
         VerifySpec("regex", {"pattern": "4", "flags": "i"}), False),
        ({"verify": "sql", "columns": ["n"]}, VerifySpec("sql", {"columns": ["n"]}), None),
        # The cost budget is read by its own parser and is no unknown field here.
        ({"max_cost_usd": 0.5}, None, None),
        ({"verify": "embedded", "max_cost_usd": 0.5}, VerifySpec("embedded", {}), None),
    ],
)  # fmt: skip
def test_the_ponder_object_lands_as_sent(
    ponder: Any, verify: VerifySpec | None, hedge: bool | None
) -> None:
    got = chat(ponder=ponder)
    assert (got.verify, got.hedge) == (verify, hedge)


@pytest.mark.parametrize(
    ("ponder", "param", "message"),
    [
        ("embedded", "ponder", PONDER_OBJECT),
        (["verify"], "ponder", PONDER_OBJECT),
        ({"hedge": "no"}, "ponder.hedge", "'ponder.hedge' must be true or false."),
        ({"hedge": 0}, "ponder.hedge", "'ponder.hedge' must be true or false."),
        ({"verfy": "sql"}, "ponder", f"Unknown ponder field(s): verfy; {KNOWN}"),
        ({"b": 1, "a": 2, "hedge": True}, "ponder", f"Unknown ponder field(s): a, b; {KNOWN}"),
        # With the long form nothing may sit beside the verifier.
        ({"verify": {"name": "regex", "pattern": "4"}, "pattern": "5"}, "ponder",
         f"Unknown ponder field(s): pattern; {KNOWN}"),
        ({"verify": ""}, "ponder.verify", "'ponder.verify' must name a verifier, e.g. \"sql\"."),
        ({"verify": 3}, "ponder.verify", "'ponder.verify' must name a verifier, e.g. \"sql\"."),
        ({"verify": {"pattern": "4"}}, "ponder.verify",
         "'ponder.verify' must name a verifier, e.g. \"sql\"."),
        ({"verify": "oracle"}, "ponder.verify",
         "Unknown verifier 'oracle'. Available: embedded, json_schema, python_tests, regex, sql."),
        ({"verify": "embedded", "pattern": "4"}, "ponder.verify",
         "The embedded verifier does not take pattern from a request (it may take: none);"
         " server-side settings go in ponder.toml."),
        ({"verify": {"name": "sql", "path": "/etc/x.db", "dsn": "d"}}, "ponder.verify",
         "The sql verifier does not take dsn, path from a request (it may take: columns);"
         " server-side settings go in ponder.toml."),
        ({"verify": "regex", "columns": []}, "ponder.verify",
         "The regex verifier does not take columns from a request (it may take: flags, full,"
         " pattern); server-side settings go in ponder.toml."),
    ],
)  # fmt: skip
def test_the_ponder_object_is_refused_by_field(ponder: Any, param: str, message: str) -> None:
    error = refused({"model": "m", "messages": HI, "ponder": ponder})
    assert (error.param, error.message) == (param, message)
