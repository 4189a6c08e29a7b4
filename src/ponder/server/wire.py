"""OpenAI wire encoding of ponder events: ``chat.completion.chunk`` SSE frames and the
non-streaming ``chat.completion`` body.

The byte layout of every delta chunk is fixed per request, so :class:`ChunkEncoder` builds
the constant prefix and suffix once and each delta costs one ``json.dumps`` of its text.
ponder's extras ride in a top-level ``"ponder"`` field that standard clients ignore; see
``docs/wire.md`` for the contract.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from ponder.events import (
    Failed,
    Finished,
    Notice,
    Progress,
    Started,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from ponder.pricing import Cost

DONE = b"data: [DONE]\n\n"

# ponder's finish reasons -> the closest OpenAI value for ``choices[0].finish_reason``.
_OPENAI_FINISH: Mapping[str, str] = {
    "stop": "stop",
    "length": "length",
    "thinking_length": "length",
    "cancelled": "stop",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "error": "stop",
}

# Which OpenAI error ``type`` a failure side maps to.
_ERROR_TYPE: Mapping[str, str] = {
    "client": "invalid_request_error",
    "config": "server_error",
    "upstream": "upstream_error",
    "network": "upstream_error",
    "ponder": "server_error",
}


def openai_finish_reason(reason: str) -> str:
    return _OPENAI_FINISH.get(reason, "stop")


def error_type(side: str) -> str:
    return _ERROR_TYPE.get(side, "server_error")


def started_extra(event: Started) -> dict[str, Any]:
    return {
        "event": "started",
        "request_id": event.request_id,
        "model": event.model,
        "mode": event.mode,
        "reason": event.reason,
        "estimates": event.estimates,
    }


def usage_extra(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "thinking_tokens": usage.thinking_tokens,
        "answer_tokens": usage.answer_tokens,
        "estimated": usage.estimated,
        **({"unserved_tokens": usage.unserved_tokens} if usage.unserved_tokens else {}),
    }


def served_extra(event: Finished) -> dict[str, Any]:
    """Which model a wrapper (the hedge) served, and what the others had generated."""
    extra: dict[str, Any] = {}
    if event.served_by is not None:
        extra["served_by"] = event.served_by
    if event.cancelled_tokens:
        extra["cancelled_tokens"] = dict(event.cancelled_tokens)
    if event.lanes:
        extra["lanes"] = event.lanes
    return extra


def openai_usage(usage: Usage | None, prompt_tokens: int) -> dict[str, Any]:
    """OpenAI's usage object; ``prompt_tokens`` is used when the provider reported none."""
    thinking = usage.thinking_tokens if usage else 0
    answer = usage.answer_tokens if usage else 0
    prompt = usage.input_tokens if usage and usage.input_tokens is not None else prompt_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": thinking + answer,
        "total_tokens": prompt + thinking + answer,
        "completion_tokens_details": {"reasoning_tokens": thinking},
    }


def failure_extra(event: Failed) -> dict[str, Any]:
    return {
        "event": "failed",
        "side": event.side,
        "code": event.code,
        "message": event.message,
        "retryable": event.retryable,
        "status": event.status,
    }


def tool_calls_json(calls: Sequence[ToolCallEnd]) -> list[dict[str, Any]]:
    """``message.tool_calls`` of a non-streaming response."""
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in calls
    ]


def error_body(
    message: str, type_: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # as json.dumps(str)


def sse(obj: Mapping[str, Any]) -> bytes:
    """One ``data:`` frame. orjson writes compact JSON in a fraction of ``json.dumps``'s time
    (non-ASCII as UTF-8 rather than ``\\u`` escapes: the same JSON); what it cannot encode (an
    integer past 64 bits, a key that is not a string) goes through ``json``."""
    try:
        data = orjson.dumps(obj)
    except TypeError:
        data = json.dumps(obj, separators=(",", ":")).encode()
    return b"data: " + data + b"\n\n"


class ChunkEncoder:
    """Encodes one request's events as ``chat.completion.chunk`` SSE frames."""

    __slots__ = ("_answer_prefix", "_base", "_suffix", "_thinking_prefix")

    def __init__(self, completion_id: str, model: str, created: int | None = None) -> None:
        self._base: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()) if created is None else created,
            "model": model,
        }
        head = json.dumps(self._base, separators=(",", ":"))[:-1]
        open_delta = head + ',"choices":[{"index":0,"delta":{'
        self._thinking_prefix = ("data: " + open_delta + '"reasoning_content":').encode()
        self._answer_prefix = ("data: " + open_delta + '"content":').encode()
        self._suffix = b'},"logprobs":null,"finish_reason":null}]}\n\n'

    # ``json.dumps(text)`` for a str, without the encoder object's Python layers around it.
    def thinking(self, text: str) -> bytes:
        return self._thinking_prefix + _json_string(text).encode() + self._suffix

    def answer(self, text: str) -> bytes:
        return self._answer_prefix + _json_string(text).encode() + self._suffix

    def _chunk(
        self, delta: dict[str, Any], finish_reason: str | None, extra: dict[str, Any] | None
    ) -> bytes:
        obj = dict(self._base)
        obj["choices"] = [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        ]
        if extra is not None:
            obj["ponder"] = extra
        return sse(obj)

    def started(self, event: Started) -> bytes:
        return self._chunk({"role": "assistant", "content": ""}, None, started_extra(event))

    def tool_call_start(self, event: ToolCallStart) -> bytes:
        """The first delta of a call, in OpenAI's exact shape (index, id, type, name)."""
        call = {
            "index": event.index,
            "id": event.id,
            "type": "function",
            "function": {"name": event.name, "arguments": ""},
        }
        return self._chunk({"tool_calls": [call]}, None, None)

    def tool_call_delta(self, event: ToolCallDelta) -> bytes:
        call = {"index": event.index, "function": {"arguments": event.arguments}}
        return self._chunk({"tool_calls": [call]}, None, None)

    def notice(self, event: Notice) -> bytes:
        return self._chunk({}, None, {"event": "notice", "text": event.text})

    def progress(self, event: Progress) -> bytes:
        extra = {"event": "progress", "label": event.label, "index": event.index}
        return self._chunk({}, None, extra)

    def finished(self, event: Finished, usage: Usage | None, cost: Cost | None = None) -> bytes:
        extra = {
            "event": "finished",
            "finish_reason": event.finish_reason,
            "timings": event.timings,
            "usage": usage_extra(usage),
            "cost": cost.as_dict() if cost is not None else None,
            **served_extra(event),
        }
        return self._chunk({}, openai_finish_reason(event.finish_reason), extra)

    def usage(self, usage: Usage | None, prompt_tokens: int) -> bytes:
        obj = dict(self._base)
        obj["choices"] = []
        obj["usage"] = openai_usage(usage, prompt_tokens)
        return sse(obj)

    def failed(self, event: Failed) -> bytes:
        obj = error_body(event.message, error_type(event.side), event.code, event.param)
        obj["ponder"] = failure_extra(event)
        return sse(obj)


def completion_body(
    *,
    completion_id: str,
    created: int,
    started: Started,
    answer: str,
    thinking: str,
    finished: Finished,
    usage: Usage | None,
    prompt_tokens: int,
    progress: Sequence[str],
    tool_calls: Sequence[ToolCallEnd] = (),
    notes: Sequence[str] = (),
    cost: Cost | None = None,
) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": answer}
    if tool_calls:
        message["tool_calls"] = tool_calls_json(tool_calls)
        if not answer:
            message["content"] = None
    if thinking:
        message["reasoning_content"] = thinking
    ponder = started_extra(started)
    ponder.update(
        event="finished",
        finish_reason=finished.finish_reason,
        timings=finished.timings,
        usage=usage_extra(usage),
        cost=cost.as_dict() if cost is not None else None,
        progress=list(progress),
        notes=list(notes),
        **served_extra(finished),
    )
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": started.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": openai_finish_reason(finished.finish_reason),
            }
        ],
        "usage": openai_usage(usage, prompt_tokens),
        "ponder": ponder,
    }
