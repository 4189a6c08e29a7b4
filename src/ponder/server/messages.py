"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic Messages front door.

The door for Claude Code and the ``anthropic`` SDKs, on any model ponder knows: the request
is parsed into a :class:`ChatRequest` (:mod:`ponder.server.messages_parse`), goes through
the same engine, reasoning memory, exchange, trace and metrics as a chat completion
(:func:`ponder.server.chat.open_stream`, :class:`ponder.server.chat.ExchangeResponse`), and
its events are written as Messages SSE events or a ``message`` body
(:mod:`ponder.server.messages_wire`). Errors, wherever they arise under ``/v1/messages``,
take Anthropic's shape ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Send

from ponder.errors import redact
from ponder.events import Event, Failed, Finished, Started, Thinking, ToolCallEnd
from ponder.request import ChatRequest
from ponder.server.chat import HEAD_DELAY_S, EarlyFailure, ExchangeResponse, open_stream, read_body
from ponder.server.errors import failure_status, register_door_errors
from ponder.server.exchange import Exchange, message_text
from ponder.server.gateway import Gateway
from ponder.server.messages_parse import parse_messages
from ponder.server.messages_wire import (
    MessageStreamEncoder,
    content_blocks,
    error_body,
    message_body,
)
from ponder.server.parse import parse_body
from ponder.tokens import estimate_tokens

DOOR = "messages"
PATH = "/v1/messages"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

register_door_errors(PATH, error_body)


def _producer(gateway: Gateway, model: str) -> tuple[str | None, str | None]:
    """The provider kind and upstream model that answer as ``model`` (tags its reasoning)."""
    config = gateway.config.models.get(model)
    return (config.provider, config.upstream_model) if config is not None else (None, None)


async def messages(request: Request) -> Response | ExchangeResponse:
    gateway: Gateway = request.app.state.gateway
    request_id: str = request.state.request_id
    body = parse_body(await read_body(request, gateway.settings.body_limit))
    parsed = parse_messages(body, request.headers, request_id, gateway.config, gateway.signer)
    try:
        exchange, events = await open_stream(
            gateway, parsed.chat, parsed.stream, DOOR, parsed.notes, request.headers
        )
    except EarlyFailure as failure:
        event = failure.event
        status = failure_status(event)
        message = redact(event.message, gateway.secrets)
        return JSONResponse(error_body(status, message), status_code=status,
                            headers={"request-id": request_id})  # fmt: skip
    assert exchange.started is not None
    exchange.turn.tag(*_producer(gateway, exchange.started.model))
    sink = StreamingMessages if parsed.stream else CollectedMessages
    return sink(gateway, exchange, events, parsed.show_thinking)


async def count_tokens(request: Request) -> Response:
    """ponder's offline estimate of the request's input tokens, marked as one: the model's
    own tokenizer may count differently (within ~20% on English prose and code)."""
    gateway: Gateway = request.app.state.gateway
    body = parse_body(await read_body(request, gateway.settings.body_limit))
    body = {"max_tokens": 1, **body}  # the one field count_tokens does not require
    parsed = parse_messages(
        body, request.headers, request.state.request_id, gateway.config, gateway.signer
    )
    count = _input_estimate(parsed.chat)
    return JSONResponse(
        {
            "input_tokens": count,
            "ponder": {"estimated": True, "method": "ponder's offline estimate (ponder.tokens)"},
        }
    )


def _input_estimate(chat: ChatRequest) -> int:
    pieces = [message_text(m) for m in chat.messages]
    pieces.extend(p.text for m in chat.messages for p in m.reasoning)
    pieces.extend(
        t.name + (t.description or "") + json.dumps(dict(t.parameters or {})) for t in chat.tools
    )
    return estimate_tokens("\n".join(pieces))


class _MessagesResponse(ExchangeResponse):
    def __init__(
        self,
        gateway: Gateway,
        exchange: Exchange,
        events: AsyncIterator[Event],
        show_thinking: bool,
    ) -> None:
        super().__init__(gateway, exchange, events)
        self.show_thinking = show_thinking
        self.message_id = "msg_" + exchange.request.request_id.removeprefix("req_")


class StreamingMessages(_MessagesResponse):
    async def respond(self, send: Send) -> None:
        x = self.exchange
        started = x.started
        assert started is not None
        events = self.events
        enc = MessageStreamEncoder(
            self.message_id,
            self.gateway.signer,
            self.show_thinking,
            _producer(self.gateway, started.model),
        )
        prompt_tokens = x.prompt_tokens()
        # As for chat completions: let the upstream request go out before our first bytes.
        self.first = first = asyncio.ensure_future(events.__anext__())
        await asyncio.wait((first,), timeout=HEAD_DELAY_S)
        headers = [*_SSE_HEADERS, (b"request-id", x.request.request_id.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {
                "type": "http.response.body",
                "body": enc.start(started, prompt_tokens),
                "more_body": True,
            }
        )
        send = self.body_send(send)
        chunk = b""
        try:
            event: Event | None = await first
        except StopAsyncIteration:
            event = None
        while event is not None:
            x.observe(event)
            if isinstance(event, Thinking):
                chunk = enc.thinking(event)
            elif event.type == "answer":
                chunk = enc.answer(event.text)  # type: ignore[union-attr]
            elif isinstance(event, ToolCallEnd):
                chunk = enc.tool_call(event)
            elif isinstance(event, Finished):
                self.gateway.remember(x)
                await self.gateway.reasoning_saved(x)  # another gateway may get the next turn
                chunk = enc.finished(
                    started, event, x.usage, prompt_tokens, x.notes, self.gateway.cost(x)
                )
                break
            elif isinstance(event, Failed):
                failed = self._redacted(event)
                chunk = enc.failed(failed, failure_status(failed))
                break
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = b""
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                break
        self.flags["done"] = True
        await send({"type": "http.response.body", "body": chunk, "more_body": False})


class CollectedMessages(_MessagesResponse):
    async def respond(self, send: Send) -> None:
        x = self.exchange
        started = x.started
        assert isinstance(started, Started)
        async for event in self.events:
            x.observe(event)
            if isinstance(event, Finished | Failed):
                break
        terminal = x.terminal
        body: dict[str, Any]
        if isinstance(terminal, Finished):
            self.gateway.remember(x)
            await self.gateway.reasoning_saved(x)
            status = 200
            body = message_body(
                message_id=self.message_id,
                started=started,
                content=content_blocks(x.turn.parts, self.gateway.signer, self.show_thinking),
                finished=terminal,
                usage=x.usage,
                prompt_tokens=x.prompt_tokens(),
                notes=x.notes,
                cost=self.gateway.cost(x),
            )
        else:
            failed = self._redacted(
                terminal
                if isinstance(terminal, Failed)
                else Failed("ponder", "stream_incomplete", "the stream ended without finishing")
            )
            status = failure_status(failed)
            body = error_body(status, failed.message)
        self.flags["done"] = True
        await _send_json(send, status, body, x.request.request_id)


async def _send_json(send: Send, status: int, body: dict[str, Any], request_id: str) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
