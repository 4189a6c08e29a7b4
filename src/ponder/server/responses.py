"""``POST /v1/responses``: the OpenAI Responses front door (Codex CLI, the ``openai`` SDK's
``responses`` API), on any model ponder knows.

The request is parsed into a :class:`ChatRequest` (:mod:`ponder.server.responses_parse`),
after the stored conversation of ``previous_response_id`` when given; it goes through the
same engine, reasoning memory, exchange, trace and metrics as the other doors
(:func:`ponder.server.chat.open_stream`, :class:`ponder.server.chat.ExchangeResponse`), and
its events are written as Responses events or a ``response`` object
(:mod:`ponder.server.responses_wire`). A finished response is stored (unless ``store`` is
false) so the next request can continue it by id. Errors are OpenAI-shaped, as on
``/v1/chat/completions``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

from ponder.events import (
    Event,
    Failed,
    Finished,
    Started,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ponder.request import Message
from ponder.server.chat import (
    HEAD_DELAY_S,
    EarlyFailure,
    ExchangeResponse,
    _failure_response,
    open_stream,
    read_body,
)
from ponder.server.errors import ParamError, failure_status
from ponder.server.exchange import Exchange
from ponder.server.gateway import Gateway
from ponder.server.parse import parse_body
from ponder.server.responses_parse import ParsedResponses, parse_responses
from ponder.server.responses_wire import (
    ResponseStreamEncoder,
    Shell,
    incomplete_reason,
    output_items,
    ponder_extra,
    response_object,
    usage_json,
)
from ponder.server.wire import error_body, error_type

DOOR = "responses"
_ECHO = (
    "instructions", "tools", "tool_choice", "parallel_tool_calls", "previous_response_id",
    "reasoning", "store", "temperature", "top_p", "max_output_tokens", "text", "metadata",
)  # fmt: skip
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def response_id_for(request_id: str) -> str:
    return "resp_" + request_id.removeprefix("req_")


async def responses(request: Request) -> Response | ExchangeResponse:
    gateway: Gateway = request.app.state.gateway
    request_id: str = request.state.request_id
    body = parse_body(await read_body(request, gateway.settings.body_limit))
    previous = await _previous(gateway, body.get("previous_response_id"))
    model = body.get("model")
    if isinstance(model, str) and model:  # an alias, auto or an upstream id (404 otherwise)
        body = {**body, "model": gateway.config.resolve(model)}
    parsed = parse_responses(body, request.headers, request_id, gateway.signer, previous)
    try:
        exchange, events = await open_stream(
            gateway, parsed.chat, parsed.stream, DOOR, parsed.notes, request.headers
        )
    except EarlyFailure as failure:
        return _failure_response(failure.event, gateway.secrets)
    started = exchange.started
    assert started is not None
    config = gateway.config.models.get(started.model)
    producer = (config.provider, config.upstream_model) if config is not None else (None, None)
    exchange.turn.tag(*producer)
    shell = Shell(
        response_id=response_id_for(request_id),
        created_at=time.time(),
        echo={k: body[k] for k in _ECHO if k in body},
        signer=gateway.signer,
        summary=parsed.summary is not None,
        encrypted=parsed.encrypted_reasoning,
        producer=producer,
    )
    sink = StreamingResponses if parsed.stream else CollectedResponses
    return sink(gateway, exchange, events, shell, parsed)


async def _previous(gateway: Gateway, response_id: Any) -> tuple[Message, ...]:
    if response_id is None:
        return ()
    if not isinstance(response_id, str) or not response_id:
        raise ParamError("previous_response_id", "'previous_response_id' must be a string.")
    found = await gateway.responses.find(response_id)
    if found is None:
        raise ParamError(
            "previous_response_id",
            f"Previous response with id {response_id!r} not found: it was not stored (store"
            " false, --no-store) or was made by a gateway with another trace store. Send the"
            " whole conversation as input instead.",
        )
    return found


class _ResponsesSink(ExchangeResponse):
    def __init__(
        self,
        gateway: Gateway,
        exchange: Exchange,
        events: AsyncIterator[Event],
        shell: Shell,
        parsed: ParsedResponses,
    ) -> None:
        super().__init__(gateway, exchange, events)
        self.shell = shell
        self.parsed = parsed

    async def finish(self) -> None:
        """Remember the turn's reasoning and store the conversation (before the last bytes
        go out: the client's next request may name this response at once)."""
        x = self.exchange
        self.gateway.remember(x)
        await self.gateway.reasoning_saved(x)  # another gateway may get the next turn
        if self.parsed.store:
            turn = Message("assistant", x.turn.parts)
            self.gateway.responses.remember(
                self.shell.response_id, x.request.request_id, (*self.parsed.history, turn)
            )


def _error_code(status: int) -> str:
    return "rate_limit_exceeded" if status == 429 else "server_error"


class StreamingResponses(_ResponsesSink):
    async def respond(self, send: Send) -> None:
        x = self.exchange
        started = x.started
        assert started is not None
        events = self.events
        enc = ResponseStreamEncoder(self.shell)
        self.first = first = asyncio.ensure_future(events.__anext__())
        await asyncio.wait((first,), timeout=HEAD_DELAY_S)
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await send({"type": "http.response.body", "body": enc.start(started), "more_body": True})
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
            elif isinstance(event, ToolCallStart):
                chunk = enc.tool_call_start(event)
            elif isinstance(event, ToolCallDelta):
                chunk = enc.tool_call_delta(event)
            elif isinstance(event, ToolCallEnd):
                chunk = enc.tool_call_end(event)
            elif isinstance(event, Finished):
                await self.finish()
                chunk = enc.finished(
                    started, event, x.usage, x.prompt_tokens(), x.notes, self.gateway.cost(x)
                )
                break
            elif isinstance(event, Failed):
                failed = self._redacted(event)
                chunk = enc.failed(started, failed, _error_code(failure_status(failed)))
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


class CollectedResponses(_ResponsesSink):
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
            await self.finish()
            status = 200
            incomplete = incomplete_reason(terminal)
            body = response_object(
                self.shell,
                model=started.model,
                status="incomplete" if incomplete else "completed",
                output=output_items(self.shell, x.turn.parts),
                usage=usage_json(x.usage, x.prompt_tokens()),
                incomplete=incomplete,
                ponder=ponder_extra(started, terminal, x.usage, x.notes, self.gateway.cost(x)),
            )
        else:
            failed = self._redacted(
                terminal
                if isinstance(terminal, Failed)
                else Failed("ponder", "stream_incomplete", "the stream ended without finishing")
            )
            status = failure_status(failed)
            body = error_body(failed.message, error_type(failed.side), failed.code, failed.param)
        await _send_json(send, status, body, self)


async def _send_json(
    send: Send, status: int, body: Mapping[str, Any], sink: ExchangeResponse
) -> None:
    payload = json.dumps(body).encode()
    sink.flags["done"] = True
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
