"""``openai`` kind: any OpenAI-compatible Chat Completions server (OpenAI, DeepSeek, Moonshot/Kimi,
OpenRouter, vLLM, llama.cpp, Ollama's /v1, …), streaming over SSE or in one response.

Thoughts are read from whichever field the server uses, in this order of preference (servers
such as OpenRouter send the same text in several): ``reasoning_details`` (items of type
``reasoning.text`` and ``reasoning.summary``; ``reasoning.encrypted`` items carry no text),
``reasoning``, ``reasoning_content``. The turn's reasoning state records that field (and, for
``reasoning_details``, the items merged by their ``index``, verbatim), so a later request
sends the thoughts back **in the field they arrived in** — what DeepSeek and Kimi require on
tool-call turns (``reasoning_content``), vLLM reads (``reasoning``) and OpenRouter needs to tie
encrypted reasoning to tool calls (``reasoning_details``). Thoughts from another provider or
model go back as plain text in the flavour's field (``history_field``), or not at all.

Content that opens with ``<think>`` (after whitespace) is split into thoughts by default;
``thinking.inline_tags = true`` always splits (with ``opens_in_template`` when the template
wrote the opening tag), ``false`` never does.

Tools: ``tools``, ``tool_choice``, ``parallel_tool_calls`` and ``response_format`` go out in
OpenAI's shape; assistant turns carry ``tool_calls`` and ``tool`` messages their
``tool_call_id``. Streamed calls are assembled by :class:`ToolCallAssembler` (every call at
index 0 as Ollama's ``/v1`` sends them, several in one chunk, arguments in one piece or many,
the id only on the first fragment). A turn that made calls finishes ``tool_calls`` even when
the server said ``stop``.

Request: every message as it came (system and developer turns as ``system``, the whole
history), ``temperature``, ``top_p``, ``max_tokens`` and ``stop`` as the client sent them.
Thinking on/off, effort and budget are spelled per ``thinking.flavour``
(:mod:`ponder.providers.openai_flavours`);
the ``openai`` flavour renames ``max_tokens`` to ``max_completion_tokens``, the only spelling
reasoning models accept.
Usage comes from the final chunk (``stream_options.include_usage``); answer tokens are
``completion_tokens − completion_tokens_details.reasoning_tokens`` when the server reports
the latter, otherwise split as :meth:`DeltaTracker.split_usage` documents.

Model options (extra keys in the model's table): ``stream = false`` for one JSON response;
``send_reasoning = true|false`` to override whether history turns carry their thoughts back;
``extra_body = {…}`` merged into every request body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from ponder.config import ModelConfig
from ponder.errors import ConfigError, ReasoningMissingError, StreamBrokenError, redact
from ponder.events import Event, Finished, FinishReason, Notice, Thinking, Usage
from ponder.providers import http
from ponder.providers.bodies import SSEParser
from ponder.providers.deltas import DeltaTracker
from ponder.providers.openai_flavours import FLAVOURS, Body
from ponder.providers.tool_calls import ToolCallAssembler
from ponder.request import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ToolChoice,
    ToolSpec,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"



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


# -- the provider ----------------------------------------------------------------------------


class OpenAIProvider(http.HTTPProvider):
    """OpenAI-compatible Chat Completions. See the module docstring."""

    default_base_url = DEFAULT_BASE_URL
    probe_path = "/models"

    def __init__(self, config: ModelConfig) -> None:
        flavour = config.thinking.flavour
        if flavour not in FLAVOURS:
            raise ConfigError(
                f"[models.{config.name}] thinking.flavour {flavour!r} is not one of"
                f" {', '.join(FLAVOURS)}."
            )
        self._flavour = FLAVOURS[flavour]
        super().__init__(config)

    # -- request

    def _reasoning_into(self, message: Message, data: dict[str, Any]) -> None:
        """Put an assistant turn's thoughts back in the field they arrived in (see docstring)."""
        parts = message.reasoning
        send = self.config.options.get("send_reasoning")
        if not parts or send is False:
            return
        # Reasoning this kind and model produced, or that the client sent back in a named
        # field (it got it from this gateway, in that field), goes back verbatim.
        own = [
            p
            for p in parts
            if (p.provider is None or self.owns(p)) and p.state and p.state.get("field")
        ]
        text = "".join(p.text for p in parts if not p.redacted)
        if own:
            arrived = str(own[0].state["field"]) if own[0].state else ""
            if arrived == "reasoning_details":
                data[arrived] = [d for p in own for d in (p.state or {}).get("details", [])]
            elif text:
                data[arrived] = text
            return
        field = self._flavour.history_field
        if send is True:
            field = field or "reasoning_content"
        if field and text:
            data[field] = text

    def _message(self, message: Message) -> list[dict[str, Any]]:
        if message.role == "tool":
            return [
                {"role": "tool", "tool_call_id": r.call_id, "content": r.content}
                for r in message.tool_results
            ]
        data: dict[str, Any] = {"role": message.role, "content": _content(message)}
        if message.role == "assistant":
            calls = message.tool_calls
            if calls:
                data["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in calls
                ]
                if not data["content"]:
                    data["content"] = None
            self._reasoning_into(message, data)
        return [data]

    def _check_tool_turns(self, request: ChatRequest, messages: list[dict[str, Any]]) -> None:
        """Refuse, in words a person can act on, what the upstream would refuse cryptically."""
        if not (self._flavour.tool_turns_need_reasoning and self.thinking_for(request).enabled):
            return
        for i, data in enumerate(messages):
            if data.get("tool_calls") and not data.get(self._flavour.history_field or ""):
                raise ReasoningMissingError(
                    f"{self.who} requires, with thinking on, the reasoning an assistant"
                    f" tool-call turn was produced with (message {i}, call"
                    f" {data['tool_calls'][0]['id']}), and ponder has none to restore: the"
                    " client did not send it back and this gateway's trace store does not hold"
                    " it (a turn served elsewhere, or --no-store). Send reasoning_content back"
                    " with the assistant turn, or turn thinking off for this request"
                    ' ("reasoning_effort": "none").'
                )

    def build_body(self, request: ChatRequest, stream: bool) -> Body:
        messages = [wire for m in request.messages for wire in self._message(m)]
        self._check_tool_turns(request, messages)
        body: Body = {
            "model": self.config.upstream_model,
            "messages": messages,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if request.tools:
            body["tools"] = [tool_to_wire(t) for t in request.tools]
            if request.tool_choice is not None:
                body["tool_choice"] = tool_choice_to_wire(request.tool_choice)
            if request.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = request.parallel_tool_calls
        if request.response_format is not None:
            body["response_format"] = response_format_to_wire(request.response_format)
        extra = self.config.options.get("extra_body")
        if isinstance(extra, Mapping):
            body.update(extra)
        self._flavour.apply(self.thinking_for(request), body)
        return body

    # -- response

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        headers, secrets = self.credentials()
        stream = self.config.options.get("stream", True) is not False
        body = self.build_body(request, stream)
        dropped = [k for k in ("temperature", "top_p") if getattr(request, k) not in (None, 1)
                   and k not in body]  # fmt: skip
        if dropped:
            yield Notice(
                f"{' and '.join(dropped)} not sent: this model takes only the default"
                f" ({self.config.upstream_model}, flavour {self.config.thinking.flavour!r})."
            )
        thinking = self.thinking_for(request)
        reader = _Reader(
            DeltaTracker(
                inline_tags=thinking.inline_tags, opens_in_template=thinking.opens_in_template
            )
        )
        if not stream:
            data = await http.request_json(
                self.client, "POST", "/chat/completions", body, self.who, secrets, headers
            )
            for event in reader.choices(data, "message"):
                yield event
            for event in reader.end():
                yield event
            return
        # The body parsed in this loop (not through bodies.sse_events): one generator layer
        # less per chunk on the gateway's hot path.
        upstream = http.BodyStream(
            self.client, "POST", "/chat/completions", body, self.who, secrets, headers
        )
        parser = SSEParser()
        with upstream.errors():
            async with aclosing(upstream.chunks()) as chunks:
                async for raw in chunks:
                    for sse in parser.feed(raw):
                        for event in reader.sse(sse.data, self.who, secrets):
                            yield event
        for sse in parser.close():
            for event in reader.sse(sse.data, self.who, secrets):
                yield event
        if not reader.done and reader.finish is None:
            raise StreamBrokenError(
                f"{self.who}: the stream ended before the model finished (no finish_reason);"
                " the thoughts and answer that arrived are kept."
            )
        for event in reader.end():
            yield event


# Delta (or message) fields besides content that carry events.
_NOT_PLAIN = frozenset(
    ("reasoning_details", "reasoning", "reasoning_content", "tool_calls", "function_call")
)


class _Reader:
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


# -- request pieces in OpenAI's shape ----------------------------------------------------------


def _content(message: Message) -> str | list[dict[str, Any]]:
    """A string for text-only turns, else content parts (text and ``image_url``)."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            image: dict[str, Any] = {"url": part.url}
            if part.detail:
                image["detail"] = part.detail
            parts.append({"type": "image_url", "image_url": image})
    return parts


def tool_to_wire(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = dict(tool.parameters or {"type": "object", "properties": {}})
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def tool_choice_to_wire(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.kind == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.kind


def response_format_to_wire(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.kind == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": fmt.name or "response", "schema": dict(fmt.schema or {})}
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


__all__ = ["OpenAIProvider", "finish_reason", "reasoning_events"]
