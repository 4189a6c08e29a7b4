"""The chunks and bodies the gateway writes for tool calls, notices, costs and a hedge's served
model, exactly (the rest of the encoder: tests/test_server_wire_units.py)."""

from __future__ import annotations

import json
from typing import Any

from ponder.events import (
    Failed,
    Finished,
    Notice,
    Started,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from ponder.pricing import Cost
from ponder.server.wire import ChunkEncoder, completion_body, tool_calls_json

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 5, "model": "deep"}


def frame(data: bytes) -> dict[str, Any]:
    assert data.startswith(b"data: ") and data.endswith(b"\n\n")
    parsed: dict[str, Any] = json.loads(data[6:])
    return parsed


def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]


ENC = ChunkEncoder("chatcmpl-1", "deep", created=5)


def test_tool_call_chunks_in_openais_shape() -> None:
    start = frame(ENC.tool_call_start(ToolCallStart(2, "call_9", "run_sql")))
    assert start == {
        **BASE,
        "choices": choice({"tool_calls": [{"index": 2, "id": "call_9", "type": "function",
                                           "function": {"name": "run_sql", "arguments": ""}}]}),
    }  # fmt: skip
    delta = frame(ENC.tool_call_delta(ToolCallDelta(2, '{"q":')))
    assert delta == {
        **BASE,
        "choices": choice({"tool_calls": [{"index": 2, "function": {"arguments": '{"q":'}}]}),
    }


def test_a_notice_chunk() -> None:
    assert frame(ENC.notice(Notice("tools were not offered"))) == {
        **BASE,
        "choices": choice({}),
        "ponder": {"event": "notice", "text": "tools were not offered"},
    }


def test_the_finished_chunk_with_cost_usage_and_the_served_model() -> None:
    finished = Finished(
        "stop",
        {"e2e_ms": 9.0},
        served_by="fast",
        cancelled_tokens={"deep": 12},
        lanes={"fast": {"outcome": "won"}},
    )
    usage = Usage(3, 2, 1, False, unserved_tokens=12)
    cost = Cost(0.5, 0.25, 0.125, True)
    assert frame(ENC.finished(finished, usage, cost)) == {
        **BASE,
        "choices": choice({}, "stop"),
        "ponder": {
            "event": "finished",
            "finish_reason": "stop",
            "timings": {"e2e_ms": 9.0},
            "usage": {"input_tokens": 3, "thinking_tokens": 2, "answer_tokens": 1,
                      "estimated": False, "unserved_tokens": 12},
            "cost": {"input_usd": 0.5, "thinking_usd": 0.25, "answer_usd": 0.125,
                     "total_usd": 0.875, "estimated": True},
            "served_by": "fast",
            "cancelled_tokens": {"deep": 12},
            "lanes": {"fast": {"outcome": "won"}},
        },
    }  # fmt: skip
    bare = frame(ENC.finished(Finished("length"), None))["ponder"]
    assert bare == {
        "event": "finished", "finish_reason": "length", "timings": None, "usage": None,
        "cost": None,
    }  # fmt: skip
    # no unserved tokens, no empty maps: the keys are left out
    quiet = Finished("stop", served_by=None, cancelled_tokens={}, lanes={})
    assert frame(ENC.finished(quiet, Usage(1, 0, 1, unserved_tokens=0)))["ponder"] == {
        "event": "finished", "finish_reason": "stop", "timings": None, "cost": None,
        "usage": {"input_tokens": 1, "thinking_tokens": 0, "answer_tokens": 1,
                  "estimated": False},
    }  # fmt: skip


def test_the_failed_chunk() -> None:
    failed = Failed("upstream", "upstream_error", "boom", True, 503, "model")
    assert frame(ENC.failed(failed)) == {
        "error": {"message": "boom", "type": "upstream_error", "param": "model",
                  "code": "upstream_error"},
        "ponder": {"event": "failed", "side": "upstream", "code": "upstream_error",
                   "message": "boom", "retryable": True, "status": 503},
    }  # fmt: skip


CALLS = (ToolCallEnd(0, "c1", "run_sql", '{"q":1}'), ToolCallEnd(1, "c2", "ping", ""))


def test_tool_calls_in_a_whole_response() -> None:
    assert tool_calls_json(CALLS) == [
        {"id": "c1", "type": "function", "function": {"name": "run_sql", "arguments": '{"q":1}'}},
        {"id": "c2", "type": "function", "function": {"name": "ping", "arguments": ""}},
    ]
    started = Started("r", "fast", "fast", "why")
    body = completion_body(
        completion_id="c", created=1, started=started, answer="", thinking="",
        finished=Finished("tool_calls", served_by="fast"), usage=None, prompt_tokens=4,
        progress=(), tool_calls=CALLS, cost=Cost(1.0, 0.0, 0.5, False),
    )  # fmt: skip
    assert body["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": None, "tool_calls": tool_calls_json(CALLS)},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }]  # fmt: skip
    assert body["ponder"]["cost"] == {"input_usd": 1.0, "thinking_usd": 0.0,
                                      "answer_usd": 0.5, "total_usd": 1.5, "estimated": False}
    assert body["ponder"]["served_by"] == "fast"
    said = completion_body(
        completion_id="c", created=1, started=started, answer="Calling.", thinking="",
        finished=Finished("tool_calls"), usage=None, prompt_tokens=4, progress=(),
        tool_calls=CALLS[:1],
    )  # fmt: skip
    assert said["choices"][0]["message"]["content"] == "Calling."
