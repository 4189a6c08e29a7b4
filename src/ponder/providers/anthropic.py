"""``anthropic`` kind: the Anthropic Messages API over SSE, with extended and adaptive thinking.

Request: ``x-api-key`` and ``anthropic-version`` headers; system messages joined into
``system``; thinking switched on as

- ``{type: "enabled", budget_tokens}`` when a budget is set (raised to the API's minimum of
  1024),
- ``{type: "adaptive"}`` with ``output_config: {effort}`` when an effort is set without a
  budget, or when the model's options say ``adaptive = true`` (models that only support it),
- ``{type: "enabled", budget_tokens: 4096}`` when neither is set,

and left out when thinking is off. With thinking on the API takes no ``temperature``,
``top_p`` below 0.95 or ``top_k`` (they are dropped), and ``tool_choice`` only ``auto`` or
``none``: a request that forces a tool call is refused by ponder with a 400 that says why.

``max_tokens`` with a thinking budget: the API counts thoughts in ``max_tokens`` and requires it
to exceed ``budget_tokens``, while an OpenAI client's ``max_tokens`` is sized for the answer it
expects. So the client's ``max_tokens`` is the *answer* limit and ponder sends
``max_tokens = budget_tokens + client max_tokens`` (the thoughts are capped by the budget, the
answer by the client). Without a client limit it is the model's ``max_tokens`` option (default
8192), raised to ``budget_tokens + 4096`` when that would not leave the answer room. With
adaptive thinking there is no budget, and the client's ``max_tokens`` is sent as it is.
``stop`` is sent as ``stop_sequences``.

Messages: system turns are joined into ``system``; text and image blocks (base64 from a
``data:`` URL, or a URL source); an assistant turn replays its ``thinking`` and
``redacted_thinking`` blocks **unmodified and in order** (signature-only blocks with empty
text included) before the ``text`` and ``tool_use`` blocks they preceded — but only blocks
this kind and model produced: another provider's reasoning has no valid signature here and
is dropped. ``tool`` turns become ``tool_result`` blocks at the head of one user turn.
Tools go out as ``{name, description, input_schema}``; ``required`` is ``{"type": "any"}``,
a named tool ``{"type": "tool"}``, ``parallel_tool_calls: false`` is
``disable_parallel_tool_use``. With thinking and tools, the ``interleaved-thinking`` beta
header is sent (model option ``interleaved = false`` turns it off), so the model may think
between tool calls.

Stream: ``thinking_delta`` → ``thinking`` events, ``signature_delta`` → a ``thinking`` event
with empty text and the signature (so the turn can be replayed), ``redacted_thinking`` blocks →
``Thinking(text="", redacted=True, state={"data": …})``, each tagged with its content block's
index; ``text_delta`` → ``answer``; ``tool_use`` blocks → ``tool_call_start``, their
``input_json_delta`` fragments (the first may be empty) → ``tool_call_delta``, the block's
end → ``tool_call_end``.

Usage: Anthropic reports one ``output_tokens`` count that includes thinking, and with summarised
thinking (Claude 4) the visible thought text is shorter than what was billed. So when the model
thought, the answer's tokens are estimated from its (fully visible) text, the rest of the
output is counted as thinking, and the usage is marked ``estimated=True``; the total is exact.
Without thinking the counts are exact.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from ponder.errors import (
    ReasoningMissingError,
    StreamBrokenError,
    UnsupportedRequestError,
)
from ponder.events import Event, Finished
from ponder.providers import bodies, http
from ponder.providers.anthropic_reader import MessageReader
from ponder.request import (
    ChatRequest,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolChoice,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 8192
DEFAULT_BUDGET = 4096
MIN_BUDGET = 1024
ANSWER_ROOM = 4096  # tokens left for the answer when max_tokens must exceed the budget
INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"

class AnthropicProvider(http.HTTPProvider):
    """Claude through the Messages API. See the module docstring."""

    default_base_url = DEFAULT_BASE_URL
    probe_path = "/v1/models"

    def static_headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    # -- request

    def _block(self, part: Part) -> dict[str, Any] | None:
        """One content block of a user or assistant turn (None: not sent)."""
        if isinstance(part, TextPart):
            return {"type": "text", "text": part.text} if part.text else None
        if isinstance(part, ImagePart):
            return _image_block(part)
        if isinstance(part, ToolCallPart):
            return {"type": "tool_use", "id": part.id, "name": part.name, "input": _input(part)}
        if isinstance(part, ReasoningPart):
            return self._thinking_block(part)
        return None

    def _thinking_block(self, part: ReasoningPart) -> dict[str, Any] | None:
        """The block exactly as it came, or None for reasoning without a valid signature here."""
        if not self.owns(part):
            return None
        data = (part.state or {}).get("data")
        if part.redacted and isinstance(data, str):
            return {"type": "redacted_thinking", "data": data}
        if part.signature:
            return {"type": "thinking", "thinking": part.text, "signature": part.signature}
        return None

    def _messages(self, request: ChatRequest) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in request.messages:
            if message.role == "system":
                continue
            if message.role == "tool":
                blocks = [
                    _tool_result(r.call_id, r.content, r.is_error) for r in message.tool_results
                ]
                role = "user"
            else:
                blocks = [b for b in map(self._block, message.parts) if b is not None]
                role = message.role
            # Consecutive turns of one role merge: tool results (and the user text after
            # them) form one user turn, results first, as the API requires.
            if out and out[-1]["role"] == role == "user":
                out[-1]["content"].extend(blocks)
            elif blocks or role == "user":
                out.append({"role": role, "content": blocks})
        for turn in out:
            content = turn["content"]
            if len(content) == 1 and content[0]["type"] == "text":
                turn["content"] = content[0]["text"]
        return out

    def _tools(self, request: ChatRequest, thinking_on: bool, body: dict[str, Any]) -> None:
        if not request.tools:
            return
        choice = request.tool_choice or ToolChoice("auto")
        if thinking_on and choice.forces_call:
            forced = "a tool call" if choice.kind == "required" else f"a call of {choice.name!r}"
            raise UnsupportedRequestError(
                "tool_choice",
                f"{self.who}: with thinking on, Anthropic accepts tool_choice auto or none only"
                f" (this request forces {forced}). Send tool_choice auto, or turn thinking off"
                ' for this request ("reasoning_effort": "none").',
            )
        body["tools"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": dict(t.parameters or {"type": "object", "properties": {}}),
            }
            for t in request.tools
        ]
        wire: dict[str, Any] = {"type": {"required": "any"}.get(choice.kind, choice.kind)}
        if choice.kind == "tool":
            wire["name"] = choice.name
        if request.parallel_tool_calls is False and choice.kind != "none":
            wire["disable_parallel_tool_use"] = True
        body["tool_choice"] = wire

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
            "messages": self._messages(request),
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        thinking = self.thinking_for(request)
        self._tools(request, thinking.enabled, body)
        if thinking.enabled:
            _check_final_turn(self.who, body["messages"])
        if not thinking.enabled:
            if request.temperature is not None:
                body["temperature"] = request.temperature
            if request.top_p is not None:
                body["top_p"] = request.top_p
            return body
        # With thinking on the API accepts no temperature other than its default, and top_p
        # only from 0.95 up.
        if request.top_p is not None and request.top_p >= 0.95:
            body["top_p"] = request.top_p
        if options.get("adaptive") is True or (thinking.effort and thinking.budget is None):
            body["thinking"] = {"type": "adaptive"}
            if thinking.effort:
                body["output_config"] = {"effort": thinking.effort}
            return body
        budget = max(MIN_BUDGET, thinking.budget or DEFAULT_BUDGET)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if request.max_tokens is not None:
            body["max_tokens"] = budget + request.max_tokens  # the client's limit is the answer's
        elif max_tokens <= budget:
            body["max_tokens"] = budget + ANSWER_ROOM
        return body

    def request_headers(self, request: ChatRequest, body: dict[str, Any]) -> dict[str, str]:
        """Per-request headers: the interleaved-thinking beta when thinking meets tools."""
        if "thinking" in body and "tools" in body and self.config.options.get("interleaved", True):
            return {"anthropic-beta": INTERLEAVED_BETA}
        return {}

    # -- response

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        headers, secrets = self.credentials()
        reader = MessageReader(self.who, secrets)
        body = self.build_body(request)
        headers = {**headers, **self.request_headers(request, body)}
        source = bodies.sse_events(
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
        for event in reader.calls.close():  # calls whose block never stopped
            yield event
        usage = reader.tracker.split_usage(
            reader.input_tokens, reader.output_tokens, cached_input_tokens=reader.cached_tokens
        )
        yield usage
        yield Finished(
            reader.tracker.finish_reason(reader.finish), stop_sequence=reader.stop_sequence
        )


# -- blocks ----------------------------------------------------------------------------------


def _image_block(part: ImagePart) -> dict[str, Any]:
    inline = part.data_url
    if inline is not None:
        media_type, data = inline
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _input(call: ToolCallPart) -> Any:
    """A call's arguments as the object the API wants (``{}`` for none)."""
    if not call.arguments.strip():
        return {}
    try:
        return json.loads(call.arguments)
    except ValueError:
        raise UnsupportedRequestError(
            "messages",
            f"tool call {call.id!r} ({call.name}) has arguments that are not JSON;"
            " Anthropic needs them as an object. Send the arguments the model produced.",
        ) from None


def _tool_result(call_id: str, content: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block


def _check_final_turn(who: str, messages: list[dict[str, Any]]) -> None:
    """With thinking on, the API wants the last assistant turn that called tools to open with
    its thinking block; say so in plain words when ponder has none to send."""
    for i in range(len(messages) - 1, -1, -1):
        turn = messages[i]
        if turn["role"] != "assistant":
            continue
        content = turn["content"]
        blocks = content if isinstance(content, list) else []
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        if uses and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
            raise ReasoningMissingError(
                f"{who}: with thinking on, Anthropic requires the last assistant turn that"
                f" called tools (message {i}, tool_use {uses[0].get('id')}) to start with its"
                " signed thinking block, and ponder has none to send: the client did not send"
                " it back, and the turn is not in this gateway's trace store or was produced"
                " by another model. Send the thinking blocks back unmodified, or turn thinking"
                ' off for this request ("reasoning_effort": "none").'
            )
        return
