"""The response side of the OpenAI Chat Completions wire format: chunks (or one whole
response) to events.

:class:`ResponseReader` keeps one response's state: the thoughts, from whichever field the
server uses (see :mod:`ponder.providers.openai`), the answer through a
:class:`~ponder.providers.deltas.DeltaTracker`, tool calls through a
:class:`~ponder.providers.tool_calls.ToolCallAssembler`, the finish reason and the usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ponder.errors import StreamBrokenError, redact
from ponder.events import Event, Finished, FinishReason, Thinking, Usage
from ponder.providers import http
from ponder.providers.deltas import DeltaTracker
from ponder.providers.tool_calls import ToolCallAssembler

_FINISH: Mapping[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


def finish_reason(raw: object) -> FinishReason:
    return _FINISH.get(raw, "stop") if isinstance(raw, str) else "stop"


# -- reading deltas --------------------------------------------------------------------------

_TEXT_KEYS = ("text", "summary", "data")


def _detail_event(item: Mapping[str, Any]) -> Thinking | None:
    kind = item.get("type")
    if kind == "reasoning.text":
        text = item.get("text")
        return Thinking(text if isinstance(text, str) else "", block=0)
    if kind == "reasoning.summary":
        summary = item.get("summary")
        return Thinking(summary if isinstance(summary, str) else "", block=0)
    if kind == "reasoning.encrypted":
        return Thinking("", redacted=True, block=0)
    return None


def reasoning_field(delta: Mapping[str, Any]) -> str | None:
    """Which field of a delta (or message) carries thoughts, one only (see the docstring)."""
    details = delta.get("reasoning_details")
    if isinstance(details, list) and details:
        return "reasoning_details"
    for key in ("reasoning", "reasoning_content"):
        text = delta.get(key)
        if isinstance(text, str) and text:
            return key
    return None


def reasoning_events(delta: Mapping[str, Any]) -> list[Thinking]:
    """Thinking events from one delta (or non-streaming message), one field only."""
    key = reasoning_field(delta)
    if key == "reasoning_details":
        items = [_detail_event(item) for item in delta[key] if isinstance(item, dict)]
        return [e for e in items if e is not None and (e.text or e.redacted)]
    if key is not None:
        return [Thinking(delta[key], block=0)]
    return []


def merge_details(merged: dict[int, dict[str, Any]], items: list[Any]) -> None:
    """Fold streamed ``reasoning_details`` items into whole ones, keyed by their ``index``:
    text-bearing keys are concatenated, every other key takes its latest non-null value."""
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        index = item.get("index")
        key = index if isinstance(index, int) and not isinstance(index, bool) else position
        whole = merged.setdefault(key, {})
        for name, value in item.items():
            if name in _TEXT_KEYS and isinstance(value, str):
                whole[name] = whole.get(name, "") + value
            elif value is not None or name not in whole:
                whole[name] = value


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# Delta (or message) fields besides content that carry events.
_NOT_PLAIN = frozenset(
    ("reasoning_details", "reasoning", "reasoning_content", "tool_calls", "function_call")
)


class ResponseReader:
    """Per-request state: what arrived, the finish reason, the usage, the tool calls."""

    def __init__(self, tracker: DeltaTracker) -> None:
        self.tracker = tracker
        self.calls = ToolCallAssembler()
        self.finish: FinishReason | None = None
        self.raw_usage: Mapping[str, Any] | None = None
        self.field: str | None = None  # where the thoughts arrived
        self.details: dict[int, dict[str, Any]] = {}
        self.done = False  # the stream said [DONE]

    def sse(self, data: str, who: str, secrets: list[str | None]) -> list[Event]:
        """Events of one server-sent event of a streamed response."""
        if self.done:
            # Read on to the end of the body instead of stopping: a body read to its end
            # returns the connection to the pool; closing it early makes the next request
            # pay a new TCP connect (about 1 ms of added TTFT).
            return []
        if data.strip() == "[DONE]":
            self.done = True
            return []
        chunk = http.parse_json(who, data, secrets)
        if chunk.get("error"):
            message = http.error_message(data.encode(), "unknown error")
            raise StreamBrokenError(
                f"{who}: the server reported an error mid-stream: {redact(message, secrets)};"
                " what arrived before it is kept."
            )
        return self.choices(chunk, "delta")

    def choices(self, data: Mapping[str, Any], key: str) -> list[Event]:
        """Events of one chunk (``key="delta"``) or of a whole response (``"message"``)."""
        events: list[Event] = []
        choices = data.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            part = choice.get(key)
            if isinstance(part, dict):
                # Most deltas carry only content (and a role): skip the reasoning and tool
                # call lookups for those, on the gateway's per-chunk hot path.
                plain = _NOT_PLAIN.isdisjoint(part)
                if not plain:
                    events.extend(self._reasoning(part))
                content = part.get("content")
                if isinstance(content, str):
                    events.extend(self.tracker.content(content))
                if not plain:
                    events.extend(self._tool_calls(part, whole=key == "message"))
            if choice.get("finish_reason") is not None:
                self.finish = finish_reason(choice["finish_reason"])
            # Moonshot puts the last chunk's usage inside the choice.
            if isinstance(choice.get("usage"), dict):
                self._take_usage(choice["usage"])
        if isinstance(data.get("usage"), dict):
            self._take_usage(data["usage"])
        return events

    def _reasoning(self, part: Mapping[str, Any]) -> list[Event]:
        field = reasoning_field(part)
        if field is None:
            return []
        events: list[Event] = [self.tracker.thinking(t) for t in reasoning_events(part)]
        if field == "reasoning_details":
            merge_details(self.details, part[field])
        if self.field is None:
            self.field = field
            # The segment's state: which field to send the thoughts back in.
            events.append(self.tracker.thinking(Thinking("", state={"field": field}, block=0)))
        return events

    def _tool_calls(self, part: Mapping[str, Any], *, whole: bool) -> list[Event]:
        calls = part.get("tool_calls")
        if not isinstance(calls, list):
            legacy = part.get("function_call")
            calls = [{"index": 0, "function": legacy}] if isinstance(legacy, dict) else []
        events: list[Event] = []
        for call in calls:
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            call_id = call.get("id") if isinstance(call.get("id"), str) else None
            name = function.get("name") if isinstance(function.get("name"), str) else None
            arguments = function.get("arguments")
            if isinstance(arguments, dict):  # a server that sends an object, not JSON text
                arguments = json.dumps(arguments)
            arguments = arguments if isinstance(arguments, str) else None
            if whole:
                events.extend(self.calls.whole(call_id, name or "unknown", arguments or ""))
            else:
                index = call.get("index")
                events.extend(
                    self.calls.fragment(
                        index if isinstance(index, int) else None, call_id, name, arguments
                    )
                )
        return events

    def _take_usage(self, usage: Mapping[str, Any]) -> None:
        if _int(usage.get("completion_tokens")) is not None:
            self.raw_usage = usage

    def _usage(self, usage: Mapping[str, Any]) -> Usage:
        completion = _int(usage.get("completion_tokens")) or 0
        details = usage.get("completion_tokens_details")
        reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
        if reasoning == 0 and self.tracker.saw_thinking:
            reasoning = None  # a server that counts no reasoning for thoughts it sent inline
        prompt_details = usage.get("prompt_tokens_details")
        cached = (
            _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else None
        )
        return self.tracker.split_usage(
            _int(usage.get("prompt_tokens")), completion, reasoning, cached
        )

    def end(self) -> list[Event]:
        """The flushed splitter, the tool calls, the reasoning state, the usage, the finish."""
        events = self.tracker.close()
        made_calls = self.calls.count > 0
        events.extend(self.calls.close())
        if self.details:
            details = [self.details[k] for k in sorted(self.details)]
            state = {"field": "reasoning_details", "details": details}
            events.append(Thinking("", state=state, block=0))
        # After the flush, so an estimated split sees the whole answer.
        if self.raw_usage is not None:
            events.append(self._usage(self.raw_usage))
        finish = self.finish or "stop"
        if made_calls and finish == "stop":
            finish = "tool_calls"
        events.append(Finished(self.tracker.finish_reason(finish)))
        return events
