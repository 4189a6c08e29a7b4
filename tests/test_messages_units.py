"""The Messages door's pieces on their own: ponder's reasoning tokens, the request mapping,
and the SSE encoder (checked by the official SDK's own stream accumulator)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent

from ponder.config import Config, ModelConfig
from ponder.errors import ConfigError, UnknownModelError
from ponder.events import (
    Answer,
    Finished,
    Started,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from ponder.request import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from ponder.server.errors import ParamError
from ponder.server.messages_parse import parse_messages
from ponder.server.messages_wire import MessageStreamEncoder, content_blocks
from ponder.server.signing import (
    PREFIX,
    SIGNING_KEY_ENV,
    TamperedSignatureError,
    ThoughtSigner,
    signing_key,
)

SIGNER = ThoughtSigner(b"k" * 32)
CONFIG = Config(
    models={
        "fast": ModelConfig("fast", "local"),
        "kimi": ModelConfig("kimi", "openai", model="kimi-k2-thinking"),
        "claude": ModelConfig("claude", "anthropic", model="claude-sonnet-4-5"),
        "claude-too": ModelConfig("claude-too", "anthropic", model="claude-opus-4-1"),
        "opus-again": ModelConfig("opus-again", "anthropic", model="claude-opus-4-1"),
    }
)


# -- tokens ------------------------------------------------------------------------------------


def test_a_token_restores_the_part_exactly() -> None:
    part = ReasoningPart(
        "Let me think.", provider="openai", model="kimi-k2-thinking",
        state={"field": "reasoning_details", "details": [{"type": "reasoning.text", "text": "x"}]},
    )  # fmt: skip
    token = SIGNER.sign(part)
    assert token.startswith(PREFIX)
    assert SIGNER.open(token, "Let me think.", "p") == part
    hidden = SIGNER.sign(part, text_shown=False)
    assert SIGNER.open(hidden, "", "p") == part


@pytest.mark.parametrize(
    "change",
    [
        lambda token, text: (token, text + "!"),
        lambda token, text: (token, ""),
        lambda token, text: (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), text),
        lambda token, text: (PREFIX + "e30" + token[token.rindex(".") :], text),  # payload {}
        lambda token, text: (PREFIX + "nodot", text),
    ],
)
def test_any_change_is_refused(change: Any) -> None:
    part = ReasoningPart("thoughts", provider="openai", model="m", state={"field": "x"})
    token, text = change(SIGNER.sign(part), "thoughts")
    with pytest.raises(TamperedSignatureError) as info:
        SIGNER.open(token, text, "messages.1.content.0.signature")
    assert info.value.http_status == 400
    assert info.value.message.startswith("messages.1.content.0.signature:")


def test_another_key_does_not_verify() -> None:
    token = SIGNER.sign(ReasoningPart("t"))
    with pytest.raises(TamperedSignatureError):
        ThoughtSigner(b"z" * 32).open(token, "t", "p")


def test_key_from_env_else_a_file_next_to_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    db = tmp_path / "traces.db"
    first = signing_key(db)
    key_file = tmp_path / "traces.db.signing-key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert signing_key(db) == first  # a restart signs and verifies with the same key
    assert signing_key(None) != signing_key(None)  # no store: a key per process
    assert signing_key(f"sqlite:///{db}") == first  # the same store named by its DSN
    database = "postgresql://ponder@127.0.0.1/ponder"  # no file to keep a key in
    assert signing_key(database) != signing_key(database)
    monkeypatch.setenv(SIGNING_KEY_ENV, "a-shared-key-for-every-gateway")
    assert signing_key(db) == b"a-shared-key-for-every-gateway"
    monkeypatch.setenv(SIGNING_KEY_ENV, "short")
    with pytest.raises(ConfigError, match="at least 16"):
        signing_key(db)


# -- requests ----------------------------------------------------------------------------------


def parse(body: dict[str, Any]) -> Any:
    return parse_messages({"max_tokens": 100, **body}, {}, "req_1", CONFIG, SIGNER)


def test_model_names_resolve_to_aliases() -> None:
    assert CONFIG.resolve("kimi") == "kimi"
    assert CONFIG.resolve("auto") == "auto"
    assert CONFIG.resolve("claude-sonnet-4-5") == "claude"
    with pytest.raises(UnknownModelError):  # two aliases share it: ambiguous
        CONFIG.resolve("claude-opus-4-1")


def test_a_tool_loop_turn_maps_to_parts() -> None:
    kimi_token = SIGNER.sign(
        ReasoningPart("I query.", provider="openai", model="kimi-k2-thinking",
                      state={"field": "reasoning_content"})
    )
    parsed = parse(
        {
            "model": "claude",
            "system": [{"type": "text", "text": "You are terse.", "cache_control": {}},
                       {"type": "text", "text": "Use tools."}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": "iVBO"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I query.", "signature": kimi_token},
                    {"type": "thinking", "thinking": "Claude's.", "signature": "EqQBCkYIBxgC"},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"},
                    {"type": "text", "text": "Running it."},
                    {"type": "tool_use", "id": "toolu_1", "name": "run_sql",
                     "input": {"query": "SELECT 1"}},
                ]},
                {"role": "user", "content": [
                    {"type": "text", "text": "and then?"},
                    {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                     "content": [{"type": "text", "text": "no such table"},
                                 {"type": "image", "source": {}}]},
                ]},
            ],
        }
    )
    chat = parsed.chat
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "tool", "user"]
    assert chat.messages[0].content == "You are terse.\n\nUse tools."
    assert chat.messages[1].parts == (TextPart("Look"), ImagePart("data:image/png;base64,iVBO"))
    assert chat.messages[2].parts == (
        ReasoningPart("I query.", provider="openai", model="kimi-k2-thinking",
                      state={"field": "reasoning_content"}),
        ReasoningPart("Claude's.", provider="anthropic", model="claude-sonnet-4-5",
                      signature="EqQBCkYIBxgC"),
        ReasoningPart("", provider="anthropic", model="claude-sonnet-4-5", redacted=True,
                      state={"data": "EmwKAhgB"}),
        TextPart("Running it."),
        ToolCallPart("toolu_1", "run_sql", '{"query":"SELECT 1"}'),
    )  # fmt: skip
    # Tool results first (their own turn), then the user's text, as providers want them.
    (result,) = chat.messages[3].parts
    assert isinstance(result, ToolResultPart) and result.is_error
    assert result.content.startswith("no such table\n[image left out")
    assert chat.messages[4].content == "and then?"
    assert any("image in the tool result for toolu_1" in n for n in parsed.notes)


def test_settings_map_to_the_spine() -> None:
    tool = {"name": "t", "input_schema": {"type": "object"}}
    parsed = parse(
        {
            "model": "kimi", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "tools": [tool, {"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "stop_sequences": ["END"], "temperature": 0.5, "top_k": 5,
            "metadata": {"user_id": "u1"},
        }
    )
    chat = parsed.chat
    assert parsed.stream and parsed.show_thinking
    assert [t.name for t in chat.tools] == ["t"]
    assert any("web_search" in n for n in parsed.notes)
    assert chat.tool_choice is not None and chat.tool_choice.kind == "required"
    assert chat.parallel_tool_calls is False
    assert (chat.thinking.enabled, chat.thinking.budget) == (True, 2048)
    assert chat.stop == ("END",) and chat.temperature == 0.5 and chat.max_tokens == 100
    adaptive = parse({"model": "kimi", "messages": [{"role": "user", "content": "hi"}],
                      "thinking": {"type": "adaptive", "display": "omitted"},
                      "output_config": {"effort": "max"}})  # fmt: skip
    assert (adaptive.chat.thinking.enabled, adaptive.chat.thinking.effort) == (True, "high")
    assert not adaptive.show_thinking
    off = parse({"model": "kimi", "messages": [{"role": "user", "content": "hi"}],
                 "thinking": {"type": "disabled"}})  # fmt: skip
    assert off.chat.thinking.enabled is False
    named = parse({"model": "kimi", "messages": [{"role": "user", "content": "hi"}],
                   "tools": [tool], "tool_choice": {"type": "tool", "name": "t"}})  # fmt: skip
    assert named.chat.tool_choice is not None and named.chat.tool_choice.name == "t"


# -- the stream encoder ------------------------------------------------------------------------


def frames(data: bytes) -> list[dict[str, Any]]:
    out = []
    for frame in data.decode().split("\n\n"):
        if frame:
            kind, payload = frame.split("\n")
            body = json.loads(payload.removeprefix("data: "))
            assert kind == "event: " + body["type"]
            out.append(body)
    return out


def accumulate(events: list[dict[str, Any]]) -> Any:
    """The SDK's own accumulator: what ``messages.stream().get_final_message()`` returns."""
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event["type"] in ("message_stop", "error"):
            continue
        raw: RawMessageStreamEvent = event  # type: ignore[assignment]
        snapshot = accumulate_event(event=raw, current_snapshot=snapshot, json_bufs=buffers)
    return snapshot


def encode(events: list[Any], *, show: bool = True, producer: tuple[str, str]) -> bytes:
    started = Started("req_1", "claude", "deep", "by name")
    enc = MessageStreamEncoder("msg_1", SIGNER, show, producer)
    out = enc.start(started, 10)
    for event in events:
        if isinstance(event, Thinking):
            out += enc.thinking(event)
        elif isinstance(event, Answer):
            out += enc.answer(event.text)
        elif isinstance(event, ToolCallStart):
            out += enc.tool_call_start(event)
        elif isinstance(event, ToolCallDelta):
            out += enc.tool_call_delta(event)
        elif isinstance(event, ToolCallEnd):
            out += enc.tool_call_end(event)
    usage = Usage(12, 30, 5)
    return out + enc.finished(started, Finished("tool_calls"), usage, 10, ["a note"])


INTERLEAVED = [
    Thinking("First I ", block=0),
    Thinking("look.", block=0),
    Thinking("", signature="SIG-A", block=0),
    ToolCallEnd(0, "toolu_1", "run_sql", '{"query": "SELECT 1"}'),
    Thinking("", redacted=True, state={"data": "REDACTED"}, block=2),
    Thinking("Then again.", block=3),
    Thinking("", signature="SIG-B", block=3),
    Answer("Done"),
    Answer("."),
]


def test_interleaved_turn_streams_as_the_sdk_accumulates_it() -> None:
    events = frames(encode(INTERLEAVED, producer=("anthropic", "claude-sonnet-4-5")))
    message = accumulate(events)
    kinds = [b.type for b in message.content]
    assert kinds == ["thinking", "tool_use", "redacted_thinking", "thinking", "text"]
    first, call, redacted, second, text = message.content
    assert (first.thinking, first.signature) == ("First I look.", "SIG-A")  # passed through
    assert (call.id, call.name, call.input) == ("toolu_1", "run_sql", {"query": "SELECT 1"})
    assert redacted.data.startswith(PREFIX)
    assert SIGNER.open(redacted.data, "", "p") == ReasoningPart(
        "", provider="anthropic", model="claude-sonnet-4-5", redacted=True,
        state={"data": "REDACTED"},
    )  # fmt: skip
    assert (second.thinking, second.signature) == ("Then again.", "SIG-B")
    assert text.text == "Done."
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 35)
    assert events[-2]["ponder"]["notes"] == ["a note"]
    indices = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert indices == [0, 1, 2, 3, 4]


def partial_json(events: list[dict[str, Any]], index: int) -> list[str]:
    return [e["delta"]["partial_json"] for e in events
            if e["type"] == "content_block_delta" and e["index"] == index
            and e["delta"]["type"] == "input_json_delta"]  # fmt: skip


def test_tool_arguments_stream_as_the_model_writes_them() -> None:
    pieces = ['{"que', 'ry": "SEL', 'ECT 1"}']
    turn = [
        Answer("Let me look."),
        ToolCallStart(0, "toolu_1", "run_sql"),
        *(ToolCallDelta(0, piece) for piece in pieces),
        ToolCallEnd(0, "toolu_1", "run_sql", "".join(pieces)),
    ]
    events = frames(encode(turn, producer=("openai", "kimi-k2-thinking")))
    assert partial_json(events, 1) == pieces  # each fragment as it came, not one at the end
    kinds = [(e["type"], e.get("index")) for e in events if e["type"].startswith("content")]
    assert kinds == [
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), *[("content_block_delta", 1)] * 3, ("content_block_stop", 1),
    ]  # fmt: skip
    text, call = accumulate(events).content
    assert text.text == "Let me look."
    assert (call.id, call.name, call.input) == ("toolu_1", "run_sql", {"query": "SELECT 1"})


def test_a_call_that_starts_inside_another_is_sent_whole_after_it() -> None:
    # An upstream interleaving two parallel calls: Messages blocks cannot overlap.
    turn = [
        ToolCallStart(0, "toolu_a", "run_sql"),
        ToolCallDelta(0, '{"query": '),
        ToolCallStart(1, "toolu_b", "lookup"),
        ToolCallDelta(1, "not json"),
        ToolCallDelta(0, '"SELECT 1"}'),
        ToolCallEnd(0, "toolu_a", "run_sql", '{"query": "SELECT 1"}'),
        ToolCallEnd(1, "toolu_b", "lookup", "not json"),
        ToolCallStart(2, "toolu_c", "run_sql"),
        ToolCallDelta(2, "{}"),
        ToolCallEnd(2, "toolu_c", "run_sql", "{}"),
    ]
    events = frames(encode(turn, producer=("openai", "kimi-k2-thinking")))
    assert partial_json(events, 0) == ['{"query": ', '"SELECT 1"}']
    assert partial_json(events, 1) == ['{"_raw_arguments": "not json"}']  # whole, as in a body
    assert partial_json(events, 2) == ["{}"]
    calls = accumulate(events).content
    assert [(c.id, c.input) for c in calls] == [
        ("toolu_a", {"query": "SELECT 1"}), ("toolu_b", {"_raw_arguments": "not json"}),
        ("toolu_c", {}),
    ]  # fmt: skip
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert starts == stops == [0, 1, 2]  # one block at a time, in order


def test_unsigned_thoughts_get_ponders_token_and_omitted_display_hides_them() -> None:
    kimi = [Thinking("Plan.", state={"field": "reasoning_content"}), Answer("ok")]
    shown = accumulate(frames(encode(kimi, producer=("openai", "kimi-k2-thinking"))))
    thinking = shown.content[0]
    assert thinking.thinking == "Plan."
    restored = SIGNER.open(thinking.signature, "Plan.", "p")
    assert restored == ReasoningPart("Plan.", provider="openai", model="kimi-k2-thinking",
                                     state={"field": "reasoning_content"})  # fmt: skip
    hidden = frames(encode(kimi, show=False, producer=("openai", "kimi-k2-thinking")))
    assert not any(e.get("delta", {}).get("type") == "thinking_delta" for e in hidden)
    block = accumulate(hidden).content[0]
    assert block.thinking == "" and SIGNER.open(block.signature, "", "p") == restored


def test_the_body_matches_the_stream() -> None:
    parts = (
        ReasoningPart("Plan.", provider="openai", model="kimi-k2-thinking"),
        TextPart("Calling."),
        ToolCallPart("call_1", "run_sql", '{"query": "SELECT 1"}'),
        ToolCallPart("call_2", "run_sql", "not json"),
    )
    blocks = content_blocks(parts, SIGNER, True)
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use", "tool_use"]
    assert SIGNER.open(blocks[0]["signature"], "Plan.", "p") == parts[0]
    assert blocks[2]["input"] == {"query": "SELECT 1"}
    assert blocks[3]["input"] == {"_raw_arguments": "not json"}


# -- the Responses door's request mapping --------------------------------------------------


def test_responses_items_group_into_turns() -> None:
    from ponder.server.responses_parse import parse_responses

    kimi = ReasoningPart("I query.", provider="openai", model="kimi-k2-thinking",
                         state={"field": "reasoning_content"})  # fmt: skip
    body = {
        "model": "kimi",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "Use tools."},
            {"role": "user", "content": [{"type": "input_text", "text": "Look"},
                                         {"type": "input_image", "image_url": "https://x/y.png"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [],
             "encrypted_content": SIGNER.sign(kimi, text_shown=False)},
            {"type": "function_call", "call_id": "c1", "name": "run_sql", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "run_sql", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "[[1]]"},
            {"type": "function_call_output", "call_id": "c2",
             "output": [{"type": "input_text", "text": "[[2]]"}]},
            {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "S"}]},
            {"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "Two rows."}]},
            {"role": "user", "content": "Thanks"},
        ],
        "reasoning": {"effort": "xhigh", "summary": "detailed"},
        "include": ["reasoning.encrypted_content"], "store": False,
        "tools": [{"type": "function", "name": "run_sql", "parameters": {"type": "object"}},
                  {"type": "custom", "name": "apply_patch"}],
        "tool_choice": {"type": "function", "name": "run_sql"},
        "max_output_tokens": 500,
        "text": {"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}},
    }  # fmt: skip
    parsed = parse_responses(body, {}, "req_1", SIGNER)
    chat = parsed.chat
    roles = [m.role for m in chat.messages]
    assert roles == ["system", "system", "user", "assistant", "tool", "tool", "assistant", "user"]
    assert chat.messages[0].content == "Be brief."
    assert parsed.history == chat.messages[1:]  # what is stored leaves the instructions out
    assert chat.messages[2].parts == (TextPart("Look"), ImagePart("https://x/y.png"))
    assert chat.messages[3].parts == (
        kimi, ToolCallPart("c1", "run_sql", "{}"), ToolCallPart("c2", "run_sql", "{}")
    )
    assert chat.messages[5].parts == (ToolResultPart("c2", "[[2]]"),)
    assert chat.messages[6].parts == (ReasoningPart("S"), TextPart("Two rows."))
    assert (chat.thinking.effort, parsed.summary) == ("high", "detailed")
    assert parsed.encrypted_reasoning and not parsed.store and not parsed.stream
    assert [t.name for t in chat.tools] == ["run_sql"]
    assert any("apply_patch" in n for n in parsed.notes)
    assert chat.tool_choice is not None and chat.tool_choice.name == "run_sql"
    assert chat.max_tokens == 500
    assert chat.response_format is not None and chat.response_format.kind == "json_schema"


def test_both_agent_doors_read_ponders_extension_as_the_chat_door_does() -> None:
    """A hedge's verifier and its opt-out, sent as ``ponder`` beside the door's own fields
    (``extra_body`` in the SDKs), land in the request; a wrong one is refused by field."""
    from ponder.request import VerifySpec
    from ponder.server.responses_parse import parse_responses

    extension = {"verify": "regex", "pattern": "42", "hedge": False, "max_cost_usd": 0.5}
    messages = parse({"model": "kimi", "messages": [{"role": "user", "content": "hi"}],
                      "ponder": extension}).chat  # fmt: skip
    responses = parse_responses({"model": "kimi", "input": "hi", "ponder": extension}, {},
                                "req_1", SIGNER).chat  # fmt: skip
    for chat in (messages, responses):
        assert chat.verify == VerifySpec("regex", {"pattern": "42"})
        assert (chat.hedge, chat.max_cost_usd) == (False, 0.5)
    bad = {"ponder": {"verfy": "sql"}}
    for call in (
        lambda: parse({"model": "kimi", "messages": [{"role": "user", "content": "hi"}], **bad}),
        lambda: parse_responses({"model": "kimi", "input": "hi", **bad}, {}, "req_1", SIGNER),
    ):
        with pytest.raises(ParamError) as info:
            call()
        assert info.value.param == "ponder"
        assert info.value.message.startswith("Unknown ponder field(s): verfy;")
