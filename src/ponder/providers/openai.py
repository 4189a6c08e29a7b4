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

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ponder.config import ModelConfig
from ponder.errors import ConfigError, ReasoningMissingError, StreamBrokenError
from ponder.events import Event, Notice
from ponder.providers import http
from ponder.providers.bodies import SSEParser
from ponder.providers.deltas import DeltaTracker
from ponder.providers.openai_flavours import FLAVOURS, Body
from ponder.providers.openai_reader import ResponseReader
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
        reader = ResponseReader(
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
        async with upstream.reading() as chunks:
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


__all__ = ["OpenAIProvider", "tool_to_wire"]
