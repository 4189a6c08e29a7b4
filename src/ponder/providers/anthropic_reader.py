"""The response side of Anthropic's Messages API: one stream's events to ponder's events.

:class:`MessageReader` keeps one stream's state and has one small handler per event type:
thinking blocks (their text, signature and redacted data, kept for the round trip), text,
tool-use blocks assembled from their JSON fragments, the usage (cache reads and writes
counted as input), the stop reason and the stop sequence it stopped at, and an ``error``
event mid-stream raised with the HTTP status the same error has as a response.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ponder.errors import UpstreamError, redact
from ponder.events import Event, FinishReason, Thinking
from ponder.providers.deltas import DeltaTracker
from ponder.providers.tool_calls import ToolCallAssembler

_STOP: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Error event types, with the HTTP status the same error has as a response.
_ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class MessageReader:
    """Per-request state of one Messages stream; one small handler per event type."""

    def __init__(self, who: str, secrets: list[str | None]) -> None:
        self.who = who
        self.secrets = secrets
        self.tracker = DeltaTracker(inline_tags=False)
        self.calls = ToolCallAssembler()
        self._tool_blocks: dict[int, int] = {}  # content block index -> tool call fragments key
        self.input_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.output_tokens = 0
        self.finish: FinishReason = "stop"
        self.stop_sequence: str | None = None  # the one it stopped at (stop_reason stop_sequence)
        self.stopped = False
        self._handlers: Mapping[str, Callable[[Mapping[str, Any]], list[Event]]] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "content_block_stop": self._block_stop,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
            "error": self._error,
        }
        self._deltas: Mapping[str, Callable[[Mapping[str, Any]], list[Event]]] = {
            "thinking_delta": self._thinking_delta,
            "signature_delta": self._signature_delta,
            "text_delta": self._text_delta,
            "input_json_delta": self._input_json_delta,
        }

    def handle(self, data: Mapping[str, Any]) -> list[Event]:
        handler = self._handlers.get(str(data.get("type")))
        return handler(data) if handler is not None else []  # ping, …

    def _message_start(self, data: Mapping[str, Any]) -> list[Event]:
        message = data.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        if isinstance(usage, dict):
            self.input_tokens = (
                _int(usage.get("input_tokens"))
                + _int(usage.get("cache_creation_input_tokens"))
                + _int(usage.get("cache_read_input_tokens"))
            )
            self.cached_tokens = _int(usage.get("cache_read_input_tokens")) or None
            self.output_tokens = _int(usage.get("output_tokens"))
        return []

    def _block_start(self, data: Mapping[str, Any]) -> list[Event]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        index = _int(data.get("index"))
        kind = block.get("type")
        if kind == "redacted_thinking":
            redacted = Thinking(
                "", redacted=True, state={"data": block.get("data")}, block=index
            )
            return [self.tracker.thinking(redacted)]
        if kind == "tool_use":
            self._tool_blocks[index] = index
            call_id = block.get("id") if isinstance(block.get("id"), str) else None
            name = block.get("name") if isinstance(block.get("name"), str) else "unknown"
            initial = block.get("input")
            # The input arrives as input_json_delta fragments; a non-empty input here is a
            # whole call (non-streamed shapes replayed into a stream).
            arguments = json.dumps(initial) if isinstance(initial, dict) and initial else None
            return self.calls.fragment(index, call_id, name, arguments)
        if kind == "thinking":
            text = block.get("thinking")
            signature = block.get("signature")
            return [
                self.tracker.thinking(
                    Thinking(
                        text if isinstance(text, str) else "",
                        signature=signature if isinstance(signature, str) and signature else None,
                        block=index,
                    )
                )
            ]
        text = block.get("text")
        if kind != "text" or not isinstance(text, str) or not text:
            return []
        return self.tracker.content(text)

    def _block_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        handler = self._deltas.get(str(delta.get("type")))
        if handler is None:
            return []  # citations_delta, …
        return handler({**delta, "_index": _int(data.get("index"))})

    def _block_stop(self, data: Mapping[str, Any]) -> list[Event]:
        index = _int(data.get("index"))
        if index not in self._tool_blocks:
            return []
        del self._tool_blocks[index]
        return self.calls.end(index)

    def _thinking_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        text = delta.get("thinking")
        if not isinstance(text, str) or not text:
            return []
        return [self.tracker.thinking(Thinking(text, block=delta["_index"]))]

    def _signature_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        signature = delta.get("signature")
        if not isinstance(signature, str) or not signature:
            return []
        return [self.tracker.thinking(Thinking("", signature=signature, block=delta["_index"]))]

    def _input_json_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        fragment = delta.get("partial_json")
        if not isinstance(fragment, str) or not fragment:
            return []  # the first fragment is often empty
        return self.calls.fragment(delta["_index"], None, None, fragment)

    def _text_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        text = delta.get("text")
        if not isinstance(text, str) or not text:
            return []
        return self.tracker.content(text)

    def _message_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta = data.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self.finish = _STOP.get(delta["stop_reason"], "stop")
            matched = delta.get("stop_sequence")
            if delta["stop_reason"] == "stop_sequence" and isinstance(matched, str):
                self.stop_sequence = matched
        usage = data.get("usage")
        if isinstance(usage, dict) and "output_tokens" in usage:
            self.output_tokens = _int(usage.get("output_tokens"))
        return []

    def _message_stop(self, data: Mapping[str, Any]) -> list[Event]:
        self.stopped = True
        return []

    def _error(self, data: Mapping[str, Any]) -> list[Event]:
        error = data.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        raw = error.get("message") if isinstance(error, dict) else None
        message = raw if isinstance(raw, str) and raw else "no message"
        status = _ERROR_STATUS.get(str(kind), 502)
        raise UpstreamError(
            self.who,
            status,
            f"{redact(message, self.secrets)} ({kind or 'error'}, mid-stream;"
            " what arrived before it is kept)",
        )
