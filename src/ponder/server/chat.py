"""``POST /v1/chat/completions``: parse, route through the engine, stream or collect.

The sinks are :mod:`ponder.server.door`'s, with OpenAI's chunks and body: each delta is one
string escape and one ``send``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ponder.config import AUTO
from ponder.errors import redact
from ponder.events import Event, Failed, Finished, Started
from ponder.server.door import (
    CollectedSink,
    EarlyFailure,
    ExchangeResponse,
    StreamingSink,
    open_stream,
    read_body,
)
from ponder.server.errors import failure_status
from ponder.server.exchange import Exchange
from ponder.server.gateway import Gateway
from ponder.server.parse import parse_body, parse_chat
from ponder.server.wire import DONE, ChunkEncoder, completion_body, error_body, error_type
from ponder.server.wire import failure_extra as failure_json

REQUEST_ID_HEADER = "x-ponder-request-id"


async def chat_completions(request: Request) -> Response | ExchangeResponse:
    gateway: Gateway = request.app.state.gateway
    request_id: str = request.state.request_id
    body = parse_body(await read_body(request, gateway.settings.body_limit))
    parsed = parse_chat(body, request.headers, request_id)
    if parsed.chat.model != AUTO:
        gateway.config.model(parsed.chat.model)  # UnknownModelError -> 404 listing known models
    try:
        exchange, events = await open_stream(
            gateway, parsed.chat, parsed.stream, headers=request.headers
        )
    except EarlyFailure as failure:
        return failure_response(failure.event, gateway.secrets)
    if parsed.stream:
        return StreamingChat(gateway, exchange, events, parsed.include_usage)
    return CollectedChat(gateway, exchange, events)


def failure_response(event: Failed, secrets: tuple[str, ...]) -> Response:
    message = redact(event.message, secrets)
    body = error_body(message, error_type(event.side), event.code, event.param)
    body["ponder"] = failure_json(dataclasses.replace(event, message=message))
    return Response(
        json.dumps(body), status_code=failure_status(event), media_type="application/json"
    )


def _completion_id(exchange: Exchange) -> str:
    return "chatcmpl-" + exchange.request.request_id.removeprefix("req_")


class StreamingChat(StreamingSink):
    closing = DONE

    def __init__(
        self,
        gateway: Gateway,
        exchange: Exchange,
        events: AsyncIterator[Event],
        include_usage: bool,
    ) -> None:
        super().__init__(gateway, exchange, events)
        self.include_usage = include_usage
        self.enc: ChunkEncoder | None = None

    def opening(self, started: Started) -> bytes:
        x = self.exchange
        self.enc = ChunkEncoder(_completion_id(x), started.model, int(x.created_at))
        return self.enc.started(started)

    def frame(self, event: Event) -> bytes:
        # By type tag, answer first: this runs for every chunk (Exchange.observe's isinstance
        # chain is measurable here).
        x, enc = self.exchange, self.enc
        assert enc is not None
        kind = event.type
        if kind == "answer":
            x.answered(event.text, event.at_ns)  # type: ignore[union-attr]
            return enc.answer(event.text)  # type: ignore[union-attr]
        if kind == "thinking":
            x.thought(event)  # type: ignore[arg-type]
            text = event.text  # type: ignore[union-attr]
            return enc.thinking(text) if text else b""
        if kind == "tool_call_start":
            return enc.tool_call_start(event)  # type: ignore[arg-type]
        if kind == "tool_call_delta":
            return enc.tool_call_delta(event)  # type: ignore[arg-type]
        if kind == "progress":
            x.progress.append(event.label)  # type: ignore[union-attr]
            return enc.progress(event)  # type: ignore[arg-type]
        if kind == "notice":
            x.notes.append(event.text)  # type: ignore[union-attr]
            return enc.notice(event)  # type: ignore[arg-type]
        x.observe(event)  # tool_call_end, usage
        return b""

    def finished_frame(self, event: Finished) -> bytes:
        x, enc = self.exchange, self.enc
        assert enc is not None
        chunk = enc.finished(event, x.usage, self.gateway.cost(x))
        if self.include_usage:
            chunk += enc.usage(x.usage, x.prompt_tokens())
        return chunk

    def failed_frame(self, event: Failed) -> bytes:
        assert self.enc is not None
        return self.enc.failed(event)


class CollectedChat(CollectedSink):
    def success_body(self, finished: Finished) -> Mapping[str, Any]:
        x = self.exchange
        assert x.started is not None
        return completion_body(
            completion_id=_completion_id(x),
            created=int(x.created_at),
            started=x.started,
            answer=x.answer_text,
            thinking=x.thinking_text,
            finished=finished,
            usage=x.usage,
            prompt_tokens=x.prompt_tokens(),
            progress=x.progress,
            tool_calls=x.tool_calls,
            notes=x.notes,
            cost=self.gateway.cost(x),
        )

    def failure_body(self, failed: Failed, status: int) -> Mapping[str, Any]:
        body = error_body(failed.message, error_type(failed.side), failed.code, failed.param)
        body["ponder"] = failure_json(failed)
        return body


__all__ = ["REQUEST_ID_HEADER", "chat_completions", "failure_response"]
