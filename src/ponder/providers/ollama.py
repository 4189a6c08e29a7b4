"""``ollama`` kind: Ollama's native ``/api/chat``, one JSON object per line (NDJSON).

Request: ``think`` is the model's thinking switch (``true``/``false``; with the model option
``think_levels = true`` an effort is sent as ``"low"|"medium"|"high"``, which GPT-OSS wants);
``max_tokens``, ``temperature``, ``top_p`` and ``stop`` go into ``options`` as ``num_predict``,
``temperature``, ``top_p`` and ``stop``; system messages and the whole history are sent as
they came.
History turns carry their thoughts back in ``thinking``, their calls as ``tool_calls`` (arguments
as objects) and tool results as ``tool`` turns with ``tool_name``; images go in ``images``
(base64 only: a ``data:`` URL is unwrapped, a web URL refused). ``tools`` go out in OpenAI's
shape, ``response_format`` as ``format`` (``"json"`` or the schema). Ollama has no
``tool_choice``: ``none`` sends no tools, and a request that forces a call is refused.

Stream: ``message.thinking`` → ``thinking``, ``message.content`` → ``answer`` (through the
think-splitter when it opens with ``<think>``, or always with ``thinking.inline_tags``),
``message.tool_calls`` (whole calls, without ids: ponder makes them) → tool-call events,
the line with ``done: true`` carries ``done_reason`` and the counts; a line ``{"error": …}``
ends the stream with that message.

Usage: ``prompt_eval_count`` is the input, ``eval_count`` all output tokens with thinking
included; when the model thought, the split is estimated as :class:`DeltaTracker` documents.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from ponder.errors import StreamBrokenError, UnsupportedRequestError, redact
from ponder.events import Event, Finished, FinishReason, Thinking
from ponder.providers import bodies, http
from ponder.providers.deltas import DeltaTracker
from ponder.providers.openai import tool_to_wire
from ponder.providers.tool_calls import ToolCallAssembler
from ponder.request import ChatRequest, ImagePart, Message

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
    def _message(message: Message, names: Mapping[str, str]) -> list[dict[str, Any]]:
        if message.role == "tool":
            return [
                {
                    "role": "tool",
                    "content": r.content,
                    "tool_name": r.name or names.get(r.call_id, ""),
                }
                for r in message.tool_results
            ]
        data: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.images:
            data["images"] = [_image(image) for image in message.images]
        if message.role == "assistant":
            text = "".join(p.text for p in message.reasoning if not p.redacted)
            if text:
                data["thinking"] = text
            if message.tool_calls:
                data["tool_calls"] = [
                    {"function": {"name": c.name, "arguments": _arguments(c.arguments)}}
                    for c in message.tool_calls
                ]
        return [data]

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
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.stop:
            options["stop"] = list(request.stop)
        names = {c.id: c.name for m in request.messages for c in m.tool_calls}
        body: dict[str, Any] = {
            "model": self.config.upstream_model,
            "messages": [w for m in request.messages for w in self._message(m, names)],
            "stream": True,
            "think": think,
        }
        if options:
            body["options"] = options
        if request.tools:
            choice = request.tool_choice
            if choice is not None and choice.forces_call:
                raise UnsupportedRequestError(
                    "tool_choice",
                    f"{self.who}: Ollama cannot be made to call a tool (it has no tool_choice);"
                    " send tool_choice auto and let the model decide.",
                )
            if request.offers_tools:
                body["tools"] = [tool_to_wire(t) for t in request.tools]
        fmt = request.response_format
        if fmt is not None:
            body["format"] = dict(fmt.schema or {}) if fmt.kind == "json_schema" else "json"
        return body

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        headers, secrets = self.credentials()
        thinking = self.thinking_for(request)
        tracker = DeltaTracker(
            inline_tags=thinking.inline_tags, opens_in_template=thinking.opens_in_template
        )
        calls = ToolCallAssembler()
        final: Mapping[str, Any] | None = None
        body = self.build_body(request)
        source = bodies.ndjson_objects(
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
                    for event in _tool_calls(calls, message_part.get("tool_calls")):
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
        made_calls = calls.count > 0
        for event in calls.close():
            yield event
        output = _int(final.get("eval_count"))
        if output is not None:
            yield tracker.split_usage(_int(final.get("prompt_eval_count")), output)
        reason = final.get("done_reason")
        upstream = _DONE.get(reason, "stop") if isinstance(reason, str) else "stop"
        if made_calls and upstream == "stop":
            upstream = "tool_calls"
        yield Finished(tracker.finish_reason(upstream))


def _tool_calls(calls: ToolCallAssembler, raw: object) -> list[Event]:
    """Ollama sends each call whole: ``{function: {name, arguments: {…}}}`` (an id at most)."""
    events: list[Event] = []
    for call in raw if isinstance(raw, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        name = function.get("name")
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        events.extend(calls.whole(call_id, name if isinstance(name, str) else "unknown", text))
    return events


def _arguments(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return text


def _image(image: ImagePart) -> str:
    inline = image.data_url
    if inline is None:
        raise UnsupportedRequestError(
            "messages",
            "Ollama takes images as base64 data only; send the image as a data: URL.",
        )
    return inline[1]
