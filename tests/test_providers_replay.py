"""Each wire format replayed from recorded bytes by a real local server on a known schedule.

The engine's events and the meter's TTFT/TTFA are checked against the schedule without a
timing tolerance, so a loaded machine cannot fail them:

- each figure is exactly its event's arrival (TTFT the first thought's, TTFA the first
  answer's, thinking time their difference), from the events' own stamps;
- each is at least its scheduled time: nothing arrives before it was sent, so a figure taken
  from an earlier event (TTFT from the role chunk) fails;
- the first thought arrived before the first answer was due to be sent (the answer is
  scheduled 150 ms after the thoughts), counted from when the server read the request, so a
  stall before the request went out (one of 340 ms was seen in a full run) cannot fail it:
  a provider that held its thoughts back until the answer came, or a TTFT taken from an
  answer chunk, fails.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from contextlib import aclosing
from typing import Any

import pytest

from ponder.config import Config, parse_config
from ponder.engine import Engine
from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Started,
    Thinking,
    ToolCallEnd,
    Usage,
)
from ponder.meter import Meter, Metrics
from ponder.request import (
    ChatRequest,
    Message,
    ReasoningPart,
    TextPart,
    ThinkingSettings,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from ponder.turn import TurnAssembler
from tests.replay import ReplayServer, Reply, ndjson_chunks, schedule, sse_chunks, wire

KEY_ENV = "PONDER_REPLAY_KEY"
CANARY = "sk-canary-7f3a9c1e5b"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, CANARY)


def config(replay: ReplayServer, provider: str, path: str = "", **model: Any) -> Config:
    table = {
        "provider": provider,
        "base_url": replay.url + path,
        "model": "upstream-model",
        "api_key_env": KEY_ENV,
        **model,
    }
    return parse_config({"models": {"m": table}})


async def run(cfg: Config, request: ChatRequest | None = None) -> tuple[list[Event], Metrics]:
    engine = Engine(cfg)
    try:
        events = await engine.collect(request or ChatRequest.from_prompt("q", model="m"))
    finally:
        await engine.aclose()
    meter = Meter()
    for event in events:
        meter.feed(event)
    return events, meter.metrics()


def reasoning(events: Sequence[Event], provider: str = "p", model: str = "m") -> list[Any]:
    turn = TurnAssembler(provider, model)
    for event in events:
        turn.feed(event)
    return [p for p in turn.parts if isinstance(p, ReasoningPart)]


def thinking_text(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Thinking))


def answer_text(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Answer))


def only(events: Sequence[Event], kind: type[Any]) -> Any:
    found = [e for e in events if isinstance(e, kind)]
    assert len(found) == 1, found
    return found[0]


# PONDER_REPLAY_TIME_SCALE shortens every schedule (0.05: 20x faster). The exact checks against
# the events' stamps hold at any speed; the "thought before the answer was due" check needs the
# gap to exceed the machine's own delays (a loaded machine breaks it at 0.05, so
# benchmarks/mutation.py no longer runs these tests).
TIME_SCALE = float(os.environ.get("PONDER_REPLAY_TIME_SCALE", "1"))


def gaps(n: int, first_thought: int, first_answer: int) -> list[float]:
    """5 ms between chunks, 120 ms before the first thought, 150 ms before the first answer."""
    out = [5.0 * TIME_SCALE] * n
    out[first_thought] = 120.0 * TIME_SCALE
    out[first_answer] = 150.0 * TIME_SCALE
    return out


def ms_since_start(events: Sequence[Event], event: Event) -> float:
    started = only(events, Started)
    return (event.at_ns - started.at_ns) / 1e6


def first_with_text(events: Sequence[Event], kind: type[Any]) -> Any:
    return next(e for e in events if isinstance(e, kind) and e.text)


def assert_arrival(measured: float | None, events: Sequence[Event], event: Event,
                   scheduled: float) -> None:
    """``measured`` is ``event``'s arrival, which cannot precede its scheduled send."""
    assert measured == pytest.approx(ms_since_start(events, event), abs=1e-6)
    assert measured >= scheduled, (measured, scheduled)


def assert_schedule(
    m: Metrics, events: Sequence[Event], t_think: float, t_answer: float, received_ns: int
) -> None:
    """TTFT, TTFA and thinking time against the events and the schedule (see the docstring);
    ``received_ns``: when the server read the request, the zero of its schedule."""
    thought, answer = first_with_text(events, Thinking), first_with_text(events, Answer)
    assert_arrival(m.ttft_ms, events, thought, t_think)
    assert_arrival(m.ttfa_ms, events, answer, t_answer)
    assert received_ns > 0
    since_received = (thought.at_ns - received_ns) / 1e6
    assert since_received < t_answer, (since_received, t_answer)
    assert m.thinking_ms == pytest.approx(ms_since_start(events, answer)
                                          - ms_since_start(events, thought), abs=1e-6)


def replay_sse(
    replay: ReplayServer, path: str, name: str, first_thought: int, first_answer: int
) -> tuple[float, float]:
    """Route ``path`` to the fixture; return the scheduled times of the first thought/answer."""
    chunks = sse_chunks(name)
    timed = schedule(chunks, gaps(len(chunks), first_thought, first_answer))
    replay.route("POST", path, Reply(chunks=timed))
    return timed[first_thought][0], timed[first_answer][0]


# -- OpenAI-compatible wire formats -----------------------------------------------------------


async def test_deepseek_reasoning_content(replay: ReplayServer) -> None:
    # chunks: 0 keep-alive, 1 role, 2-8 reasoning_content, 9-10 content, 11 finish, 12 usage
    t_think, t_answer = replay_sse(
        replay, "/v1/chat/completions", "deepseek_reasoning_content.sse", 2, 9
    )
    cfg = config(replay, "openai", "/v1", thinking={"flavour": "deepseek"})
    events, m = await run(cfg)

    assert (
        thinking_text(events)
        == "The user asks for 17 + 25. 7 + 5 = 12, carry 1; 1 + 2 + 1 = 4. So 42."
    )
    assert answer_text(events) == "17 + 25 = **42**."
    assert only(events, Usage) == Usage(
        14, 31, 7, estimated=False, cached_input_tokens=0, at_ns=only(events, Usage).at_ns
    )
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    assert_schedule(m, events, t_think, t_answer, replay.requests[-1].received_ns)

    sent = replay.requests[0]
    assert sent.headers["authorization"] == f"Bearer {CANARY}"
    body = sent.json()
    assert body["model"] == "upstream-model"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["thinking"] == {"type": "enabled"}


async def test_kimi_usage_inside_choice_and_reasoning_sent_back(replay: ReplayServer) -> None:
    # chunks: 0 role, 1-3 reasoning_content, 4-5 content, 6 finish + usage in the choice
    t_think, t_answer = replay_sse(
        replay, "/v1/chat/completions", "kimi_reasoning_content.sse", 1, 4
    )
    cfg = config(replay, "openai", "/v1", thinking={"flavour": "deepseek"})
    history = (
        Message("user", "Capital of Italy?"),
        Message("assistant", "Rome.", thinking="Italy's capital is Rome."),
        Message("user", "And France?"),
    )
    events, m = await run(cfg, ChatRequest(messages=history, model="m"))

    assert thinking_text(events) == "The capital of France is Paris."
    assert answer_text(events) == "Paris."
    usage = only(events, Usage)
    # No reasoning_tokens reported: the total is exact, the split is estimated.
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (11, 12, True)
    assert usage.answer_tokens >= 1
    assert_schedule(m, events, t_think, t_answer, replay.requests[-1].received_ns)
    sent = replay.requests[0].json()["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": "Rome.",
        "reasoning_content": "Italy's capital is Rome.",
    }
    assert "reasoning_content" not in sent[0]


async def test_openrouter_reasoning_details_not_doubled(replay: ReplayServer) -> None:
    # chunks: 0-1 comments, 2-4 reasoning(+details), 5 signature, 6-7 content, 8 finish, 9 usage
    t_think, t_answer = replay_sse(
        replay, "/v1/chat/completions", "openrouter_reasoning_details.sse", 2, 6
    )
    cfg = config(replay, "openai", "/v1", thinking={"flavour": "openrouter", "budget": 2000})
    events, m = await run(cfg)

    assert thinking_text(events) == "Paris is the capital of France."
    # One reasoning segment whose state is the details merged by index, signature included.
    (part,) = reasoning(events)
    assert part.text == "Paris is the capital of France."
    assert part.state is not None and part.state["field"] == "reasoning_details"
    (detail,) = part.state["details"]
    assert detail["type"] == "reasoning.text"
    assert detail["text"] == "Paris is the capital of France."
    assert detail["signature"] == "ErUBCkYIBRgCIkBsig0RouterDemo=="
    assert answer_text(events) == "The capital is Paris."
    assert only(events, Usage).thinking_tokens == 21
    assert only(events, Usage).answer_tokens == 8
    assert_schedule(m, events, t_think, t_answer, replay.requests[-1].received_ns)
    assert replay.requests[0].json()["reasoning"] == {"max_tokens": 2000}


async def test_openrouter_summary_and_encrypted_items(replay: ReplayServer) -> None:
    replay_sse(replay, "/v1/chat/completions", "openrouter_encrypted_summary.sse", 1, 3)
    cfg = config(replay, "openai", "/v1", thinking={"flavour": "openrouter", "effort": "high"})
    events, _ = await run(cfg)

    assert thinking_text(events) == "**Computing the sum** Adding 2 and 2."
    redacted = [e for e in events if isinstance(e, Thinking) and e.redacted]
    assert len(redacted) == 1 and redacted[0].text == ""
    (part,) = reasoning(events)
    assert part.state is not None
    encrypted = [d for d in part.state["details"] if d["type"] == "reasoning.encrypted"]
    assert [d["data"] for d in encrypted] == ["gAAAAABpOpaqueEncryptedBlob=="]
    assert answer_text(events) == "4"
    assert only(events, Usage).thinking_tokens == 64
    assert replay.requests[0].json()["reasoning"] == {"effort": "high"}


async def test_vllm_reasoning_field(replay: ReplayServer) -> None:
    # chunks: 0 role, 1-8 reasoning, 9-14 content, 15 finish, 16 usage
    t_think, t_answer = replay_sse(replay, "/v1/chat/completions", "vllm_reasoning.sse", 1, 9)
    cfg = config(replay, "openai", "/v1", thinking={"flavour": "qwen"})
    request = ChatRequest.from_prompt("q", model="m", thinking=ThinkingSettings(enabled=False))
    events, m = await run(cfg, request)

    assert thinking_text(events) == "\nOkay, 3 times 4 is 12.\n"
    assert answer_text(events) == "\n\n3 × 4 = 12"
    usage = only(events, Usage)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (18, 22, True)
    assert_schedule(m, events, t_think, t_answer, replay.requests[-1].received_ns)
    assert replay.requests[0].json()["chat_template_kwargs"] == {"enable_thinking": False}


async def test_llamacpp_inline_think_tags(replay: ReplayServer) -> None:
    # chunks: 0 role, 1 "<th", 2 "ink>", 3 "\n", 4 "Two" (first thought text), …,
    # 12 ">\n\n" closes the thoughts, 13 "Use `<think>`" (first answer text), 16 finish, 17 usage
    t_think, t_answer = replay_sse(
        replay, "/v1/chat/completions", "llamacpp_inline_think.sse", 4, 13
    )
    cfg = config(replay, "openai", "/v1", thinking={"inline_tags": True})
    events, m = await run(cfg)

    assert thinking_text(events) == "Two plus two is four.\n"
    assert answer_text(events) == "Use `<think>` tags? No: 2 + 2 = 4."
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    assert_schedule(m, events, t_think, t_answer, replay.requests[-1].received_ns)
    assert "thinking" not in replay.requests[0].json()  # flavour "none" sends no switch


async def test_zero_reasoning_tokens_with_inline_thoughts_is_estimated(
    replay: ReplayServer,
) -> None:
    chunks = [
        c.replace(
            b'"usage":{"completion_tokens":24,',
            b'"usage":{"completion_tokens_details":{"reasoning_tokens":0},"completion_tokens":24,',
        )
        for c in sse_chunks("llamacpp_inline_think.sse")
    ]
    assert any(b"reasoning_tokens" in c for c in chunks)
    replay.route("POST", "/v1/chat/completions", Reply(chunks=schedule(chunks, [1.0])))
    events, _ = await run(config(replay, "openai", "/v1", thinking={"inline_tags": True}))
    usage = only(events, Usage)
    assert usage.estimated and usage.output_tokens == 24
    assert usage.thinking_tokens > 0 and usage.answer_tokens > 0


async def test_llamacpp_template_opened_and_cut_inside_thoughts(replay: ReplayServer) -> None:
    chunks = sse_chunks("llamacpp_template_opened_length.sse")
    replay.route("POST", "/v1/chat/completions", Reply(chunks=schedule(chunks, [5.0])))
    cfg = config(replay, "openai", "/v1", thinking={"inline_tags": True, "opens_in_template": True})
    events, m = await run(cfg)

    assert thinking_text(events) == "Let me count the primes below 100: 2, 3, 5"
    assert answer_text(events) == ""
    assert isinstance(events[-1], Finished)
    assert events[-1].finish_reason == "thinking_length"
    assert m.ttfa_ms is None and m.ttft_ms is not None


async def test_non_streaming_response(replay: ReplayServer) -> None:
    body = wire("deepseek_nonstream.json")
    replay.route(
        "POST",
        "/v1/chat/completions",
        Reply(chunks=[(40.0, body)], content_type="application/json"),
    )
    cfg = config(replay, "openai", "/v1", stream=False)
    events, m = await run(cfg)

    assert thinking_text(events) == "7 + 5 = 12, carry 1; 1 + 2 + 1 = 4."
    assert answer_text(events) == "17 + 25 = **42**."
    assert (only(events, Usage).thinking_tokens, only(events, Usage).answer_tokens) == (22, 8)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    assert_arrival(m.ttft_ms, events, first_with_text(events, Thinking), 40.0)
    sent = replay.requests[0].json()
    assert sent["stream"] is False and "stream_options" not in sent


async def test_sse_parsing_survives_any_byte_boundaries(replay: ReplayServer) -> None:
    data = wire("vllm_reasoning.sse")  # contains a multi-byte "×"
    pieces = [(0.0, data[i : i + 3]) for i in range(0, len(data), 3)]
    replay.route("POST", "/v1/chat/completions", Reply(chunks=pieces))
    events, _ = await run(config(replay, "openai", "/v1"))
    assert thinking_text(events) == "\nOkay, 3 times 4 is 12.\n"
    assert answer_text(events) == "\n\n3 × 4 = 12"
    assert isinstance(events[-1], Finished)


async def test_stopping_early_closes_the_upstream_connection(replay: ReplayServer) -> None:
    chunks = sse_chunks("deepseek_reasoning_content.sse")
    replay.route("POST", "/v1/chat/completions", Reply(chunks=schedule(chunks, [5.0, 5.0, 60.0])))
    engine = Engine(config(replay, "openai", "/v1"))
    seen: list[Event] = []
    async with aclosing(engine.stream(ChatRequest.from_prompt("q", model="m"))) as stream:
        async for event in stream:
            seen.append(event)
            if isinstance(event, Thinking):
                break  # the caller stops (client disconnected, Stop pressed)
    await engine.aclose()
    for _ in range(100):  # the server notices at its next write
        if replay.disconnects:
            break
        await asyncio.sleep(0.02)
    assert replay.disconnects == 1
    assert thinking_text(seen) == "The user"


# -- Anthropic ---------------------------------------------------------------------------------


async def test_anthropic_thinking_signature_redacted(replay: ReplayServer) -> None:
    # chunks: 0 message_start, 1 block start, 2 ping, 3-5 thinking_delta, 6 signature,
    # 7 stop, 8 redacted start, 9 stop, 10 text start, 11-12 text_delta, 13 stop, 14-15 end
    t_think, t_answer = replay_sse(replay, "/v1/messages", "anthropic_thinking.sse", 3, 11)
    cfg = config(replay, "anthropic", thinking={"budget": 2048})
    events, m = await run(cfg)

    assert thinking_text(events) == "I need to find 27 * 453. 27 * 453 = 12231."
    signed = [e for e in events if isinstance(e, Thinking) and e.signature]
    assert [e.signature for e in signed] == [
        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds=="
    ]
    redacted = [e for e in events if isinstance(e, Thinking) and e.redacted]
    assert len(redacted) == 1 and redacted[0].text == ""
    # Two blocks, two reasoning parts, in order: the signed thinking, then the redacted one.
    signed_part, redacted_part = reasoning(events)
    assert signed_part.signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds=="
    assert signed_part.text == "I need to find 27 * 453. 27 * 453 = 12231."
    assert redacted_part.redacted and redacted_part.state is not None
    assert redacted_part.state["data"].startswith("EmwK")
    assert answer_text(events) == "27 × 453 = **12,231**."
    usage = only(events, Usage)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (36, 120, True)
    assert 1 <= usage.answer_tokens < 20
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    assert_schedule(m, events, t_think, t_answer, replay.requests[-1].received_ns)

    sent = replay.requests[0]
    assert sent.headers["x-api-key"] == CANARY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body = sent.json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert body["stream"] is True


async def test_anthropic_adaptive_thinking_and_signed_history(replay: ReplayServer) -> None:
    replay_sse(replay, "/v1/messages", "anthropic_thinking.sse", 3, 11)
    cfg = config(replay, "anthropic", thinking={"effort": "medium"})
    history = (
        Message("system", "Be brief."),
        Message("user", "2+2?"),
        Message(
            "assistant",
            (
                ReasoningPart(
                    "Trivial.", provider="anthropic", model="upstream-model", signature="sig-1"
                ),
                TextPart("4"),
            ),
        ),
        Message("user", "27*453?"),
    )
    await run(cfg, ChatRequest(messages=history, model="m"))
    body = replay.requests[0].json()
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "medium"}
    assert body["system"] == "Be brief."
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Trivial.", "signature": "sig-1"},
            {"type": "text", "text": "4"},
        ],
    }


async def test_anthropic_error_event_mid_stream(replay: ReplayServer) -> None:
    replay.route(
        "POST",
        "/v1/messages",
        Reply(chunks=schedule(sse_chunks("anthropic_overloaded_midstream.sse"), [5.0])),
    )
    events, _ = await run(config(replay, "anthropic"))
    assert thinking_text(events) == "Start."
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert failed.status == 529 and failed.retryable
    assert "Overloaded" in failed.message


# -- Ollama ------------------------------------------------------------------------------------


async def test_ollama_native_ndjson(replay: ReplayServer) -> None:
    # lines: 0-6 thinking, 7-9 content, 10 done
    chunks = ndjson_chunks("ollama_chat_think.ndjson")
    timed = schedule(chunks, gaps(len(chunks), 0, 7))
    replay.route("POST", "/api/chat", Reply(chunks=timed, content_type="application/x-ndjson"))
    events, m = await run(config(replay, "ollama", api_key_env=None))

    assert thinking_text(events) == "Okay, 9 squared is 81."
    assert answer_text(events) == "9² = 81"
    usage = only(events, Usage)
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (15, 17, True)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    assert_schedule(m, events, timed[0][0], timed[7][0], replay.requests[-1].received_ns)
    sent = replay.requests[0]
    assert "authorization" not in sent.headers
    assert sent.json()["think"] is True and sent.json()["stream"] is True


async def test_ollama_error_line(replay: ReplayServer) -> None:
    error = b'{"error":"an error was encountered while running the model: unexpected EOF"}\n'
    lines = [*ndjson_chunks("ollama_chat_think.ndjson")[:3], error]
    replay.route("POST", "/api/chat", Reply(chunks=schedule(lines, [5.0])))
    events, _ = await run(config(replay, "ollama", api_key_env=None))
    assert thinking_text(events) == "Okay, 9"
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.code == "stream_broken"
    assert "unexpected EOF" in failed.message


async def test_ollama_tool_calls_round_trip(replay: ReplayServer) -> None:
    lines = [
        b'{"message":{"role":"assistant","content":"","thinking":"I should look it up."},'
        b'"done":false}\n',
        b'{"message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"run_sql",'
        b'"arguments":{"query":"SELECT 1"}}},{"function":{"name":"run_sql","arguments":'
        b'{"query":"SELECT 2"}}}]},"done":false}\n',
        b'{"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop",'
        b'"prompt_eval_count":30,"eval_count":20}\n',
    ]
    replay.route("POST", "/api/chat", Reply(chunks=schedule(lines, [2.0])))
    tools = (ToolSpec("run_sql", "Run SQL", {"type": "object"}),)
    history = (
        Message("user", "Count orders"),
        Message(
            "assistant",
            (
                ReasoningPart("Earlier."),
                ToolCallPart("call_1", "run_sql", '{"query": "SELECT 0"}'),
            ),
        ),
        Message("tool", (ToolResultPart("call_1", "[[0]]"),)),
    )
    request = ChatRequest(messages=history, model="m", tools=tools)
    events, _ = await run(config(replay, "ollama", api_key_env=None), request)

    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(e.name, json.loads(e.arguments)) for e in ends] == [
        ("run_sql", {"query": "SELECT 1"}),
        ("run_sql", {"query": "SELECT 2"}),
    ]
    assert all(e.id.startswith("call_") for e in ends) and ends[0].id != ends[1].id
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "tool_calls"
    body = replay.requests[0].json()
    function = {"name": "run_sql", "description": "Run SQL", "parameters": {"type": "object"}}
    assert body["tools"] == [{"type": "function", "function": function}]
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "",
        "thinking": "Earlier.",
        "tool_calls": [{"function": {"name": "run_sql", "arguments": {"query": "SELECT 0"}}}],
    }
    assert body["messages"][2] == {"role": "tool", "content": "[[0]]", "tool_name": "run_sql"}


async def test_ollama_cannot_be_forced_to_call_a_tool(replay: ReplayServer) -> None:
    tools = (ToolSpec("run_sql"),)
    request = ChatRequest(
        messages=(Message("user", "x"),),
        model="m",
        tools=tools,
        tool_choice=ToolChoice("required"),
    )
    events, _ = await run(config(replay, "ollama", api_key_env=None), request)
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.param == "tool_choice"
    assert replay.requests == []
