"""The wire encoding, exactly: the bytes of a delta frame, every chunk as a whole object, the
finish-reason and error-type tables, and the non-streaming body."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ponder.events import Failed, Finished, Progress, Started, Usage
from ponder.server.wire import (
    DONE,
    ChunkEncoder,
    completion_body,
    error_type,
    openai_finish_reason,
    openai_usage,
    sse,
)

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 5, "model": "deep"}


def frame(data: bytes) -> dict[str, Any]:
    assert data.startswith(b"data: ") and data.endswith(b"\n\n")
    assert b"\n" not in data[:-2]
    parsed: dict[str, Any] = json.loads(data[6:])
    return parsed


def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]


def test_delta_frames_byte_for_byte() -> None:
    enc = ChunkEncoder("chatcmpl-1", "deep", created=5)
    head = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":5,"model":"deep"'
    tail = b'},"logprobs":null,"finish_reason":null}]}\n\n'
    assert enc.answer('a"b') == head + b',"choices":[{"index":0,"delta":{"content":"a\\"b"' + tail
    thought = b',"choices":[{"index":0,"delta":{"reasoning_content":"t"'
    assert enc.thinking("t") == head + thought + tail
    assert frame(enc.answer("x")) == {**BASE, "choices": choice({"content": "x"})}


def test_created_defaults_to_now() -> None:
    before = int(time.time())
    created = frame(ChunkEncoder("c", "m").answer("x"))["created"]
    assert before <= created <= int(time.time())


def test_every_chunk_as_a_whole() -> None:
    enc = ChunkEncoder("chatcmpl-1", "deep", created=5)
    started = Started("req_1", "deep", "deep", "because", {"x": 1.0})
    assert frame(enc.started(started)) == {
        **BASE,
        "choices": choice({"role": "assistant", "content": ""}),
        "ponder": {"event": "started", "request_id": "req_1", "model": "deep", "mode": "deep",
                   "reason": "because", "estimates": {"x": 1.0}},
    }
    assert frame(enc.progress(Progress("Checking", 2))) == {
        **BASE, "choices": choice({}),
        "ponder": {"event": "progress", "label": "Checking", "index": 2},
    }
    assert frame(enc.finished(Finished("stop", {"ttft_ms": 1.0}), None)) == {
        **BASE, "choices": choice({}, "stop"),
        "ponder": {"event": "finished", "finish_reason": "stop", "timings": {"ttft_ms": 1.0},
                   "usage": None, "cost": None},
    }
    assert frame(enc.usage(None, prompt_tokens=4)) == {
        **BASE, "choices": [],
        "usage": {"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4,
                  "completion_tokens_details": {"reasoning_tokens": 0}},
    }
    failed = Failed("client", "bad", "no", retryable=False, status=400)
    assert frame(enc.failed(failed)) == {
        "error": {"message": "no", "type": "invalid_request_error", "param": None, "code": "bad"},
        "ponder": {"event": "failed", "side": "client", "code": "bad", "message": "no",
                   "retryable": False, "status": 400},
    }
    assert DONE == b"data: [DONE]\n\n"
    assert sse({"a": [1, 2]}) == b'data: {"a":[1,2]}\n\n'


@pytest.mark.parametrize(
    ("reason", "openai"),
    [("stop", "stop"), ("length", "length"), ("thinking_length", "length"),
     ("cancelled", "stop"), ("content_filter", "content_filter"), ("tool_calls", "tool_calls"),
     ("error", "stop"), ("something new", "stop")],
)
def test_finish_reasons(reason: str, openai: str) -> None:
    assert openai_finish_reason(reason) == openai


@pytest.mark.parametrize(
    ("side", "kind"),
    [("client", "invalid_request_error"), ("config", "server_error"),
     ("upstream", "upstream_error"), ("network", "upstream_error"), ("ponder", "server_error"),
     ("elsewhere", "server_error")],
)
def test_error_types(side: str, kind: str) -> None:
    assert error_type(side) == kind


def test_usage_prefers_the_providers_input_count() -> None:
    assert openai_usage(Usage(7, 5, 3), 99) == {
        "prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15,
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    assert openai_usage(Usage(None, 5, 3), 99)["prompt_tokens"] == 99
    assert openai_usage(Usage(0, 0, 3), 99)["prompt_tokens"] == 0  # zero is a count, not absent


def test_completion_body_exactly() -> None:
    started = Started("r", "deep", "deep", "why", {"p": 0.5})
    body = completion_body(
        completion_id="c", created=1, started=started, answer="a", thinking="t",
        finished=Finished("thinking_length", {"e2e_ms": 2.0}), usage=Usage(3, 2, 1, True),
        prompt_tokens=4, progress=("One", "Two"), notes=("a note",),
    )
    assert body == {
        "id": "c", "object": "chat.completion", "created": 1, "model": "deep",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "a",
                                             "reasoning_content": "t"},
                     "logprobs": None, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6,
                  "completion_tokens_details": {"reasoning_tokens": 2}},
        "ponder": {"event": "finished", "request_id": "r", "model": "deep", "mode": "deep",
                   "reason": "why", "estimates": {"p": 0.5}, "finish_reason": "thinking_length",
                   "timings": {"e2e_ms": 2.0},
                   "usage": {"input_tokens": 3, "thinking_tokens": 2, "answer_tokens": 1,
                             "estimated": True},
                   "progress": ["One", "Two"], "notes": ["a note"], "cost": None},
    }
    plain = completion_body(
        completion_id="c", created=1, started=started, answer="a", thinking="",
        finished=Finished("stop", {}), usage=None, prompt_tokens=4, progress=[],
    )
    assert plain["choices"][0]["message"] == {"role": "assistant", "content": "a"}
