"""The openai provider, exactly: the whole Chat Completions body each request becomes (per
thinking flavour, history thoughts sent back in the field they arrived in, tools, images,
response formats), and the events each chunk or response becomes.

In-process and fast (the chunk reader is fed decoded chunks; a few tests drive ``generate``
through the replay server), so ``benchmarks/mutation.py`` can run them per mutant. What the
upstream accepts is defended by tests/test_request_fidelity.py against a validating server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ponder.config import ModelConfig, ThinkingConfig
from ponder.errors import ConfigError, ReasoningMissingError, StreamBrokenError, UpstreamError
from ponder.providers.deltas import DeltaTracker
from ponder.providers.openai import OpenAIProvider
from ponder.providers.openai_reader import (
    ResponseReader,
    finish_reason,
    merge_details,
    reasoning_events,
    reasoning_field,
)
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
)
from ponder.tokens import estimate_tokens
from tests.provider_exact import KEY, KEY_ENV, model, plain
from tests.replay import ReplayServer, Reply, json_reply

USER = Message("user", "Hi")


def provider(flavour: str = "none", **table: Any) -> OpenAIProvider:
    thinking = {"flavour": flavour, **table.pop("thinking", {})}
    return OpenAIProvider(model("openai", thinking=thinking, **table))


def chat(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (USER,), model="m", **fields)


def body(request: ChatRequest, flavour: str = "none", stream: bool = True, **table: Any) -> Any:
    return provider(flavour, **table).build_body(request, stream)


BASE = {"model": "up", "messages": [{"role": "user", "content": "Hi"}]}
STREAMED = {**BASE, "stream": True, "stream_options": {"include_usage": True}}


# -- the body ----------------------------------------------------------------------------------


def test_the_whole_body() -> None:
    request = chat(
        Message("system", "S"),
        USER,
        Message("assistant", "A"),
        USER,
        temperature=0.0,
        top_p=0.0,
        max_tokens=0,
        stop=("x",),
    )
    assert body(request) == {
        "model": "up",
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "A"},
            {"role": "user", "content": "Hi"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "top_p": 0.0,
        "max_tokens": 0,
        "stop": ["x"],
    }


def test_not_streaming_and_nothing_set() -> None:
    assert body(chat(), stream=False) == {**BASE, "stream": False}
    assert body(chat()) == STREAMED


def test_extra_body_is_merged_last_but_before_the_flavour() -> None:
    extra = {"top_k": 20, "chat_template_kwargs": {"custom": 1}, "temperature": 1.0}
    sent = body(chat(temperature=0.2), "qwen", extra_body=extra)
    assert sent == {
        **STREAMED,
        "temperature": 1.0,
        "top_k": 20,
        "chat_template_kwargs": {"custom": 1, "enable_thinking": True},
    }
    assert body(chat(), extra_body="not a table") == STREAMED


@pytest.mark.parametrize(
    ("flavour", "thinking", "max_tokens", "fields"),
    [
        ("deepseek", ThinkingSettings(), None, {"thinking": {"type": "enabled"}}),
        ("deepseek", ThinkingSettings(enabled=False), 5,
         {"thinking": {"type": "disabled"}, "max_tokens": 5}),
        ("qwen", ThinkingSettings(enabled=False), None,
         {"chat_template_kwargs": {"enable_thinking": False}}),
        ("openai", ThinkingSettings(enabled=False), 9,
         {"reasoning_effort": "minimal", "max_completion_tokens": 9}),
        ("openai", ThinkingSettings(effort="medium", budget=100), None,
         {"reasoning_effort": "medium"}),
        ("openai", ThinkingSettings(budget=2048), None, {"reasoning_effort": "low"}),
        ("openai", ThinkingSettings(budget=2049), None, {"reasoning_effort": "medium"}),
        ("openai", ThinkingSettings(budget=8192), None, {"reasoning_effort": "medium"}),
        ("openai", ThinkingSettings(budget=8193), None, {"reasoning_effort": "high"}),
        ("openai", ThinkingSettings(), 0, {"max_completion_tokens": 0}),
        ("openai", ThinkingSettings(), None, {}),
        ("openrouter", ThinkingSettings(enabled=False, effort="low"), None,
         {"reasoning": {"enabled": False}}),
        ("openrouter", ThinkingSettings(effort="high", budget=10), None,
         {"reasoning": {"effort": "high"}}),
        ("openrouter", ThinkingSettings(budget=10), None, {"reasoning": {"max_tokens": 10}}),
        ("openrouter", ThinkingSettings(), None, {"reasoning": {"enabled": True}}),
        ("none", ThinkingSettings(enabled=False, effort="low", budget=5), None, {}),
    ],
)  # fmt: skip
def test_flavours(
    flavour: str, thinking: ThinkingSettings, max_tokens: int | None, fields: dict[str, Any]
) -> None:
    assert body(chat(thinking=thinking, max_tokens=max_tokens), flavour) == {**STREAMED, **fields}


def test_an_unknown_flavour_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:  # parse_config refuses it sooner, in its words
        OpenAIProvider(ModelConfig("m", "openai", thinking=ThinkingConfig(flavour="grok")))
    assert caught.value.message == (
        "[models.m] thinking.flavour 'grok' is not one of none, deepseek, qwen, openai,"
        " openrouter."
    )


# -- messages ----------------------------------------------------------------------------------


def test_tool_calls_and_tool_turns() -> None:
    request = chat(
        USER,
        Message("assistant", (ToolCallPart("c1", "run_sql", '{"q":1}'),
                              ToolCallPart("c2", "p", ""))),
        Message("tool", (ToolResultPart("c1", "[[1]]"), ToolResultPart("c2", "err", True, "p"))),
        Message("assistant", (TextPart("Calling."), ToolCallPart("c3", "p", "{}"))),
    )  # fmt: skip
    assert body(request)["messages"] == [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "run_sql", "arguments": '{"q":1}'}},
                {"id": "c2", "type": "function", "function": {"name": "p", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "[[1]]"},
        {"role": "tool", "tool_call_id": "c2", "content": "err"},
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "p", "arguments": "{}"}}
            ],
        },
    ]  # fmt: skip


def test_images_become_content_parts() -> None:
    parts = (
        TextPart("What?"),
        ImagePart("https://example.test/a.png"),
        ImagePart("data:image/png;base64,QUJD", detail="low"),
        ToolResultPart("x", "ignored"),
    )
    assert body(chat(Message("user", parts)))["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What?"},
                {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,QUJD", "detail": "low"},
                },
            ],
        }
    ]


def assistant(*parts: Any) -> Message:
    return Message("assistant", (*parts, TextPart("A")))


def sent_turn(message: Message, flavour: str = "none", **table: Any) -> dict[str, Any]:
    turn: dict[str, Any] = body(chat(USER, message, USER), flavour, **table)["messages"][1]
    return turn


def own(text: str, state: dict[str, Any] | None, **fields: Any) -> ReasoningPart:
    return ReasoningPart(text, provider="openai", model="up", state=state, **fields)


@pytest.mark.parametrize(
    ("flavour", "table", "parts", "extra"),
    [
        # thoughts from elsewhere: in the flavour's history field, or not at all
        ("none", {}, [ReasoningPart("T")], {}),
        ("deepseek", {}, [ReasoningPart("T")], {"reasoning_content": "T"}),
        ("openrouter", {}, [ReasoningPart("T")], {"reasoning": "T"}),
        ("none", {"send_reasoning": True}, [ReasoningPart("T")], {"reasoning_content": "T"}),
        ("openrouter", {"send_reasoning": True}, [ReasoningPart("T")], {"reasoning": "T"}),
        ("deepseek", {"send_reasoning": False}, [ReasoningPart("T")], {}),
        ("deepseek", {"send_reasoning": "yes"}, [ReasoningPart("T")], {"reasoning_content": "T"}),
        # redacted text is never sent as text
        ("deepseek", {}, [ReasoningPart("a"), ReasoningPart("b", redacted=True),
                          ReasoningPart("c")], {"reasoning_content": "ac"}),
        ("deepseek", {}, [ReasoningPart("b", redacted=True)], {}),
        # this model's own thoughts go back in the field they arrived in
        ("none", {}, [own("T", {"field": "reasoning"})], {"reasoning": "T"}),
        ("deepseek", {}, [own("T", {"field": "reasoning"})], {"reasoning": "T"}),
        ("none", {}, [own("", {"field": "reasoning"})], {}),
        ("none", {}, [own("T", {"field": "reasoning_details",
                                "details": [{"type": "reasoning.text", "text": "T"}]}),
                      own("", {"details": [{"type": "x"}]}),
                      own("", {"field": "reasoning_details"})],
         {"reasoning_details": [{"type": "reasoning.text", "text": "T"}]}),
        # a client that sent it back in a named field got it from this gateway
        ("none", {}, [ReasoningPart("T", state={"field": "reasoning_content"})],
         {"reasoning_content": "T"}),
        # another model's state is not valid here: plain text in the flavour's field
        ("deepseek", {}, [ReasoningPart("T", provider="openai", model="other",
                                        state={"field": "reasoning"})],
         {"reasoning_content": "T"}),
        ("none", {}, [own("T", {"other": 1})], {}),
        ("none", {}, [own("T", {})], {}),
    ],
)  # fmt: skip
def test_history_thoughts(
    flavour: str, table: dict[str, Any], parts: list[ReasoningPart], extra: dict[str, Any]
) -> None:
    turn = sent_turn(assistant(*parts), flavour, thinking={"enabled": False}, **table)
    assert turn == {"role": "assistant", "content": "A", **extra}


def test_user_turns_carry_no_thoughts() -> None:
    turn = sent_turn(Message("user", "Q", thinking="T"), "deepseek")
    assert turn == {"role": "user", "content": "Q"}


def test_deepseek_refuses_a_tool_turn_without_its_reasoning_when_thinking() -> None:
    call = Message("assistant", (ToolCallPart("c7", "p", "{}"),))
    result = Message("tool", (ToolResultPart("c7", "ok"),))
    with pytest.raises(ReasoningMissingError) as caught:
        body(chat(USER, call, result), "deepseek")
    assert caught.value.message == (
        "model 'm' (upstream.test) requires, with thinking on, the reasoning an assistant"
        " tool-call turn was produced with (message 1, call c7), and ponder has none to"
        " restore: the client did not send it back and this gateway's trace store does not hold"
        " it (a turn served elsewhere, or --no-store). Send reasoning_content back with the"
        ' assistant turn, or turn thinking off for this request ("reasoning_effort": "none").'
    )
    off = ThinkingSettings(enabled=False)
    assert body(chat(USER, call, result, thinking=off), "deepseek")["thinking"] == {
        "type": "disabled"
    }
    thought = Message("assistant", (ReasoningPart("why"), ToolCallPart("c7", "p", "{}")))
    sent = body(chat(USER, thought, result), "deepseek")["messages"][1]
    assert sent["reasoning_content"] == "why"
    # flavours without the rule do not check
    assert body(chat(USER, call, result), "openrouter")["messages"][1]["content"] is None


# -- tools, tool choice, response formats ------------------------------------------------------


def test_tools() -> None:
    tools = (
        ToolSpec("run_sql", "Run SQL", {"type": "object", "properties": {"q": {}}}, strict=True),
        ToolSpec("ping", strict=False),
        ToolSpec("bare"),
    )
    assert body(chat(tools=tools))["tools"] == [
        {"type": "function", "function": {"name": "run_sql", "description": "Run SQL",
         "parameters": {"type": "object", "properties": {"q": {}}}, "strict": True}},
        {"type": "function", "function": {"name": "ping",
         "parameters": {"type": "object", "properties": {}}, "strict": False}},
        {"type": "function", "function": {"name": "bare",
         "parameters": {"type": "object", "properties": {}}}},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice("auto"), "auto"),
        (ToolChoice("none"), "none"),
        (ToolChoice("required"), "required"),
        (ToolChoice("tool", "ping"), {"type": "function", "function": {"name": "ping"}}),
    ],
)
def test_tool_choice(choice: ToolChoice, wire: Any) -> None:
    sent = body(chat(tools=(ToolSpec("ping"),), tool_choice=choice, parallel_tool_calls=True))
    assert (sent["tool_choice"], sent["parallel_tool_calls"]) == (wire, True)


def test_tool_settings_without_tools_are_not_sent() -> None:
    sent = body(chat(tool_choice=ToolChoice("required"), parallel_tool_calls=False))
    assert sent == STREAMED
    bare = body(chat(tools=(ToolSpec("ping"),)))
    assert "tool_choice" not in bare and "parallel_tool_calls" not in bare


@pytest.mark.parametrize(
    ("fmt", "wire"),
    [
        (ResponseFormat("json_object", "ignored"), {"type": "json_object"}),
        (ResponseFormat("json_schema"),
         {"type": "json_schema", "json_schema": {"name": "response", "schema": {}}}),
        (ResponseFormat("json_schema", "n", {"type": "integer"}, strict=False),
         {"type": "json_schema",
          "json_schema": {"name": "n", "schema": {"type": "integer"}, "strict": False}}),
    ],
)  # fmt: skip
def test_response_format(fmt: ResponseFormat, wire: dict[str, Any]) -> None:
    assert body(chat(response_format=fmt))["response_format"] == wire


# -- reading thoughts --------------------------------------------------------------------------


def test_which_field_carries_the_thoughts() -> None:
    details = [{"type": "reasoning.text", "text": "d"}]
    assert reasoning_field({"reasoning_details": details, "reasoning": "r"}) == "reasoning_details"
    assert reasoning_field({"reasoning_details": [], "reasoning": "r"}) == "reasoning"
    assert reasoning_field({"reasoning_details": "x", "reasoning_content": "c"}) == (
        "reasoning_content"
    )
    assert reasoning_field({"reasoning": "", "reasoning_content": "c"}) == "reasoning_content"
    assert reasoning_field({"reasoning": "r", "reasoning_content": "c"}) == "reasoning"
    assert reasoning_field({"reasoning": 3, "reasoning_content": ""}) is None
    assert reasoning_field({}) is None


def test_reasoning_events() -> None:
    items = [
        {"type": "reasoning.text", "text": "a"},
        {"type": "reasoning.text", "text": ""},
        {"type": "reasoning.text", "text": 5},
        {"type": "reasoning.summary", "summary": "s"},
        {"type": "reasoning.summary", "summary": None},
        {"type": "reasoning.summary", "summary": 5},
        {"type": "reasoning.encrypted", "data": "ENC"},
        {"type": "reasoning.unknown", "text": "u"},
        "not an item",
    ]
    assert plain(reasoning_events({"reasoning_details": items})) == [
        ("thinking", "a", None, False, None, 0),
        ("thinking", "s", None, False, None, 0),
        ("thinking", "", None, True, None, 0),
    ]
    assert plain(reasoning_events({"reasoning_content": "c"})) == [
        ("thinking", "c", None, False, None, 0)
    ]
    assert reasoning_events({"content": "x"}) == []


def test_merge_details() -> None:
    merged: dict[int, dict[str, Any]] = {}
    merge_details(merged, [{"index": 0, "type": "reasoning.text", "text": "Ab", "format": None}])
    merge_details(merged, [{"index": 0, "text": "c", "signature": None, "format": "f"}])
    merge_details(merged, [{"index": 0, "signature": "S", "text": None}])
    merge_details(merged, ["skip", {"type": "reasoning.summary", "summary": "x"}])
    merge_details(merged, [{"index": True, "data": "D"}, {"index": 1, "summary": "y"}])
    # a bool is not an index: that item merged at its position (0); its index is then a
    # latest non-null value like any other key
    assert merged == {
        0: {"index": True, "type": "reasoning.text", "text": "Abc", "format": "f",
            "signature": "S", "data": "D"},
        1: {"type": "reasoning.summary", "summary": "xy", "index": 1},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("stop", "stop"), ("eos", "stop"), ("end_turn", "stop"), ("length", "length"),
        ("max_tokens", "length"), ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"), ("function_call", "tool_calls"), ("new", "stop"),
        (3, "stop"), (None, "stop"), (["stop"], "stop"),
    ],
)  # fmt: skip
def test_finish_reasons(raw: object, finish: str) -> None:
    assert finish_reason(raw) == finish


# -- reading chunks ----------------------------------------------------------------------------


def reader(**tracker: Any) -> ResponseReader:
    return ResponseReader(DeltaTracker(**tracker))


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> Any:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"choices": [choice], **top}


def read(r: ResponseReader, *chunks: Any, key: str = "delta") -> list[tuple[Any, ...]]:
    out = []
    for c in chunks:
        out.extend(plain(r.choices(c, key)))
    return out


def test_thoughts_answer_usage_and_finish() -> None:
    r = reader()
    usage = {
        "prompt_tokens": 9,
        "completion_tokens": 20,
        "completion_tokens_details": {"reasoning_tokens": 15},
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    events = read(
        r,
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Think."}),
        chunk({"reasoning_content": "", "content": "Ans"}),
        chunk({"content": "wer"}, "stop"),
        {"choices": [], "usage": usage},
    )
    assert events == [
        ("thinking", "Think.", None, False, None, 0),
        ("thinking", "", None, False, {"field": "reasoning_content"}, 0),
        ("answer", "Ans"),
        ("answer", "wer"),
    ]
    assert plain(r.end()) == [
        ("usage", 9, 15, 5, False, 4, None),
        ("finished", "stop", None, None, None, None),
    ]


def test_usage_variants() -> None:
    def usage_of(usage: dict[str, Any], thought: bool = False) -> tuple[Any, ...]:
        r = reader()
        if thought:
            read(r, chunk({"reasoning": "t"}))
        read(r, chunk({"content": "four words of answer"}), {"usage": usage})
        events = plain(r.end())
        return events[-2] if len(events) > 1 else ()

    assert usage_of({"completion_tokens": 8}) == ("usage", None, 0, 8, False, None, None)
    assert usage_of({"completion_tokens": True}) == ()
    assert usage_of({"prompt_tokens": 3}) == ()
    assert usage_of({"completion_tokens": 8, "prompt_tokens": "3",
                     "prompt_tokens_details": "x", "completion_tokens_details": "y"}) == (
        "usage", None, 0, 8, False, None, None)  # fmt: skip
    # a zero reasoning count for thoughts that did arrive is not believed: estimated split
    zero = usage_of({"completion_tokens": 40, "completion_tokens_details": {"reasoning_tokens": 0}},
                    thought=True)  # fmt: skip
    answer = estimate_tokens("four words of answer")
    assert zero == ("usage", None, 40 - answer, answer, True, None, None)
    exact_zero = usage_of({"completion_tokens": 8,
                           "completion_tokens_details": {"reasoning_tokens": 0}})  # fmt: skip
    assert exact_zero == ("usage", None, 0, 8, False, None, None)


def test_a_zero_output_count() -> None:
    r = reader()
    read(r, {"usage": {"prompt_tokens": 4, "completion_tokens": 0}})
    assert plain(r.end())[0] == ("usage", 4, 0, 0, False, None, None)


def test_usage_inside_the_choice_and_the_last_one_wins() -> None:
    r = reader()
    inside = {"index": 0, "delta": {}, "finish_reason": "length", "usage": {"completion_tokens": 3}}
    read(r, {"choices": [inside]}, {"choices": "x", "usage": {"completion_tokens": 5}})
    read(r, {"usage": "not a dict"}, {"choices": ["not a dict"]})
    assert plain(r.end()) == [
        ("usage", None, 0, 5, False, None, None),
        ("finished", "length", None, None, None, None),
    ]


def test_streamed_tool_calls() -> None:
    r = reader()
    events = read(
        r,
        chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                               "function": {"name": "run_sql", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}},
                              {"index": 1, "id": 7, "function": {"name": "ping",
                                                                  "arguments": {"a": 1}}},
                              "junk", {"index": "2", "function": "x"}]}),
        # an index that is not a number is no index: it joins by position, like the next
        chunk({"tool_calls": [{"index": 2, "function": {"arguments": "b"}}]}),
        chunk({}, "stop"),
    )  # fmt: skip
    made = events[3][2]
    assert made.startswith("call_")  # 7 is not an id
    assert events == [
        ("tool_call_start", 0, "c1", "run_sql"),
        ("tool_call_delta", 0, '{"q":'),
        ("tool_call_delta", 0, "1}"),
        ("tool_call_start", 1, made, "ping"),
        ("tool_call_delta", 1, '{"a": 1}'),
    ]
    third = plain(r.end())
    assert third[:2] == [
        ("tool_call_end", 0, "c1", "run_sql", '{"q":1}'),
        ("tool_call_end", 1, made, "ping", '{"a": 1}'),
    ]
    # the fragments without a name became a third call, ended as unknown
    assert third[2][0:2] == ("tool_call_start", 2) and third[2][3] == "unknown"
    assert third[3] == ("tool_call_delta", 2, "b")
    assert third[4][0:2] == ("tool_call_end", 2) and third[4][3:] == ("unknown", "b")
    assert len(third) == 6
    assert third[-1] == ("finished", "tool_calls", None, None, None, None)


def test_odd_names_and_arguments_are_not_taken() -> None:
    r = reader()
    events = read(r, chunk({"tool_calls": [
        {"index": 0, "id": "c1", "function": {"name": 5, "arguments": 6}},
        {"index": 0, "function": {"name": "ping", "arguments": "{}"}},
    ]}))  # fmt: skip
    assert events == [("tool_call_start", 0, "c1", "ping"), ("tool_call_delta", 0, "{}")]


def test_a_legacy_function_call_and_whole_calls() -> None:
    r = reader()
    events = read(
        r,
        chunk({"function_call": {"name": "ping", "arguments": ""}}),
        chunk({"function_call": {"arguments": '{"a":'}}),
        chunk({"function_call": {"arguments": "1}"}}),
    )
    made = events[0][2]
    assert events == [
        ("tool_call_start", 0, made, "ping"),
        ("tool_call_delta", 0, '{"a":'),
        ("tool_call_delta", 0, "1}"),
    ]
    assert plain(r.end()) == [
        ("tool_call_end", 0, made, "ping", '{"a":1}'),
        ("finished", "tool_calls", None, None, None, None),
    ]
    whole = reader()
    message = {
        "content": None,
        "tool_calls": [
            {"id": "c1", "function": {"name": "run_sql", "arguments": '{"q":1}'}},
            {"id": "c2", "function": {"arguments": None}},
        ],
    }
    response = {"choices": [{"message": message, "finish_reason": "length"}]}
    assert read(whole, response, key="message") == [
        ("tool_call_start", 0, "c1", "run_sql"),
        ("tool_call_delta", 0, '{"q":1}'),
        ("tool_call_start", 1, "c2", "unknown"),
    ]
    assert plain(whole.end()) == [
        ("tool_call_end", 0, "c1", "run_sql", '{"q":1}'),
        ("tool_call_end", 1, "c2", "unknown", ""),
        ("finished", "length", None, None, None, None),
    ]
    assert read(reader(), chunk({"function_call": "x", "tool_calls": "y"})) == []


def test_reasoning_details_are_merged_into_the_turns_state() -> None:
    r = reader()
    events = read(
        r,
        chunk({"reasoning_details": [{"index": 0, "type": "reasoning.text", "text": "Hm"}],
               "reasoning": "Hm"}),
        chunk({"reasoning_details": [{"index": 0, "type": "reasoning.text", "text": "m."}]}),
        chunk({"reasoning_details": [{"index": 1, "type": "reasoning.encrypted", "data": "E"}]}),
        chunk({"content": "ok"}, "stop"),
    )  # fmt: skip
    assert events == [
        ("thinking", "Hm", None, False, None, 0),
        ("thinking", "", None, False, {"field": "reasoning_details"}, 0),
        ("thinking", "m.", None, False, None, 0),
        ("thinking", "", None, True, None, 0),
        ("answer", "ok"),
    ]
    details = [
        {"index": 0, "type": "reasoning.text", "text": "Hmm."},
        {"index": 1, "type": "reasoning.encrypted", "data": "E"},
    ]
    assert plain(r.end()) == [
        ("thinking", "", None, False, {"field": "reasoning_details", "details": details}, 0),
        ("finished", "stop", None, None, None, None),
    ]


def test_the_end_flushes_inline_thoughts_before_the_usage() -> None:
    r = reader(inline_tags=True)
    events = read(r, chunk({"content": "<think>long </thi"}), {"usage": {"completion_tokens": 30}})
    assert events == [("thinking", "long ", None, False, None, None)]
    assert plain(r.end()) == [
        ("thinking", "</thi", None, False, None, None),
        ("usage", None, 30, 0, True, None, None),
        ("finished", "thinking_length", None, None, None, None),
    ]


# -- generate through a real local server ------------------------------------------------------


def sse(*chunks: Any) -> list[tuple[float, bytes]]:
    return [(0.0, b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\n\n")
            for c in chunks]  # fmt: skip


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


async def generate(replay: ReplayServer, reply: Reply, **table: Any) -> list[tuple[Any, ...]]:
    replay.route("POST", "/chat/completions", reply)
    p = OpenAIProvider(model("openai", replay.url, api_key_env=KEY_ENV, **table))
    try:
        return plain([e async for e in p.generate(chat(max_tokens=5))])
    finally:
        await p.aclose()


async def test_a_stream_reads_on_past_done(replay: ReplayServer) -> None:
    reply = Reply(chunks=sse(chunk({"content": "Hi"}), chunk({}, "length"), b"[DONE]",
                             chunk({"content": "after DONE: not read"})))  # fmt: skip
    events = await generate(replay, reply)
    assert events == [("answer", "Hi"), ("finished", "length", None, None, None, None)]
    sent = replay.requests[0]
    assert (sent.method, sent.path) == ("POST", "/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json() == {**STREAMED, "max_tokens": 5}


async def test_done_without_a_finish_reason_is_a_normal_end(replay: ReplayServer) -> None:
    events = await generate(replay, Reply(chunks=sse(chunk({"content": "Hi"}), b" [DONE] ")))
    assert events == [("answer", "Hi"), ("finished", "stop", None, None, None, None)]


async def test_a_stream_without_finish_or_done_is_broken(replay: ReplayServer) -> None:
    with pytest.raises(StreamBrokenError) as caught:
        await generate(replay, Reply(chunks=sse(chunk({"content": "Hi"}))))
    assert caught.value.message == (
        f"model 'm' (127.0.0.1:{replay.port}): the stream ended before the model finished (no"
        " finish_reason); the thoughts and answer that arrived are kept."
    )
    finished = await generate(replay, Reply(chunks=sse(chunk({"content": "Hi"}, "stop"))))
    assert finished[-1] == ("finished", "stop", None, None, None, None)


async def test_an_error_chunk_mid_stream(replay: ReplayServer) -> None:
    error = {"error": {"message": f"overloaded {KEY}", "type": "server_error"}}
    with pytest.raises(StreamBrokenError) as caught:
        await generate(replay, Reply(chunks=sse(chunk({"content": "Hi"}), error)))
    assert caught.value.message == (
        f"model 'm' (127.0.0.1:{replay.port}): the server reported an error mid-stream:"
        " overloaded [redacted] (server_error); what arrived before it is kept."
    )
    empty = await generate(replay, Reply(chunks=sse({"error": None}, chunk({}, "stop"))))
    assert empty == [("finished", "stop", None, None, None, None)]


async def test_one_json_response(replay: ReplayServer) -> None:
    response = {
        "choices": [{"message": {"reasoning_content": "R", "content": "A"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 6,
                  "completion_tokens_details": {"reasoning_tokens": 5}},
    }  # fmt: skip
    events = await generate(replay, json_reply(200, response), stream=False)
    assert events == [
        ("thinking", "R", None, False, None, 0),
        ("thinking", "", None, False, {"field": "reasoning_content"}, 0),
        ("answer", "A"),
        ("usage", 2, 5, 1, False, None, None),
        ("finished", "stop", None, None, None, None),
    ]
    assert replay.requests[0].json() == {**BASE, "stream": False, "max_tokens": 5}
    streamed = await generate(replay, Reply(chunks=sse(chunk({}, "stop"))), stream="no")
    assert streamed == [("finished", "stop", None, None, None, None)]
    assert replay.requests[-1].json()["stream"] is True


async def test_inline_tags_false_keeps_think_tags_in_the_answer(replay: ReplayServer) -> None:
    reply = Reply(chunks=sse(chunk({"content": "<think>x</think>y"}, "stop")))
    events = await generate(replay, reply, thinking={"inline_tags": False})
    assert events[0] == ("answer", "<think>x</think>y")
    split = await generate(replay, reply)
    assert [e[:2] for e in split[:2]] == [("thinking", "x"), ("answer", "y")]


async def test_the_body_is_read_to_its_end_after_done(replay: ReplayServer) -> None:
    """Read to the end, the response hands its connection back to the pool: the next request
    reuses it. (Stopping at [DONE] would close it, and the next request pay a new connect.)"""
    chunks = sse(chunk({"content": "Hi"}, "stop"), b"[DONE]", chunk({"content": "late"}))
    late = [*chunks[:2], (30.0, chunks[2][1]), (60.0, b": keep-alive\n\n")]
    replay.route("POST", "/chat/completions", Reply(chunks=late))
    p = OpenAIProvider(model("openai", replay.url, api_key_env=KEY_ENV))
    try:
        for _ in range(2):
            events = plain([e async for e in p.generate(chat())])
            assert events == [("answer", "Hi"), ("finished", "stop", None, None, None, None)]
    finally:
        await p.aclose()
    assert (len(replay.requests), replay.connections, replay.disconnects) == (2, 1, 0)


@pytest.mark.parametrize("stream", [True, False])
async def test_errors_name_the_model_and_hide_the_key(replay: ReplayServer, stream: bool) -> None:
    who = f"model 'm' (127.0.0.1:{replay.port})"
    refused = {"error": {"message": f"bad key {KEY}", "type": "invalid_request_error"}}
    replay.route("POST", "/chat/completions", json_reply(401, refused))
    p = OpenAIProvider(model("openai", replay.url, api_key_env=KEY_ENV, stream=stream))
    try:
        with pytest.raises(UpstreamError) as status:
            [e async for e in p.generate(chat())]
        assert status.value.message == (
            f"{who} returned HTTP 401: bad key [redacted] (invalid_request_error)"
        )
        assert replay.requests[-1].headers["authorization"] == f"Bearer {KEY}"
        garbage = f"{{{KEY}".encode()
        body = b"data: " + garbage + b"\n\n" if stream else garbage
        replay.route("POST", "/chat/completions", Reply(chunks=[(0.0, body)]))
        with pytest.raises(StreamBrokenError) as garbled:
            [e async for e in p.generate(chat())]
        assert garbled.value.message == (
            f"{who}: malformed chunk in the stream (not JSON): '{{[redacted]'; the thoughts and"
            " answer that arrived are kept."
        )
    finally:
        await p.aclose()


async def test_sampling_settings_a_reasoning_model_refuses_are_dropped_and_said(
    replay: ReplayServer,
) -> None:
    replay.route("POST", "/chat/completions", Reply(chunks=sse(chunk({}, "stop"))))
    table = {"model": "o4-mini", "thinking": {"flavour": "openai"}}
    p = OpenAIProvider(model("openai", replay.url, api_key_env=KEY_ENV, **table))
    try:
        both = plain([e async for e in p.generate(chat(temperature=0.2, top_p=0.5))])
        one = plain([e async for e in p.generate(chat(temperature=1.0, top_p=0.5))])
        defaults = plain([e async for e in p.generate(chat(temperature=1.0, top_p=1.0))])
    finally:
        await p.aclose()
    assert both[0] == (
        "notice",
        "temperature and top_p not sent: this model takes only the default (o4-mini, flavour"
        " 'openai').",
    )
    assert one[0] == (
        "notice",
        "top_p not sent: this model takes only the default (o4-mini, flavour 'openai').",
    )
    assert defaults == [("finished", "stop", None, None, None, None)]
    sent = [r.json() for r in replay.requests]
    assert [("temperature" in b, b.get("top_p")) for b in sent] == [
        (False, None), (True, None), (True, 1.0)
    ]


async def test_a_template_that_opened_the_thought(replay: ReplayServer) -> None:
    reply = Reply(chunks=sse(chunk({"content": "hm</think>ok"}, "stop")))
    events = await generate(
        replay, reply, thinking={"inline_tags": True, "opens_in_template": True}
    )
    assert [e[:2] for e in events] == [("thinking", "hm"), ("answer", "ok"), ("finished", "stop")]
