"""``anthropic`` kind: the Anthropic Messages API over SSE, with extended and adaptive thinking.

Request: ``x-api-key`` and ``anthropic-version`` headers; system messages joined into
``system``; thinking switched on as

- ``{type: "enabled", budget_tokens}`` when a budget is set (raised to the API's minimum of
  1024, and ``max_tokens`` raised above it so the answer has room),
- ``{type: "adaptive"}`` with ``output_config: {effort}`` when an effort is set without a
  budget, or when the model's options say ``adaptive = true`` (models that only support it),
- ``{type: "enabled", budget_tokens: 4096}`` when neither is set,

and left out when thinking is off. An assistant history turn that carries thoughts and their
signature is sent back as a ``thinking`` block before its text, as the API requires.

Stream: ``thinking_delta`` → ``thinking`` events, ``signature_delta`` → a ``thinking`` event
with empty text and the signature (so the turn can be replayed), ``redacted_thinking`` blocks →
``Thinking(text="", redacted=True, metadata={"data": …})``, ``text_delta`` → ``answer``.

Usage: Anthropic reports one ``output_tokens`` count that includes thinking, and with summarised
thinking (Claude 4) the visible thought text is shorter than what was billed. So when the model
thought, the answer's tokens are estimated from its (fully visible) text, the rest of the
output is counted as thinking, and the usage is marked ``estimated=True``; the total is exact.
Without thinking the counts are exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from typing import Any

from ponder.errors import StreamBrokenError, UpstreamError, redact
from ponder.events import Event, Finished, FinishReason, Thinking
from ponder.providers import http
from ponder.providers.deltas import DeltaTracker
from ponder.request import ChatRequest, Message

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192
DEFAULT_BUDGET = 4096
MIN_BUDGET = 1024
ANSWER_ROOM = 4096  # tokens left for the answer when max_tokens must exceed the budget

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


class AnthropicProvider(http.HTTPProvider):
    """Claude through the Messages API. See the module docstring."""

    default_base_url = DEFAULT_BASE_URL
    probe_path = "/v1/models"

    def static_headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    # -- request

    @staticmethod
    def _message(message: Message) -> dict[str, Any]:
        if message.role == "assistant" and message.thinking and message.thinking_signature:
            blocks: list[dict[str, Any]] = [
                {
                    "type": "thinking",
                    "thinking": message.thinking,
                    "signature": message.thinking_signature,
                }
            ]
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            return {"role": "assistant", "content": blocks}
        return {"role": message.role, "content": message.content}

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        options = self.config.options
        default_max = options.get("max_tokens")
        max_tokens = request.max_tokens or (
            default_max if isinstance(default_max, int) else DEFAULT_MAX_TOKENS
        )
        body: dict[str, Any] = {
            "model": self.config.upstream_model,
            "max_tokens": max_tokens,
            "messages": [self._message(m) for m in request.messages if m.role != "system"],
            "stream": True,
        }
        if system:
            body["system"] = system
        thinking = self.thinking_for(request)
        if not thinking.enabled:
            if request.temperature is not None:
                body["temperature"] = request.temperature
            return body
        # With thinking on the API accepts no temperature other than its default.
        if options.get("adaptive") is True or (thinking.effort and thinking.budget is None):
            body["thinking"] = {"type": "adaptive"}
            if thinking.effort:
                body["output_config"] = {"effort": thinking.effort}
            return body
        budget = max(MIN_BUDGET, thinking.budget or DEFAULT_BUDGET)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if max_tokens <= budget:
            body["max_tokens"] = budget + ANSWER_ROOM
        return body

    # -- response

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        headers, secrets = self.credentials()
        reader = _MessageReader(self.who, secrets)
        body = self.build_body(request)
        source = http.sse_events(
            self.client, "POST", "/v1/messages", body, self.who, secrets, headers
        )
        async with aclosing(source) as events:
            async for sse in events:
                data = http.parse_json(self.who, sse.data, secrets)
                for event in reader.handle(data):
                    yield event
                if reader.stopped:
                    break
        if not reader.stopped:
            raise StreamBrokenError(
                f"{self.who}: the stream ended before message_stop;"
                " the thoughts and answer that arrived are kept."
            )
        usage = reader.tracker.split_usage(reader.input_tokens, reader.output_tokens)
        yield usage
        yield Finished(reader.tracker.finish_reason(reader.finish))


class _MessageReader:
    """Per-request state of one Messages stream; one small handler per event type."""

    def __init__(self, who: str, secrets: list[str | None]) -> None:
        self.who = who
        self.secrets = secrets
        self.tracker = DeltaTracker()
        self.input_tokens: int | None = None
        self.output_tokens = 0
        self.finish: FinishReason = "stop"
        self.stopped = False
        self._handlers: Mapping[str, Callable[[Mapping[str, Any]], list[Event]]] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
            "error": self._error,
        }
        self._deltas: Mapping[str, Callable[[Mapping[str, Any]], list[Event]]] = {
            "thinking_delta": self._thinking_delta,
            "signature_delta": self._signature_delta,
            "text_delta": self._text_delta,
        }

    def handle(self, data: Mapping[str, Any]) -> list[Event]:
        handler = self._handlers.get(str(data.get("type")))
        return handler(data) if handler is not None else []  # ping, content_block_stop, …

    def _message_start(self, data: Mapping[str, Any]) -> list[Event]:
        message = data.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        if isinstance(usage, dict):
            self.input_tokens = (
                _int(usage.get("input_tokens"))
                + _int(usage.get("cache_creation_input_tokens"))
                + _int(usage.get("cache_read_input_tokens"))
            )
            self.output_tokens = _int(usage.get("output_tokens"))
        return []

    def _block_start(self, data: Mapping[str, Any]) -> list[Event]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        kind = block.get("type")
        if kind == "redacted_thinking":
            redacted = Thinking("", redacted=True, metadata={"data": block.get("data")})
            return [self.tracker.thinking(redacted)]
        text = block.get("thinking") if kind == "thinking" else block.get("text")
        if not isinstance(text, str) or not text:
            return []
        if kind == "thinking":
            return [self.tracker.thinking(Thinking(text))]
        return self.tracker.content(text) if kind == "text" else []

    def _block_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        handler = self._deltas.get(str(delta.get("type")))
        return handler(delta) if handler is not None else []  # input_json_delta, citations…

    def _thinking_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        text = delta.get("thinking")
        return [self.tracker.thinking(Thinking(text))] if isinstance(text, str) and text else []

    def _signature_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        signature = delta.get("signature")
        if not isinstance(signature, str) or not signature:
            return []
        return [self.tracker.thinking(Thinking("", signature=signature))]

    def _text_delta(self, delta: Mapping[str, Any]) -> list[Event]:
        text = delta.get("text")
        if not isinstance(text, str) or not text:
            return []
        return self.tracker.content(text)

    def _message_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta = data.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self.finish = _STOP.get(delta["stop_reason"], "stop")
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
