"""The ollama provider, exactly: the whole ``/api/chat`` body each request becomes (options,
the think switch, history thoughts, calls, tool turns, images, tools, format), and the events
each NDJSON stream becomes, driven through the in-process replay server.

Fast, so ``benchmarks/mutation.py`` can run them per mutant; what Ollama itself accepts is
defended by tests/test_request_fidelity.py against a validating server.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ponder.errors import StreamBrokenError, UnsupportedRequestError, UpstreamError
from ponder.providers.ollama import OllamaProvider
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
from tests.provider_exact import KEY, KEY_ENV, model, plain
from tests.replay import ReplayServer, Reply, json_reply

USER = Message("user", "Hi")
OFF = ThinkingSettings(enabled=False)


def provider(base_url: str = "http://upstream.test", **table: Any) -> OllamaProvider:
    return OllamaProvider(model("ollama", base_url, **table))


def chat(*messages: Message, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (USER,), model="m", **fields)


def body(request: ChatRequest, **table: Any) -> dict[str, Any]:
    return provider(**table).build_body(request)


# -- the request -------------------------------------------------------------------------------


def test_the_whole_body_with_every_option() -> None:
    request = chat(
        Message("system", "Be brief."),
        USER,
        temperature=0.0,
        top_p=0.0,
        max_tokens=0,
        stop=("a", "b"),
    )
    assert body(request) == {
        "model": "up",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "stream": True,
        "think": True,
        "options": {"num_predict": 0, "temperature": 0.0, "top_p": 0.0, "stop": ["a", "b"]},
    }


def test_no_options_when_the_client_set_none() -> None:
    assert body(chat(thinking=OFF)) == {
        "model": "up",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "think": False,
    }


@pytest.mark.parametrize(
    ("levels", "thinking", "think"),
    [
        (True, ThinkingSettings(effort="low"), "low"),
        (True, ThinkingSettings(effort="high", enabled=False), False),
        (True, ThinkingSettings(), True),
        (False, ThinkingSettings(effort="medium"), True),
        (None, ThinkingSettings(effort="medium"), True),
    ],
)
def test_the_think_switch(levels: bool | None, thinking: ThinkingSettings, think: Any) -> None:
    table = {} if levels is None else {"think_levels": levels}
    assert body(chat(thinking=thinking), **table)["think"] == think


def test_history_thoughts_calls_and_tool_turns() -> None:
    request = chat(
        USER,
        Message(
            "assistant",
            (
                ReasoningPart("First. "),
                ReasoningPart("secret", redacted=True),
                ReasoningPart("Second."),
                TextPart("Let me look."),
                ToolCallPart("c1", "run_sql", '{"q": "SELECT 1"}'),
                ToolCallPart("c2", "ping", "  "),
                ToolCallPart("c3", "echo", "not json"),
            ),
        ),
        Message(
            "tool",
            (
                ToolResultPart("c1", "[[1]]"),
                ToolResultPart("c2", "pong", name="ping_v2"),
                ToolResultPart("c9", "lost"),
            ),
        ),
        Message("assistant", (ReasoningPart("only hidden", redacted=True), TextPart("Done."))),
        thinking=OFF,
    )
    assert body(request)["messages"] == [
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": "Let me look.",
            "thinking": "First. Second.",
            "tool_calls": [
                {"function": {"name": "run_sql", "arguments": {"q": "SELECT 1"}}},
                {"function": {"name": "ping", "arguments": {}}},
                {"function": {"name": "echo", "arguments": "not json"}},
            ],
        },
        {"role": "tool", "content": "[[1]]", "tool_name": "run_sql"},
        {"role": "tool", "content": "pong", "tool_name": "ping_v2"},
        {"role": "tool", "content": "lost", "tool_name": ""},
        {"role": "assistant", "content": "Done."},
    ]


def test_images_go_as_base64_only() -> None:
    parts = (TextPart("What?"), ImagePart("data:image/png;base64,QUJD"), ImagePart("data:,x"))
    with pytest.raises(UnsupportedRequestError) as caught:
        body(chat(Message("user", parts)))
    assert caught.value.param == "messages"
    assert caught.value.message == (
        "Ollama takes images as base64 data only; send the image as a data: URL."
    )
    ok = (TextPart("What?"), ImagePart("data:image/png;base64,QUJD"))
    assert body(chat(Message("user", ok)))["messages"] == [
        {"role": "user", "content": "What?", "images": ["QUJD"]}
    ]
    with pytest.raises(UnsupportedRequestError, match="base64 data only"):
        body(chat(Message("user", (ImagePart("https://example.test/a.png"),))))


SQL = ToolSpec("run_sql", "Run SQL", {"type": "object"})
WIRE_SQL = {
    "type": "function",
    "function": {"name": "run_sql", "description": "Run SQL", "parameters": {"type": "object"}},
}


def test_tools_and_tool_choice() -> None:
    assert body(chat(tools=(SQL,)))["tools"] == [WIRE_SQL]
    assert body(chat(tools=(SQL,), tool_choice=ToolChoice("auto")))["tools"] == [WIRE_SQL]
    assert "tools" not in body(chat(tools=(SQL,), tool_choice=ToolChoice("none")))
    assert "tools" not in body(chat(tool_choice=ToolChoice("required")))


@pytest.mark.parametrize("choice", [ToolChoice("required"), ToolChoice("tool", "run_sql")])
def test_a_forced_call_is_refused(choice: ToolChoice) -> None:
    with pytest.raises(UnsupportedRequestError) as caught:
        body(chat(tools=(SQL,), tool_choice=choice))
    assert caught.value.param == "tool_choice"
    assert caught.value.message == (
        "model 'm' (upstream.test): Ollama cannot be made to call a tool (it has no"
        " tool_choice); send tool_choice auto and let the model decide."
    )


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    as_schema = ResponseFormat("json_schema", "n", schema)
    assert body(chat(response_format=as_schema))["format"] == schema
    assert body(chat(response_format=ResponseFormat("json_schema")))["format"] == {}
    assert body(chat(response_format=ResponseFormat("json_object")))["format"] == "json"
    assert "format" not in body(chat())


# -- the stream --------------------------------------------------------------------------------


def lines(*objects: dict[str, Any]) -> list[tuple[float, bytes]]:
    return [(0.0, json.dumps(o).encode() + b"\n") for o in objects]


async def stream(
    replay: ReplayServer, request: ChatRequest, *objects: dict[str, Any], **table: Any
) -> list[tuple[Any, ...]]:
    reply = Reply(chunks=lines(*objects), content_type="application/x-ndjson")
    replay.route("POST", "/api/chat", reply)
    p = provider(replay.url, **table)
    try:
        return plain([e async for e in p.generate(request)])
    finally:
        await p.aclose()


def msg(**fields: Any) -> dict[str, Any]:
    return {"message": {"role": "assistant", **fields}, "done": False}


DONE = {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
        "prompt_eval_count": 11, "eval_count": 7}  # fmt: skip


async def test_thoughts_then_answer(replay: ReplayServer) -> None:
    events = await stream(
        replay,
        chat(),
        msg(content="", thinking="Nine "),
        msg(content="", thinking=""),
        msg(content="", thinking=5),
        msg(content="", thinking="squared."),
        msg(content="81"),
        msg(content=None),
        {"done": False},
        {"message": "text", "done": False},
        DONE,
        msg(content="after done: not read"),
    )
    assert events[:4] == [
        ("thinking", "Nine ", None, False, None, None),
        ("thinking", "squared.", None, False, None, None),
        ("answer", "81"),
        ("usage", 11, 6, 1, True, None, None),
    ]
    assert events[4:] == [("finished", "stop", None, None, None, None)]
    sent = replay.requests[0]
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.json() == body(chat())
    assert "authorization" not in sent.headers


async def test_no_thoughts_exact_counts_and_no_usage_without_eval_count(
    replay: ReplayServer,
) -> None:
    events = await stream(replay, chat(), msg(content="Hi there"), {**DONE, "eval_count": 3})
    assert events[1:] == [("usage", 11, 0, 3, False, None, None), events[-1]]
    bare = await stream(replay, chat(), msg(content="x"), {"done": True, "eval_count": "3"})
    assert bare == [("answer", "x"), ("finished", "stop", None, None, None, None)]
    no_input = await stream(replay, chat(), {"done": True, "eval_count": 2})
    assert no_input == [
        ("usage", None, 0, 2, False, None, None),
        ("finished", "stop", None, None, None, None),
    ]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("stop", "stop"), ("length", "length"), ("load", "stop"), ("unload", "stop"), (None, "stop")],
)
async def test_done_reasons(replay: ReplayServer, reason: str | None, finish: str) -> None:
    events = await stream(replay, chat(), msg(content="a"), {"done": True, "done_reason": reason})
    assert events[-1] == ("finished", finish, None, None, None, None)


async def test_a_length_stop_inside_the_thoughts(replay: ReplayServer) -> None:
    events = await stream(
        replay, chat(), msg(thinking="long"), {"done": True, "done_reason": "length"}
    )
    assert events[-1] == ("finished", "thinking_length", None, None, None, None)


async def test_inline_think_tags_in_the_content(replay: ReplayServer) -> None:
    events = await stream(
        replay, chat(), msg(content="<think>hm</think>"), msg(content="ok"), {"done": True}
    )
    assert [e[:2] for e in events] == [("thinking", "hm"), ("answer", "ok"), ("finished", "stop")]
    never = await stream(
        replay, chat(), msg(content="<think>hm</think>ok"), {"done": True},
        thinking={"inline_tags": False},
    )  # fmt: skip
    assert never[0] == ("answer", "<think>hm</think>ok")
    opened = await stream(
        replay, chat(), msg(content="hm</think>ok"), {"done": True},
        thinking={"inline_tags": True, "opens_in_template": True},
    )  # fmt: skip
    assert [e[:2] for e in opened] == [("thinking", "hm"), ("answer", "ok"), ("finished", "stop")]


async def test_tool_calls_arrive_whole(replay: ReplayServer) -> None:
    calls = [
        "not a call",
        {"function": "not a function"},
        {"id": 5, "function": {"name": "run_sql", "arguments": {"q": 1}}},
        {"id": "call_up", "function": {"name": "ping", "arguments": '{"raw": true}'}},
        {"function": {"name": 7, "arguments": None}},
    ]
    events = await stream(
        replay, chat(tools=(SQL,)), msg(content="", tool_calls=calls), msg(tool_calls="x"), DONE
    )
    made = events[0][2], events[2][2], events[4][2]
    assert events == [
        ("tool_call_start", 0, made[0], "run_sql"),
        ("tool_call_delta", 0, '{"q": 1}'),
        ("tool_call_start", 1, "call_up", "ping"),
        ("tool_call_delta", 1, '{"raw": true}'),
        ("tool_call_start", 2, made[2], "unknown"),
        ("tool_call_delta", 2, "{}"),
        ("tool_call_end", 0, made[0], "run_sql", '{"q": 1}'),
        ("tool_call_end", 1, "call_up", "ping", '{"raw": true}'),
        ("tool_call_end", 2, made[2], "unknown", "{}"),
        ("usage", 11, 0, 7, False, None, None),
        ("finished", "tool_calls", None, None, None, None),
    ]
    assert made[0].startswith("call_") and made[2].startswith("call_") and made[0] != made[2]


async def test_calls_keep_a_length_stop(replay: ReplayServer) -> None:
    call = [{"function": {"name": "ping", "arguments": {}}}]
    events = await stream(
        replay, chat(), msg(tool_calls=call), {"done": True, "done_reason": "length"}
    )
    assert events[-1] == ("finished", "length", None, None, None, None)
    one = await stream(replay, chat(), msg(tool_calls=call), {"done": True, "done_reason": "stop"})
    assert one[-1] == ("finished", "tool_calls", None, None, None, None)


async def test_a_done_reason_that_is_not_a_string(replay: ReplayServer) -> None:
    events = await stream(replay, chat(), msg(content="a"), {"done": True, "done_reason": [1]})
    assert events[-1] == ("finished", "stop", None, None, None, None)


async def test_a_hosted_ollama_gets_the_key_and_errors_hide_it(
    replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    events = await stream(replay, chat(), msg(content="a"), {"done": True}, api_key_env=KEY_ENV)
    assert events[0] == ("answer", "a")
    assert replay.requests[0].headers["authorization"] == f"Bearer {KEY}"
    who = f"model 'm' (127.0.0.1:{replay.port})"
    replay.route("POST", "/api/chat", json_reply(401, {"error": f"bad key {KEY}"}))
    p = provider(replay.url, api_key_env=KEY_ENV)
    try:
        with pytest.raises(UpstreamError) as refused:
            [e async for e in p.generate(chat())]
        assert refused.value.message == f"{who} returned HTTP 401: bad key [redacted]"
        garbage = Reply(chunks=[(0.0, f"{{{KEY}\n".encode())])
        replay.route("POST", "/api/chat", garbage)
        with pytest.raises(StreamBrokenError) as garbled:
            [e async for e in p.generate(chat())]
        assert garbled.value.message == (
            f"{who}: malformed chunk in the stream (not JSON): '{{[redacted]'; the thoughts and"
            " answer that arrived are kept."
        )
    finally:
        await p.aclose()


@pytest.mark.parametrize(
    ("error", "text"),
    [("model crashed", "model crashed"), ("", "no message"), (None, "no message")],
)
async def test_an_error_line(replay: ReplayServer, error: Any, text: str) -> None:
    with pytest.raises(StreamBrokenError) as caught:
        await stream(replay, chat(), msg(thinking="a"), {"error": error})
    assert caught.value.message == (
        f"model 'm' (127.0.0.1:{replay.port}): Ollama reported an error mid-stream: {text};"
        " what arrived before it is kept."
    )


async def test_a_stream_that_never_says_done(replay: ReplayServer) -> None:
    with pytest.raises(StreamBrokenError) as caught:
        await stream(replay, chat(), msg(content="a"), {"done": "yes"})
    assert caught.value.message == (
        f"model 'm' (127.0.0.1:{replay.port}): the stream ended before Ollama sent done;"
        " the thoughts and answer that arrived are kept."
    )
