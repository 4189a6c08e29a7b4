"""``openai`` kind: any OpenAI-compatible Chat Completions server (OpenAI, DeepSeek, Moonshot/Kimi,
OpenRouter, vLLM, llama.cpp, Ollama's /v1, …), streaming over SSE or in one response.

Thoughts are read from whichever field the server uses, in this order of preference (servers
such as OpenRouter send the same text in several): ``reasoning_details`` (items of type
``reasoning.text`` and ``reasoning.summary``; ``reasoning.encrypted`` items carry no text and
are kept in a redacted event's metadata), ``reasoning``, ``reasoning_content``. With
``thinking.inline_tags`` the content goes through the think-splitter.

Thinking on/off, effort and budget are spelled per ``thinking.flavour`` (see ``FLAVOURS``).
Usage comes from the final chunk (``stream_options.include_usage``); answer tokens are
``completion_tokens − completion_tokens_details.reasoning_tokens`` when the server reports
the latter, otherwise split as :meth:`DeltaTracker.split_usage` documents.

Model options (extra keys in the model's table): ``stream = false`` for one JSON response;
``send_reasoning = true|false`` to override whether history turns carry their thoughts back;
``extra_body = {…}`` merged into every request body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from ponder.config import ModelConfig, ThinkingConfig
from ponder.errors import ConfigError, StreamBrokenError, redact
from ponder.events import Event, Finished, FinishReason, Thinking, Usage
from ponder.providers import http
from ponder.providers.deltas import DeltaTracker
from ponder.request import ChatRequest, Message

DEFAULT_BASE_URL = "https://api.openai.com/v1"

Body = dict[str, Any]


# -- thinking flavours -----------------------------------------------------------------------


def _deepseek(thinking: ThinkingConfig, body: Body) -> None:
    """DeepSeek V3.1+ and Moonshot Kimi: ``thinking: {type: enabled|disabled}``."""
    body["thinking"] = {"type": "enabled" if thinking.enabled else "disabled"}


def _qwen(thinking: ThinkingConfig, body: Body) -> None:
    """Qwen3 on vLLM/SGLang/llama.cpp: the chat template's ``enable_thinking`` switch."""
    kwargs = dict(body.get("chat_template_kwargs") or {})
    kwargs["enable_thinking"] = thinking.enabled
    body["chat_template_kwargs"] = kwargs


def _budget_effort(budget: int) -> str:
    return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


def _openai(thinking: ThinkingConfig, body: Body) -> None:
    """OpenAI reasoning models: ``reasoning_effort``; "off" is the lowest effort, ``minimal``
    (o-series models cannot switch reasoning off). A budget picks the nearest effort."""
    if not thinking.enabled:
        body["reasoning_effort"] = "minimal"
    elif thinking.effort is not None:
        body["reasoning_effort"] = thinking.effort
    elif thinking.budget is not None:
        body["reasoning_effort"] = _budget_effort(thinking.budget)
    if "max_tokens" in body:  # reasoning models take max_completion_tokens only
        body["max_completion_tokens"] = body.pop("max_tokens")


def _openrouter(thinking: ThinkingConfig, body: Body) -> None:
    """OpenRouter: ``reasoning: {effort}`` or ``{max_tokens}``, ``{enabled: false}`` when off."""
    if not thinking.enabled:
        body["reasoning"] = {"enabled": False}
    elif thinking.effort is not None:
        body["reasoning"] = {"effort": thinking.effort}
    elif thinking.budget is not None:
        body["reasoning"] = {"max_tokens": thinking.budget}
    else:
        body["reasoning"] = {"enabled": True}


def _none(thinking: ThinkingConfig, body: Body) -> None:
    """The server has no switch (or the model always/never thinks): send nothing."""


@dataclass(frozen=True, slots=True)
class Flavour:
    apply: Callable[[ThinkingConfig, Body], None]
    # The field an assistant history turn carries its thoughts back in, or None.
    history_field: str | None = None


FLAVOURS: Mapping[str, Flavour] = {
    "none": Flavour(_none),
    "deepseek": Flavour(_deepseek, history_field="reasoning_content"),
    "qwen": Flavour(_qwen),
    "openai": Flavour(_openai),
    "openrouter": Flavour(_openrouter, history_field="reasoning"),
}

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


def _detail_event(item: Mapping[str, Any]) -> Thinking | None:
    kind = item.get("type")
    meta = {k: v for k, v in item.items() if k not in ("text", "summary", "data", "signature")}
    signature = item.get("signature") if isinstance(item.get("signature"), str) else None
    if kind == "reasoning.text":
        text = item.get("text")
        return Thinking(text if isinstance(text, str) else "", signature=signature, metadata=meta)
    if kind == "reasoning.summary":
        summary = item.get("summary")
        return Thinking(summary if isinstance(summary, str) else "", metadata=meta)
    if kind == "reasoning.encrypted":
        return Thinking("", redacted=True, metadata={**meta, "data": item.get("data")})
    return None


def reasoning_events(delta: Mapping[str, Any]) -> list[Thinking]:
    """Thinking events from one delta (or non-streaming message), one field only."""
    details = delta.get("reasoning_details")
    if isinstance(details, list) and details:
        events = [_detail_event(item) for item in details if isinstance(item, dict)]
        return [e for e in events if e is not None and (e.text or e.redacted or e.signature)]
    for key in ("reasoning", "reasoning_content"):
        text = delta.get(key)
        if isinstance(text, str) and text:
            return [Thinking(text)]
    return []


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

    def _message(self, message: Message) -> dict[str, Any]:
        data: dict[str, Any] = {"role": message.role, "content": message.content}
        send = self.config.options.get("send_reasoning")
        field = self._flavour.history_field or "reasoning_content"
        wants = send if isinstance(send, bool) else self._flavour.history_field is not None
        if message.role == "assistant" and message.thinking and wants:
            data[field] = message.thinking
        return data

    def build_body(self, request: ChatRequest, stream: bool) -> Body:
        body: Body = {
            "model": self.config.upstream_model,
            "messages": [self._message(m) for m in request.messages],
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
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
        done = False
        source = http.sse_events(
            self.client, "POST", "/chat/completions", body, self.who, secrets, headers
        )
        async with aclosing(source) as events:
            async for sse in events:
                if sse.data.strip() == "[DONE]":
                    # Read on to the end of the body instead of breaking: a body read to its
                    # end returns the connection to the pool; breaking closes it, and the next
                    # request pays a new TCP connect (about 1 ms of added TTFT).
                    done = True
                    continue
                if done:
                    continue
                chunk = http.parse_json(self.who, sse.data, secrets)
                if chunk.get("error"):
                    message = http.error_message(sse.data.encode(), "unknown error")
                    raise StreamBrokenError(
                        f"{self.who}: the server reported an error mid-stream:"
                        f" {redact(message, secrets)}; what arrived before it is kept."
                    )
                for event in reader.choices(chunk, "delta"):
                    yield event
        if not done and reader.finish is None:
            raise StreamBrokenError(
                f"{self.who}: the stream ended before the model finished (no finish_reason);"
                " the thoughts and answer that arrived are kept."
            )
        for event in reader.end():
            yield event


class _Reader:
    """Per-request state: what arrived, the finish reason, the usage."""

    def __init__(self, tracker: DeltaTracker) -> None:
        self.tracker = tracker
        self.finish: FinishReason | None = None
        self.raw_usage: Mapping[str, Any] | None = None

    def choices(self, data: Mapping[str, Any], key: str) -> list[Event]:
        """Events of one chunk (``key="delta"``) or of a whole response (``"message"``)."""
        events: list[Event] = []
        choices = data.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            part = choice.get(key)
            if isinstance(part, dict):
                events.extend(self.tracker.thinking(t) for t in reasoning_events(part))
                content = part.get("content")
                if isinstance(content, str):
                    events.extend(self.tracker.content(content))
            if choice.get("finish_reason") is not None:
                self.finish = finish_reason(choice["finish_reason"])
            # Moonshot puts the last chunk's usage inside the choice.
            if isinstance(choice.get("usage"), dict):
                self._take_usage(choice["usage"])
        if isinstance(data.get("usage"), dict):
            self._take_usage(data["usage"])
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
        return self.tracker.split_usage(_int(usage.get("prompt_tokens")), completion, reasoning)

    def end(self) -> list[Event]:
        """The flushed splitter, the usage (when reported) and the finish."""
        events = self.tracker.close()
        # After the flush, so an estimated split sees the whole answer.
        if self.raw_usage is not None:
            events.append(self._usage(self.raw_usage))
        events.append(Finished(self.tracker.finish_reason(self.finish or "stop")))
        return events
