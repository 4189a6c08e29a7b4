"""Tool calls assembled from real servers' shapes, the turn as parts, and their JSON."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ponder import parts_json
from ponder.events import Answer, Event, Thinking, ToolCallDelta, ToolCallEnd, ToolCallStart
from ponder.providers.deltas import DeltaTracker
from ponder.providers.tool_calls import ToolCallAssembler
from ponder.request import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ponder.turn import TurnAssembler

CALLS = [
    ("call_a", "run_sql", json.dumps({"query": "SELECT 1 -- ünïcode ✓"})),
    ("call_b", "get_weather", json.dumps({"city": "Paris", "days": [1, 2, 3]})),
]


def ends(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.id, e.name, e.arguments) for e in events if isinstance(e, ToolCallEnd)]


def test_openai_shape_id_and_name_on_the_first_fragment_only() -> None:
    calls = ToolCallAssembler()
    events: list[Event] = []
    for index, (call_id, name, arguments) in enumerate(CALLS):
        events += calls.fragment(index, call_id, name, "")
        for i in range(0, len(arguments), 5):
            events += calls.fragment(index, None, None, arguments[i : i + 5])
    events += calls.close()
    assert ends(events) == CALLS
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.id, s.name) for s in starts] == [(0, "call_a", "run_sql"),
                                                         (1, "call_b", "get_weather")]  # fmt: skip


def test_ollama_v1_shape_every_call_whole_at_index_0() -> None:
    calls = ToolCallAssembler()
    events: list[Event] = []
    for call_id, name, arguments in CALLS:
        events += calls.fragment(0, call_id, name, arguments)
    events += calls.close()
    assert ends(events) == CALLS
    assert [e.index for e in events if isinstance(e, ToolCallEnd)] == [0, 1]


def test_several_calls_in_one_chunk_and_no_ids() -> None:
    calls = ToolCallAssembler()
    events = calls.fragment(0, None, "run_sql", CALLS[0][2])
    events += calls.fragment(1, None, "get_weather", CALLS[1][2])
    events += calls.close()
    got = ends(events)
    assert [(n, a) for _, n, a in got] == [(n, a) for _, n, a in CALLS]
    assert all(i.startswith("call_") for i, _, _ in got) and got[0][0] != got[1][0]


def test_repeated_name_on_every_fragment_is_one_call() -> None:
    calls = ToolCallAssembler()
    arguments = CALLS[0][2]
    events: list[Event] = []
    for i in range(0, len(arguments), 4):
        events += calls.fragment(0, "call_a" if i == 0 else None, "run_sql", arguments[i : i + 4])
    events += calls.close()
    assert ends(events) == [CALLS[0]]


def test_arguments_before_the_name_are_not_lost() -> None:
    calls = ToolCallAssembler()
    events = calls.fragment(0, "call_a", None, '{"query": ')
    assert events == []
    events += calls.fragment(0, None, "run_sql", '"SELECT 1"}')
    events += calls.close()
    kinds = [e.type for e in events]
    assert kinds == ["tool_call_start", "tool_call_delta", "tool_call_delta", "tool_call_end"]
    assert ends(events) == [("call_a", "run_sql", '{"query": "SELECT 1"}')]


def sse_body(calls: list[tuple[str, str, str]], pieces: int) -> bytes:
    """An OpenAI-style stream of these calls, the arguments in ``pieces`` fragments each."""
    frames = []
    for index, (call_id, name, arguments) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": ""}}  # fmt: skip
        frames.append({"tool_calls": [head]})
        size = max(1, len(arguments) // pieces)
        for i in range(0, len(arguments), size):
            fragment = {"index": index, "function": {"arguments": arguments[i : i + size]}}
            frames.append({"tool_calls": [fragment]})
    body = b""
    for delta in frames:
        chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        body += b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
    body += b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}\n\n'
    return body + b"data: [DONE]\n\n"


def read_sse(body: bytes, cuts: list[int]) -> list[Event]:
    """Feed the body to the openai provider's parser and reader as the network would, cut at
    ``cuts``."""
    from ponder.providers.bodies import SSEParser
    from ponder.providers.openai_reader import ResponseReader

    reader = ResponseReader(DeltaTracker())
    parser = SSEParser()
    events: list[Event] = []
    bounds = [0, *sorted(set(cuts)), len(body)]
    for start, end in itertools.pairwise(bounds):
        for sse in parser.feed(body[start:end]):
            events += reader.sse(sse.data, "test", [])
    for sse in parser.close():
        events += reader.sse(sse.data, "test", [])
    return events + reader.end()


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.integers(min_value=1, max_value=12),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=40),
)
def test_rechunked_streams_reassemble_to_the_same_calls(pieces: int, cuts: list[int]) -> None:
    body = sse_body(CALLS, pieces)
    events = read_sse(body, [c % len(body) for c in cuts])
    assert ends(events) == CALLS
    deltas: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            deltas[e.index] = deltas.get(e.index, "") + e.arguments
    assert [deltas[0], deltas[1]] == [CALLS[0][2], CALLS[1][2]]
    assert events[-1].type == "finished" and events[-1].finish_reason == "tool_calls"  # type: ignore[union-attr]


def test_every_byte_boundary_of_one_stream() -> None:
    body = sse_body(CALLS, 3)
    for cut in range(1, len(body)):
        assert ends(read_sse(body, [cut])) == CALLS


def test_turn_keeps_interleaved_order_and_block_state() -> None:
    turn = TurnAssembler("anthropic", "claude-x")
    stream: list[Event] = [
        Thinking("first ", block=0),
        Thinking("thought", block=0),
        Thinking("", signature="sig-0", block=0),
        Thinking("", redacted=True, state={"data": "opaque"}, block=1),
        ToolCallStart(0, "toolu_1", "run_sql"),
        ToolCallEnd(0, "toolu_1", "run_sql", "{}"),
        Thinking("second thought", block=3),
        Answer("The answer."),
    ]
    for event in stream:
        turn.feed(event)
    parts = turn.parts
    assert [p.type for p in parts] == ["reasoning", "reasoning", "tool_call", "reasoning", "text"]
    first, redacted, call, second, text = parts
    assert isinstance(first, ReasoningPart) and first.text == "first thought"
    assert first.signature == "sig-0" and first.made_by("anthropic", "claude-x")
    assert isinstance(redacted, ReasoningPart) and redacted.redacted
    assert redacted.state == {"data": "opaque"}
    assert call == ToolCallPart("toolu_1", "run_sql", "{}")
    assert isinstance(second, ReasoningPart) and second.text == "second thought"
    assert text == TextPart("The answer.")


def test_late_state_joins_its_segment() -> None:
    """OpenRouter's merged details arrive after the answer; they belong to block 0."""
    turn = TurnAssembler("openai", "m")
    for event in (
        Thinking("t", block=0),
        Answer("a"),
        Thinking("", state={"field": "reasoning_details", "details": [{"x": 1}]}, block=0),
    ):
        turn.feed(event)
    reasoning, text = turn.parts
    assert isinstance(reasoning, ReasoningPart) and reasoning.state is not None
    assert reasoning.state["details"] == [{"x": 1}] and text == TextPart("a")


def test_parts_round_trip_through_json() -> None:
    parts: list[Any] = [
        ReasoningPart("r", provider="openai", model="m", signature="s",
                      state={"field": "reasoning_details", "details": [{"index": 0}]}),
        TextPart("t"),
        ImagePart("data:image/png;base64,AAAA", detail="low"),
        ToolCallPart("c1", "f", '{"a": 1}'),
        ToolResultPart("c1", "ok", is_error=True, name="f"),
    ]  # fmt: skip
    assert parts_json.loads(parts_json.dumps(parts)) == tuple(parts)


def test_message_views() -> None:
    message = Message(
        "assistant",
        (ReasoningPart("why"), TextPart("so"), ToolCallPart("c", "f", "{}")),
    )
    assert message.content == "so" and message.thinking == "why"
    assert [c.id for c in message.tool_calls] == ["c"]
    assert Message("user", "hi", thinking="t").parts == (ReasoningPart("t"), TextPart("hi"))
    assert ImagePart("data:image/png;base64,QUJD").data_url == ("image/png", "QUJD")
    assert ImagePart("https://x/y.png").data_url is None


def feed_all(tracker: DeltaTracker, chunks: list[str]) -> tuple[str, str]:
    events = [e for c in chunks for e in tracker.content(c)] + tracker.close()
    thinking = "".join(e.text for e in events if isinstance(e, Thinking))
    answer = "".join(e.text for e in events if isinstance(e, Answer))
    return thinking, answer


@given(cut=st.integers(min_value=0, max_value=40))
def test_inline_think_tags_are_detected_by_default(cut: int) -> None:
    text = "\n  <think>Let me add.</think>\n\nThe sum is 4."
    cut %= len(text)
    assert feed_all(DeltaTracker(), [text[:cut], text[cut:]]) == ("Let me add.", "The sum is 4.")
    assert feed_all(DeltaTracker(inline_tags=False), [text]) == ("", text)


def test_content_not_opening_with_a_tag_is_all_answer() -> None:
    text = "Use <think> tags like this: <think>x</think>"
    assert feed_all(DeltaTracker(), [text[:3], text[3:]]) == ("", text)
    assert feed_all(DeltaTracker(), ["<thi", "s is not a tag"]) == ("", "<this is not a tag")
    assert feed_all(DeltaTracker(), ["<th"]) == ("", "<th")
