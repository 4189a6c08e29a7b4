"""``ollama`` kind: Ollama's native ``/api/chat``, one JSON object per line (NDJSON).

Request: ``think`` is the model's thinking switch (``true``/``false``; with the model option
``think_levels = true`` an effort is sent as ``"low"|"medium"|"high"``, which GPT-OSS wants);
``max_tokens`` and ``temperature`` go into ``options`` as ``num_predict`` and ``temperature``.
History turns carry their thoughts back in ``thinking``.

Stream: ``message.thinking`` → ``thinking``, ``message.content`` → ``answer`` (through the
think-splitter when ``thinking.inline_tags``, for templates that write tags into the content),
the line with ``done: true`` carries ``done_reason`` and the counts; a line ``{"error": …}``
ends the stream with that message.

Usage: ``prompt_eval_count`` is the input, ``eval_count`` all output tokens with thinking
included; when the model thought, the split is estimated as :class:`DeltaTracker` documents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from ponder.errors import StreamBrokenError, redact
from ponder.events import Event, Finished, FinishReason, Thinking
from ponder.providers import http
from ponder.providers.deltas import DeltaTracker
from ponder.request import ChatRequest, Message

DEFAULT_BASE_URL = "http://localhost:11434"

_DONE: Mapping[str, FinishReason] = {"stop": "stop", "length": "length", "load": "stop"}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OllamaProvider(http.HTTPProvider):
    """A model served by Ollama (a local one needs no key; a hosted one may). See the module
    docstring."""

    default_base_url = DEFAULT_BASE_URL
    probe_path = "/api/tags"

    @staticmethod
    def _message(message: Message) -> dict[str, Any]:
        data: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant" and message.thinking:
            data["thinking"] = message.thinking
        return data

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        thinking = self.thinking_for(request)
        think: bool | str = thinking.enabled
        if thinking.enabled and thinking.effort and self.config.options.get("think_levels"):
            think = thinking.effort
        options: dict[str, Any] = {}
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        body: dict[str, Any] = {
            "model": self.config.upstream_model,
            "messages": [self._message(m) for m in request.messages],
            "stream": True,
            "think": think,
        }
        if options:
            body["options"] = options
        return body

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        headers, secrets = self.credentials()
        thinking = self.thinking_for(request)
        tracker = DeltaTracker(
            inline_tags=thinking.inline_tags, opens_in_template=thinking.opens_in_template
        )
        final: Mapping[str, Any] | None = None
        body = self.build_body(request)
        source = http.ndjson_objects(
            self.client, "POST", "/api/chat", body, self.who, secrets, headers
        )
        async with aclosing(source) as lines:
            async for line in lines:
                if "error" in line:
                    raw = line["error"]
                    message = raw if isinstance(raw, str) and raw else "no message"
                    raise StreamBrokenError(
                        f"{self.who}: Ollama reported an error mid-stream:"
                        f" {redact(message, secrets)}; what arrived before it is kept."
                    )
                message_part = line.get("message")
                if isinstance(message_part, dict):
                    thought = message_part.get("thinking")
                    if isinstance(thought, str) and thought:
                        yield tracker.thinking(Thinking(thought))
                    content = message_part.get("content")
                    if isinstance(content, str):
                        for event in tracker.content(content):
                            yield event
                if line.get("done") is True:
                    final = line
                    break
        if final is None:
            raise StreamBrokenError(
                f"{self.who}: the stream ended before Ollama sent done;"
                " the thoughts and answer that arrived are kept."
            )
        for event in tracker.close():
            yield event
        output = _int(final.get("eval_count"))
        if output is not None:
            yield tracker.split_usage(_int(final.get("prompt_eval_count")), output)
        reason = final.get("done_reason")
        upstream = _DONE.get(reason, "stop") if isinstance(reason, str) else "stop"
        yield Finished(tracker.finish_reason(upstream))
