"""The anthropic provider, exactly: the whole body each request becomes (content blocks, images,
tool results, thinking and its limits), and the events each Messages stream event becomes.

In-process and fast (the stream reader is fed the decoded events; one test drives
``generate`` through the replay server), so ``benchmarks/mutation.py`` can run them per mutant.
What the upstream accepts is defended by tests/test_request_fidelity.py against a validating
server; these pin what ponder decided to send and to read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ponder.errors import (
    ReasoningMissingError,
    StreamBrokenError,
    UnsupportedRequestError,
    UpstreamError,
)
from ponder.providers.anthropic import AnthropicProvider
from ponder.providers.anthropic_reader import MessageReader
from ponder.request import (
    ChatRequest,
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ThinkingSettings,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from tests.provider_exact import KEY, KEY_ENV, model, plain
from tests.replay import ReplayServer, Reply, json_reply

OFF = ThinkingSettings(enabled=False)
USER = Message("user", "Hi")


def provider(**table: Any) -> AnthropicProvider:
    return AnthropicProvider(model("anthropic", **table))


def body(request: ChatRequest, **table: Any) -> dict[str, Any]:
    return provider(**table).build_body(request)


def chat(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (USER,), model="m", **fields)


def own(text: str, **fields: Any) -> ReasoningPart:
    """Reasoning this provider kind and upstream model produced."""
    return ReasoningPart(text, provider="anthropic", model="up", **fields)


# -- headers -----------------------------------------------------------------------------------


def test_headers() -> None:
    p = provider()
    assert p.static_headers() == {"anthropic-version": "2023-06-01"}
    assert p.auth_headers("k") == {"x-api-key": "k"}
    assert p.client.headers["anthropic-version"] == "2023-06-01"


def test_the_interleaved_beta_only_when_thinking_meets_tools() -> None:
    beta = {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    tools: dict[str, Any] = {"tools": [], "thinking": {}}
    assert provider().request_headers(chat(), tools) == beta
    assert provider().request_headers(chat(), {"tools": []}) == {}
    assert provider().request_headers(chat(), {"thinking": {}}) == {}
    assert provider(interleaved=False).request_headers(chat(), tools) == {}
    assert provider(interleaved=True).request_headers(chat(), tools) == beta


# -- messages ----------------------------------------------------------------------------------


def test_the_whole_body_with_thinking_off() -> None:
    request = chat(
        Message("system", "One."),
        Message("user", "Q1"),
        Message("system", "Two."),
        Message("assistant", "A1"),
        Message("user", "Q2"),
        thinking=OFF,
        temperature=0.0,
        top_p=0.5,
        max_tokens=77,
        stop=("X", "Y"),
    )
    assert body(request) == {
        "model": "up",
        "max_tokens": 77,
        "messages": [
            {"role": "user", "content": "Q1"},
            {"role": "assistant", "content": "A1"},
            {"role": "user", "content": "Q2"},
        ],
        "stream": True,
        "system": "One.\n\nTwo.",
        "stop_sequences": ["X", "Y"],
        "temperature": 0.0,
        "top_p": 0.5,
    }


def test_nothing_optional_is_sent_when_the_client_set_nothing() -> None:
    assert body(chat(thinking=OFF)) == {
        "model": "up",
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }


def test_the_models_max_tokens_option() -> None:
    assert body(chat(thinking=OFF), max_tokens=1000)["max_tokens"] == 1000
    assert body(chat(thinking=OFF), max_tokens="many")["max_tokens"] == 8192
    assert body(chat(thinking=OFF, max_tokens=5), max_tokens=1000)["max_tokens"] == 5


def test_images_text_and_empty_text_blocks() -> None:
    parts = (
        TextPart(""),
        TextPart("What is this?"),
        ImagePart("data:image/png;base64,iVBORw0K"),
        ImagePart("https://example.test/cat.jpg", detail="high"),
        ImagePart("data:;base64,AAAA"),
    )
    sent = body(chat(Message("user", parts), thinking=OFF))["messages"]
    assert sent == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "application/octet-stream",
                        "data": "AAAA",
                    },
                },
            ],
        }
    ]


def test_a_lone_image_stays_a_list_and_an_empty_user_turn_is_kept() -> None:
    image = ImagePart("https://example.test/a.png")
    sent = body(chat(Message("user", (image,)), Message("user", ""), thinking=OFF))["messages"]
    url = {"type": "url", "url": image.url}
    assert sent == [{"role": "user", "content": [{"type": "image", "source": url}]}]
    alone = body(chat(Message("user", ""), thinking=OFF))["messages"]
    assert alone == [{"role": "user", "content": []}]


def test_tool_calls_results_and_the_turns_they_merge_into() -> None:
    request = chat(
        Message("user", "Count orders and users"),
        Message(
            "assistant",
            (
                TextPart("Looking."),
                ToolCallPart("t1", "run_sql", '{"q": 1}'),
                ToolCallPart("t2", "run_sql", "  "),
            ),
        ),
        Message("tool", (ToolResultPart("t1", "[[42]]"), ToolResultPart("t2", "boom", True))),
        Message("user", "And now?"),
        Message("assistant", ""),  # an empty assistant turn is not sent
        Message("user", "Well?"),
        thinking=OFF,
    )
    assert body(request)["messages"] == [
        {"role": "user", "content": "Count orders and users"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "t1", "name": "run_sql", "input": {"q": 1}},
                {"type": "tool_use", "id": "t2", "name": "run_sql", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "[[42]]"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": True},
                {"type": "text", "text": "And now?"},
                {"type": "text", "text": "Well?"},
            ],
        },
    ]


def test_a_tool_turn_as_the_first_turn_and_parts_that_are_not_sent() -> None:
    request = chat(
        Message("tool", (ToolResultPart("t9", "x"),)),
        Message("user", (TextPart("ok"), ToolResultPart("t8", "not here"))),
        thinking=OFF,
    )
    assert body(request)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t9", "content": "x"},
                {"type": "text", "text": "ok"},
            ],
        }
    ]


def test_arguments_that_are_not_json_are_refused() -> None:
    call = ToolCallPart("t1", "run_sql", "{not json")
    with pytest.raises(UnsupportedRequestError) as caught:
        body(chat(USER, Message("assistant", (call,)), USER, thinking=OFF))
    assert caught.value.param == "messages"
    assert caught.value.message == (
        "tool call 't1' (run_sql) has arguments that are not JSON; Anthropic needs them as an"
        " object. Send the arguments the model produced."
    )


def test_reasoning_goes_back_only_when_this_model_signed_it() -> None:
    parts = (
        own("Signed.", signature="sig-a"),
        own("", signature="sig-b"),  # signature-only blocks are replayed too
        own("", redacted=True, state={"data": "ENC"}),
        own("hidden", redacted=True, state={"data": 7}, signature="sig-c"),
        own("unsigned"),
        ReasoningPart("other", provider="openai", model="up", signature="sig-d"),
        ReasoningPart("other model", provider="anthropic", model="claude-x", signature="sig-e"),
        own("no state", redacted=True),
        TextPart("4"),
    )
    sent = body(chat(USER, Message("assistant", parts), USER))["messages"][1]
    assert sent == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Signed.", "signature": "sig-a"},
            {"type": "thinking", "thinking": "", "signature": "sig-b"},
            {"type": "redacted_thinking", "data": "ENC"},
            {"type": "thinking", "thinking": "hidden", "signature": "sig-c"},
            {"type": "text", "text": "4"},
        ],
    }


# -- tools -------------------------------------------------------------------------------------

SQL = ToolSpec("run_sql", "Run SQL", {"type": "object", "properties": {"q": {}}})
BARE = ToolSpec("ping")


@pytest.mark.parametrize(
    ("choice", "parallel", "wire"),
    [
        (None, None, {"type": "auto"}),
        (ToolChoice("auto"), False, {"type": "auto", "disable_parallel_tool_use": True}),
        (ToolChoice("none"), False, {"type": "none"}),
        (ToolChoice("required"), True, {"type": "any"}),
        (ToolChoice("tool", "ping"), False,
         {"type": "tool", "name": "ping", "disable_parallel_tool_use": True}),
    ],
)  # fmt: skip
def test_tools_and_tool_choice(
    choice: ToolChoice | None, parallel: bool | None, wire: dict[str, Any]
) -> None:
    request = chat(
        thinking=OFF, tools=(SQL, BARE), tool_choice=choice, parallel_tool_calls=parallel
    )
    sent = body(request)
    assert sent["tools"] == [
        {"name": "run_sql", "description": "Run SQL", "input_schema": SQL.parameters},
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert sent["tool_choice"] == wire


def test_no_tools_no_tool_fields() -> None:
    sent = body(chat(thinking=OFF, tool_choice=ToolChoice("required")))
    assert "tools" not in sent and "tool_choice" not in sent


@pytest.mark.parametrize(
    ("choice", "forced"),
    [(ToolChoice("required"), "a tool call"), (ToolChoice("tool", "ping"), "a call of 'ping'")],
)
def test_thinking_refuses_a_forced_tool_call(choice: ToolChoice, forced: str) -> None:
    with pytest.raises(UnsupportedRequestError) as caught:
        body(chat(tools=(BARE,), tool_choice=choice))
    assert caught.value.param == "tool_choice"
    assert caught.value.message == (
        "model 'm' (upstream.test): with thinking on, Anthropic accepts tool_choice auto or none"
        f" only (this request forces {forced}). Send tool_choice auto, or turn thinking off for"
        ' this request ("reasoning_effort": "none").'
    )


def test_thinking_with_tool_choice_auto_or_none() -> None:
    for kind in ("auto", "none"):
        sent = body(chat(tools=(BARE,), tool_choice=ToolChoice(kind)))  # type: ignore[arg-type]
        assert sent["tool_choice"] == {"type": kind}


# -- thinking and its limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "thinking", "fields", "expected"),
    [
        # a budget: enabled, max_tokens = budget + the client's answer limit
        ({}, ThinkingSettings(budget=2000), {"max_tokens": 300},
         {"thinking": {"type": "enabled", "budget_tokens": 2000}, "max_tokens": 2300}),
        # the minimum budget is 1024
        ({}, ThinkingSettings(budget=1023), {},
         {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 8192}),
        ({}, ThinkingSettings(budget=1025), {},
         {"thinking": {"type": "enabled", "budget_tokens": 1025}, "max_tokens": 8192}),
        # the default max_tokens just above, at and below the budget
        ({"max_tokens": 4097}, ThinkingSettings(), {},
         {"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 4097}),
        ({"max_tokens": 4096}, ThinkingSettings(), {},
         {"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 8192}),
        ({"max_tokens": 100}, ThinkingSettings(budget=3000), {},
         {"thinking": {"type": "enabled", "budget_tokens": 3000}, "max_tokens": 7096}),
        # an effort without a budget: adaptive, max_tokens as the client sent it
        ({}, ThinkingSettings(effort="low"), {"max_tokens": 50},
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}, "max_tokens": 50}),
        # an effort with a budget: the budget wins
        ({}, ThinkingSettings(effort="high", budget=2048), {},
         {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 8192}),
        # models that only think adaptively
        ({"adaptive": True}, ThinkingSettings(budget=9000), {"max_tokens": 10},
         {"thinking": {"type": "adaptive"}, "max_tokens": 10}),
        ({"adaptive": True}, ThinkingSettings(effort="medium"), {},
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"},
          "max_tokens": 8192}),
        ({"adaptive": "yes"}, ThinkingSettings(), {},
         {"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 8192}),
    ],
)  # fmt: skip
def test_thinking_fields(
    table: dict[str, Any],
    thinking: ThinkingSettings,
    fields: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    sent = body(chat(thinking=thinking, temperature=0.5, **fields), **table)
    assert sent == {
        "model": "up",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        **expected,
    }


@pytest.mark.parametrize(("top_p", "sent"), [(0.94, None), (0.95, 0.95), (1.0, 1.0)])
def test_top_p_while_thinking(top_p: float, sent: float | None) -> None:
    assert body(chat(top_p=top_p)).get("top_p") == sent


def test_thinking_off_sends_a_zero_top_p_and_temperature() -> None:
    sent = body(chat(thinking=OFF, top_p=0.0, temperature=0.0))
    assert (sent["top_p"], sent["temperature"]) == (0.0, 0.0)


TOOL_TURN = Message("assistant", (ToolCallPart("tu_1", "ping", "{}"),))
RESULT = Message("tool", (ToolResultPart("tu_1", "pong"),))


def test_thinking_needs_the_last_tool_turns_signed_thinking() -> None:
    with pytest.raises(ReasoningMissingError) as caught:
        body(chat(USER, TOOL_TURN, RESULT, tools=(BARE,)))
    assert caught.value.message == (
        "model 'm' (upstream.test): with thinking on, Anthropic requires the last assistant turn"
        " that called tools (message 1, tool_use tu_1) to start with its signed thinking block,"
        " and ponder has none to send: the client did not send it back, and the turn is not in"
        " this gateway's trace store or was produced by another model. Send the thinking blocks"
        ' back unmodified, or turn thinking off for this request ("reasoning_effort": "none").'
    )


def test_an_unsigned_tool_turn_as_the_very_last_message_is_refused() -> None:
    with pytest.raises(ReasoningMissingError, match=r"message 1, tool_use tu_1"):
        body(chat(USER, TOOL_TURN, tools=(BARE,)))


def test_only_the_last_assistant_turn_is_checked() -> None:
    signed = Message("assistant", (own("", signature="s"), ToolCallPart("tu_2", "ping", "{}")))
    redacted = Message(
        "assistant", (own("", redacted=True, state={"data": "D"}), ToolCallPart("tu_3", "p", "{}"))
    )
    for last in (signed, redacted, Message("assistant", "Plain answer.")):
        sent = body(chat(USER, TOOL_TURN, RESULT, last, USER, tools=(BARE,)))
        assert sent["messages"][-2]["role"] == "assistant"
    # thinking off: no check at all
    assert body(chat(USER, TOOL_TURN, RESULT, thinking=OFF, tools=(BARE,)))["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "tu_1", "name": "ping", "input": {}}],
    }
    # a later unsigned tool turn is refused even when an earlier one was signed
    later = Message("assistant", (ToolCallPart("tu_4", "ping", "{}"),))
    with pytest.raises(ReasoningMissingError, match=r"message 3, tool_use tu_4"):
        body(chat(USER, signed, RESULT, later, RESULT, tools=(BARE,)))


# -- reading the stream ------------------------------------------------------------------------


def reader() -> MessageReader:
    return MessageReader("model 'm' (h)", [KEY])


def feed(r: MessageReader, *events: dict[str, Any]) -> list[tuple[Any, ...]]:
    out = []
    for event in events:
        out.extend(plain(r.handle(event)))
    return out


def start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": fields}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def test_message_start_counts_cache_tokens_as_input() -> None:
    r = reader()
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 20,
        "output_tokens": 3,
    }
    assert feed(r, {"type": "message_start", "message": {"usage": usage}}) == []
    assert (r.input_tokens, r.cached_tokens, r.output_tokens) == (35, 20, 3)


def test_message_start_without_cache_and_with_odd_counts() -> None:
    r = reader()
    usage = {"input_tokens": 7, "cache_read_input_tokens": 0, "output_tokens": True}
    feed(r, {"type": "message_start", "message": {"usage": usage}})
    assert (r.input_tokens, r.cached_tokens, r.output_tokens) == (7, None, 0)
    odd = reader()
    feed(odd, {"type": "message_start", "message": {"usage": {"input_tokens": "7"}}})
    assert (odd.input_tokens, odd.cached_tokens, odd.output_tokens) == (0, None, 0)
    none = reader()
    feed(none, {"type": "message_start", "message": {"usage": "n/a"}})
    feed(none, {"type": "message_start", "message": "n/a"})
    assert (none.input_tokens, none.cached_tokens, none.output_tokens) == (None, None, 0)


def test_thinking_signature_and_redacted_blocks() -> None:
    r = reader()
    events = feed(
        r,
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Let me see."),
        delta(0, type="thinking_delta", thinking=""),
        delta(0, type="thinking_delta", thinking=None),
        delta(0, type="signature_delta", signature="SIG"),
        delta(0, type="signature_delta", signature=""),
        delta(0, type="signature_delta"),
        stop(0),
        start(1, {"type": "redacted_thinking", "data": "ENC"}),
        stop(1),
        start(2, {"type": "thinking", "thinking": "Whole.", "signature": "S2"}),
        start(3, {"type": "thinking", "thinking": 5, "signature": 6}),
    )
    assert events == [
        ("thinking", "", None, False, None, 0),
        ("thinking", "Let me see.", None, False, None, 0),
        ("thinking", "", "SIG", False, None, 0),
        ("thinking", "", None, True, {"data": "ENC"}, 1),
        ("thinking", "Whole.", "S2", False, None, 2),
        ("thinking", "", None, False, None, 3),
    ]
    assert r.tracker.thinking_text == "Let me see.Whole."
    assert r.tracker.saw_thinking is True


def test_text_blocks_and_deltas() -> None:
    r = reader()
    events = feed(
        r,
        start(0, {"type": "text", "text": "Hello"}),
        start(1, {"type": "text", "text": ""}),
        start(2, {"type": "text"}),
        start(5, {"type": "text", "text": 5}),
        start(3, {"type": "other", "text": "not text"}),
        delta(0, type="text_delta", text=", world"),
        delta(0, type="text_delta", text=""),
        delta(0, type="text_delta", text=3),
        delta(0, type="citations_delta", citation={}),
        {"type": "content_block_delta", "index": 0, "delta": "text"},
        start(4, "not a block"),  # type: ignore[arg-type]
        {"type": "ping"},
        {"no": "type"},
    )
    assert events == [("answer", "Hello"), ("answer", ", world")]
    # inline <think> tags in an Anthropic answer are text, not thoughts
    tagged = reader()
    assert feed(tagged, delta(0, type="text_delta", text="<think>x</think>")) == [
        ("answer", "<think>x</think>")
    ]


def test_tool_use_blocks_stream_their_input() -> None:
    r = reader()
    events = feed(
        r,
        start(3, {"type": "tool_use", "id": "tu_1", "name": "run_sql", "input": {}}),
        delta(3, type="input_json_delta", partial_json=""),
        delta(3, type="input_json_delta", partial_json='{"q": '),
        delta(3, type="input_json_delta", partial_json=None),
        delta(3, type="input_json_delta", partial_json=5),
        delta(3, type="input_json_delta", partial_json='"x"}'),
        stop(3),
        stop(3),  # a second stop of the same block ends nothing
        stop(7),
        start(2, {"type": "tool_use", "id": 5, "name": None, "input": {"a": 1}}),
    )
    assert events[:5] == [
        ("tool_call_start", 0, "tu_1", "run_sql"),
        ("tool_call_delta", 0, '{"q": '),
        ("tool_call_delta", 0, '"x"}'),
        ("tool_call_end", 0, "tu_1", "run_sql", '{"q": "x"}'),
        ("tool_call_start", 1, events[4][2], "unknown"),
    ]
    assert events[4][2].startswith("call_") and events[5:] == [
        ("tool_call_delta", 1, '{"a": 1}')
    ]
    assert plain(r.calls.close()) == [("tool_call_end", 1, events[4][2], "unknown", '{"a": 1}')]


def test_message_delta_stop_reasons_and_output_count() -> None:
    cases = {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "pause_turn": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
        "something_new": "stop",
    }
    for raw, finish in cases.items():
        r = reader()
        r.finish = "length"
        feed(r, {"type": "message_delta", "delta": {"stop_reason": raw}, "usage": {}})
        assert r.finish == finish, raw
    r = reader()
    r.output_tokens = 9
    feed(r, {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"x": 1}})
    assert (r.finish, r.output_tokens) == ("stop", 9)
    feed(r, {"type": "message_delta", "delta": "x", "usage": {"output_tokens": 42}})
    assert (r.finish, r.output_tokens) == ("stop", 42)
    feed(r, {"type": "message_delta", "usage": {"output_tokens": "7"}})
    assert r.output_tokens == 0
    assert r.stopped is False
    assert feed(r, {"type": "message_stop"}) == [] and r.stopped is True


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("invalid_request_error", 400),
        ("authentication_error", 401),
        ("permission_error", 403),
        ("not_found_error", 404),
        ("request_too_large", 413),
        ("rate_limit_error", 429),
        ("api_error", 500),
        ("overloaded_error", 529),
        ("brand_new_error", 502),
    ],
)
def test_error_events_carry_the_status_the_error_has_as_a_response(kind: str, status: int) -> None:
    with pytest.raises(UpstreamError) as caught:
        reader().handle({"type": "error", "error": {"type": kind, "message": f"bad {KEY}"}})
    assert caught.value.status == status
    assert caught.value.message == (
        f"model 'm' (h) returned HTTP {status}: bad [redacted] ({kind}, mid-stream; what"
        " arrived before it is kept)"
    )


@pytest.mark.parametrize(
    ("error", "tail"),
    [
        ({"type": "api_error", "message": ""}, "no message (api_error, mid-stream;"),
        ({"type": "api_error", "message": 3}, "no message (api_error, mid-stream;"),
        ({"message": "m"}, "m (error, mid-stream;"),
        ("overloaded", "no message (error, mid-stream;"),
    ],
)
def test_error_events_without_a_message_or_type(error: Any, tail: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        reader().handle({"type": "error", "error": error})
    assert caught.value.message.endswith(tail + " what arrived before it is kept)")
    assert caught.value.status == (500 if isinstance(error, dict) and "type" in error else 502)


# -- generate: one stream end to end through a real local server -------------------------------


def sse(*events: dict[str, Any]) -> list[tuple[float, bytes]]:
    return [(0.0, f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()) for e in events]


MESSAGE_START = {"type": "message_start", "message": {"usage": {"input_tokens": 12}}}


async def stream(
    replay: ReplayServer, request: ChatRequest, *events: dict[str, Any], **table: Any
) -> list[tuple[Any, ...]]:
    replay.route("POST", "/v1/messages", Reply(chunks=sse(*events)))
    p = AnthropicProvider(model("anthropic", replay.url, api_key_env=KEY_ENV, **table))
    try:
        return plain([e async for e in p.generate(request)])
    finally:
        await p.aclose()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


async def test_the_stop_sequence_it_stopped_at_is_kept_and_only_then(
    replay: ReplayServer,
) -> None:
    def ended(delta: dict[str, Any]) -> list[dict[str, Any]]:
        return [MESSAGE_START, start(0, {"type": "text", "text": ""}),
                {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": "Answer: 4"}},
                stop(0), {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 3}},
                {"type": "message_stop"}]  # fmt: skip

    request = chat(thinking=OFF, stop=("|",))
    events = await stream(replay, request,
                          *ended({"stop_reason": "stop_sequence", "stop_sequence": "|"}))
    assert events[-1] == ("finished", "stop", None, None, None, None, "|")
    assert replay.requests[-1].json()["stop_sequences"] == ["|"]
    # A natural end names no sequence, even when the server sends one along.
    events = await stream(replay, request,
                          *ended({"stop_reason": "end_turn", "stop_sequence": "|"}))
    assert events[-1] == ("finished", "stop", None, None, None, None)
    events = await stream(replay, request,
                          *ended({"stop_reason": "stop_sequence", "stop_sequence": None}))
    assert events[-1] == ("finished", "stop", None, None, None, None)


async def test_a_tool_call_turn_end_to_end(replay: ReplayServer) -> None:
    request = chat(tools=(SQL,), thinking=OFF)
    events = await stream(
        replay,
        request,
        MESSAGE_START,
        start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Checking."),
        stop(0),
        start(1, {"type": "tool_use", "id": "tu_9", "name": "run_sql", "input": {}}),
        delta(1, type="input_json_delta", partial_json='{"q": 1}'),
        # no content_block_stop: the call is ended when the message stops
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 30}},
        {"type": "message_stop"},
        {"type": "ping"},  # after message_stop: not read
    )  # fmt: skip
    assert events == [
        ("answer", "Checking."),
        ("tool_call_start", 0, "tu_9", "run_sql"),
        ("tool_call_delta", 0, '{"q": 1}'),
        ("tool_call_end", 0, "tu_9", "run_sql", '{"q": 1}'),
        ("usage", 12, 0, 30, False, None, None),
        ("finished", "tool_calls", None, None, None, None),
    ]
    sent = replay.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "anthropic-beta" not in sent.headers
    assert sent.json() == body(request)


async def test_thinking_with_tools_sends_the_beta_header(replay: ReplayServer) -> None:
    request = chat(tools=(SQL,))
    await stream(replay, request, MESSAGE_START, {"type": "message_stop"})
    assert replay.requests[0].headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


async def test_thoughts_then_a_cut_answer(replay: ReplayServer) -> None:
    events = await stream(
        replay,
        chat(),
        {"type": "message_start",
         "message": {"usage": {"input_tokens": 4, "cache_read_input_tokens": 6}}},
        start(0, {"type": "thinking", "thinking": ""}),
        delta(0, type="thinking_delta", thinking="Hmm."),
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
         "usage": {"output_tokens": 50}},
        {"type": "message_stop"},
    )  # fmt: skip
    assert events == [
        ("thinking", "", None, False, None, 0),
        ("thinking", "Hmm.", None, False, None, 0),
        ("usage", 10, 50, 0, True, 6, None),
        ("finished", "thinking_length", None, None, None, None),
    ]


async def test_a_stream_without_message_stop_is_broken(replay: ReplayServer) -> None:
    with pytest.raises(StreamBrokenError) as caught:
        await stream(replay, chat(), MESSAGE_START, delta(0, type="text_delta", text="Par"))
    assert caught.value.message == (
        f"model 'm' (127.0.0.1:{replay.port}): the stream ended before message_stop; the"
        " thoughts and answer that arrived are kept."
    )


async def test_errors_name_the_model_and_hide_the_key(replay: ReplayServer) -> None:
    """The label and the secrets reach every error path: an error status, a chunk that is not
    JSON, an error event."""
    who = f"model 'm' (127.0.0.1:{replay.port})"
    refused = {"type": "error", "error": {"type": "invalid_request_error", "message": KEY}}
    replay.route("POST", "/v1/messages", json_reply(400, refused))
    p = AnthropicProvider(model("anthropic", replay.url, api_key_env=KEY_ENV))
    try:
        with pytest.raises(UpstreamError) as status:
            [e async for e in p.generate(chat())]
        assert status.value.message == (
            f"{who} returned HTTP 400: [redacted] (invalid_request_error)"
        )
        garbage = Reply(chunks=[(0.0, f"data: {{{KEY}\n\n".encode())])
        replay.route("POST", "/v1/messages", garbage)
        with pytest.raises(StreamBrokenError) as garbled:
            [e async for e in p.generate(chat())]
        assert garbled.value.message == (
            f"{who}: malformed chunk in the stream (not JSON): '{{[redacted]'; the thoughts and"
            " answer that arrived are kept."
        )
        overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        replay.route("POST", "/v1/messages", Reply(chunks=sse(MESSAGE_START, overloaded)))
        with pytest.raises(UpstreamError) as event:
            [e async for e in p.generate(chat())]
        assert event.value.message == (
            f"{who} returned HTTP 529: busy (overloaded_error, mid-stream; what arrived before"
            " it is kept)"
        )
    finally:
        await p.aclose()
