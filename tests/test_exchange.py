"""What the gateway records of a stream that never finished (the client went away, the
server shut down): the trace counts what arrived the way the engine's meter would have."""

from __future__ import annotations

from ponder.engine import _estimated_usage
from ponder.events import Answer, Started, Thinking, ToolCallDelta, ToolCallEnd, ToolCallStart
from ponder.meter import Meter
from ponder.request import ChatRequest
from ponder.server.exchange import Exchange
from ponder.tokens import estimate_tokens

ARGUMENTS = '{"query": "SELECT status, COUNT(*) FROM orders GROUP BY status"}'


def test_a_cut_tool_call_turn_counts_its_call_as_answer_tokens_as_the_meter_does() -> None:
    started = Started("req_1", "kimi", "deep", "asked", at_ns=1_000_000)
    events = [
        started,
        Thinking("The orders table has a status column.", at_ns=2_000_000),
        Answer("Let me count. ", at_ns=3_000_000),
        ToolCallStart(0, "call_1", "run_sql", at_ns=4_000_000),
        ToolCallDelta(0, ARGUMENTS, at_ns=5_000_000),
        ToolCallEnd(0, "call_1", "run_sql", ARGUMENTS, at_ns=6_000_000),
    ]
    exchange, meter = Exchange(ChatRequest.from_prompt("How many orders?"), stream=True), Meter()
    exchange.started = started
    for event in events:
        meter.feed(event)
        if event is not started:
            exchange.observe(event)

    trace = exchange.record("client_disconnected")

    expected = _estimated_usage(meter)
    assert trace.tokens_estimated
    assert trace.thinking_tokens == expected.thinking_tokens > 0
    assert trace.answer_tokens == expected.answer_tokens
    assert trace.answer_tokens > estimate_tokens("Let me count. ")  # the call's tokens are in
    assert (trace.ttft_ms, trace.ttfa_ms) == (1.0, 2.0)
    assert trace.tool_calls == [{"id": "call_1", "name": "run_sql", "arguments": ARGUMENTS}]
