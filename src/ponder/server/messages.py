"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic Messages front door.

The door for Claude Code and the ``anthropic`` SDKs, on any model ponder knows: the request
is parsed into a :class:`ChatRequest` (:mod:`ponder.server.messages_parse`), goes through
the same engine, reasoning memory, exchange, trace and metrics as a chat completion
(:func:`ponder.server.door.open_stream`, :class:`ponder.server.door.StreamingSink`), and
its events are written as Messages SSE events or a ``message`` body
(:mod:`ponder.server.messages_wire`). Errors, wherever they arise under ``/v1/messages``,
take Anthropic's shape ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ponder.errors import redact
from ponder.events import (
    Event,
    Failed,
    Finished,
    Started,
)
from ponder.request import ChatRequest
from ponder.server.door import (
    SSE_HEADERS,
    CollectedSink,
    EarlyFailure,
    ExchangeResponse,
    StreamingSink,
    encode_event,
    open_stream,
    read_body,
)
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


def _message_id(exchange: Exchange) -> str:
    return "msg_" + exchange.request.request_id.removeprefix("req_")


class StreamingMessages(StreamingSink):
    def __init__(
        self, gateway: Gateway, exchange: Exchange, events: AsyncIterator[Event],
        show_thinking: bool,
    ) -> None:  # fmt: skip
        super().__init__(gateway, exchange, events)
        self.show_thinking = show_thinking
        self.message_id = _message_id(exchange)
        self.headers = [*SSE_HEADERS, (b"request-id", exchange.request.request_id.encode())]
        self.enc: MessageStreamEncoder | None = None
        self.prompt_tokens = 0

    def opening(self, started: Started) -> bytes:
        self.enc = MessageStreamEncoder(
            self.message_id,
            self.gateway.signer,
            self.show_thinking,
            _producer(self.gateway, started.model),
        )
        self.prompt_tokens = self.exchange.prompt_tokens()
        return self.enc.start(started, self.prompt_tokens)

    def frame(self, event: Event) -> bytes:
        assert self.enc is not None
        self.exchange.observe(event)
        return encode_event(self.enc, event)

    def finished_frame(self, event: Finished) -> bytes:
        x = self.exchange
        assert self.enc is not None and x.started is not None
        return self.enc.finished(
            x.started, event, x.usage, self.prompt_tokens, x.notes, self.gateway.cost(x)
        )

    def failed_frame(self, event: Failed) -> bytes:
        assert self.enc is not None
        return self.enc.failed(event, failure_status(event))


class CollectedMessages(CollectedSink):
    def __init__(
        self, gateway: Gateway, exchange: Exchange, events: AsyncIterator[Event],
        show_thinking: bool,
    ) -> None:  # fmt: skip
        super().__init__(gateway, exchange, events)
        self.show_thinking = show_thinking
        self.message_id = _message_id(exchange)
        self.extra_headers = [(b"request-id", exchange.request.request_id.encode())]

    def success_body(self, finished: Finished) -> Mapping[str, Any]:
        x = self.exchange
        assert x.started is not None
        return message_body(
            message_id=self.message_id,
            started=x.started,
            content=content_blocks(x.turn.parts, self.gateway.signer, self.show_thinking),
            finished=finished,
            usage=x.usage,
            prompt_tokens=x.prompt_tokens(),
            notes=x.notes,
            cost=self.gateway.cost(x),
        )

    def failure_body(self, failed: Failed, status: int) -> Mapping[str, Any]:
        return error_body(status, failed.message)
