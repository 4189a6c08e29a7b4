"""``POST /v1/chat/completions``: parse, route through the engine, stream or collect.

Both responses are plain ASGI callables so the stream path stays short: each delta is one
``json.dumps`` and one ``send``. A watcher task listens for the client going away and
cancels the response task, which closes the engine's stream (and so the provider's
upstream request) at once; the trace then says ``client_disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ponder.config import AUTO
from ponder.errors import redact
from ponder.events import Event, Failed, Finished, Notice, Started, Thinking, ToolCallEnd
from ponder.request import ChatRequest
from ponder.server.conversations import conversation_headers
from ponder.server.errors import BodyTooLargeError, error_response, failure_status
from ponder.server.exchange import Exchange
from ponder.server.gateway import Gateway
from ponder.server.middleware import BODY_SEND
from ponder.server.otel import trace_context
from ponder.server.parse import parse_body, parse_chat
from ponder.server.wire import DONE, ChunkEncoder, completion_body, error_body, error_type
from ponder.server.wire import failure_extra as failure_json
from ponder.store.record import TraceStatus

REQUEST_ID_HEADER = "x-ponder-request-id"
# How long the response head (and the started chunk) may wait for the upstream request to
# go out first; far below anything a person or a UI could notice.
HEAD_DELAY_S = 0.001
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


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
        return _failure_response(failure.event, gateway.secrets)
    if parsed.stream:
        return StreamingChat(gateway, exchange, events, parsed.include_usage)
    return CollectedChat(gateway, exchange, events)


async def open_stream(
    gateway: Gateway,
    chat: ChatRequest,
    stream: bool,
    door: str = "chat_completions",
    notes: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> tuple[Exchange, AsyncIterator[Event]]:
    """Every door's start of a request: restore dropped reasoning, open the exchange, start
    the engine's stream and wait for its ``started`` event (the upstream request is out).
    Raises :class:`EarlyFailure` (the exchange already closed) when the stream failed
    before that: the door answers with an error status instead of a stream."""
    chat, restored = await gateway.reasoning.restore(chat)
    gateway.admit()  # OverloadedError -> 429 + Retry-After at the in-flight cap
    exchange = Exchange(chat, stream, door)
    if headers is not None:
        exchange.trace_context = trace_context(headers)  # the caller's W3C trace, if any
        exchange.conversation_id, exchange.turn_index = conversation_headers(headers)
    exchange.notes.extend(notes)
    exchange.notes.extend(restored)
    events = gateway.engine.stream(chat)
    gateway.open_exchange(exchange)
    try:
        async for event in events:
            if isinstance(event, Started):
                exchange.started = event
                break
            if isinstance(event, Failed):  # failed before anything was sent upstream
                exchange.terminal = event
                raise EarlyFailure(event)
    except BaseException:
        await _aclose(events)
        gateway.close_exchange(exchange, "error")
        raise
    return exchange, events


async def _aclose(events: AsyncIterator[Event]) -> None:
    """Close the engine's stream: runs the provider's cleanup, cancelling its upstream call."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


class EarlyFailure(Exception):
    def __init__(self, event: Failed) -> None:
        self.event = event


def _failure_response(event: Failed, secrets: tuple[str, ...]) -> Response:
    message = redact(event.message, secrets)
    body = error_body(message, error_type(event.side), event.code, event.param)
    body["ponder"] = failure_json(dataclasses.replace(event, message=message))
    return Response(
        json.dumps(body), status_code=failure_status(event), media_type="application/json"
    )


class ExchangeResponse:
    """Runs :meth:`respond` while a watcher cancels it if the client disconnects, then closes
    the exchange (trace, metrics) however it ended. Each door's sinks subclass it."""

    def __init__(self, gateway: Gateway, exchange: Exchange, events: AsyncIterator[Event]) -> None:
        self.gateway = gateway
        self.exchange = exchange
        self.events = events
        self.completion_id = "chatcmpl-" + exchange.request.request_id.removeprefix("req_")
        # "done": the last byte is on its way, a disconnect now is the normal end;
        # "gone": the client went away first.
        self.flags = {"done": False, "gone": False}
        self.first: asyncio.Future[Event] | None = None  # the first event, pulled in a task
        self._body_send: Send | None = None  # see body_send

    async def respond(self, send: Send) -> None:
        raise NotImplementedError

    def body_send(self, send: Send) -> Send:
        """Where the body frames go once the head is out (see ``middleware.BODY_SEND``)."""
        return self._body_send or send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        here = asyncio.current_task()
        assert here is not None
        flags = self.flags
        # The stream runs in a task of its own. Every upstream chunk wakes the task that
        # reads it, and a wake-up resumes each coroutine frame it is awaited through: run
        # here, that would be a dozen frames of server, middleware and routing per chunk.
        self._body_send = scope.get("state", {}).get(BODY_SEND)
        responder = asyncio.create_task(self.respond(send))

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not flags["done"]:
                        flags["gone"] = True
                        responder.cancel()
                    return

        watcher = asyncio.create_task(watch())
        status: TraceStatus = "error"
        try:
            # Cancelling this task (a shutdown) cancels the responder it waits for.
            await responder
            flags["done"] = True
            status = self.exchange.status()
        except asyncio.CancelledError:
            if flags["gone"] and not here.cancelling():
                status = "client_disconnected"
            else:
                status = "interrupted"
                raise
        except OSError:
            status = "client_disconnected"
        finally:
            flags["done"] = True
            watcher.cancel()
            if self.first is not None and not self.first.done():
                self.first.cancel()
                with contextlib.suppress(BaseException):
                    await self.first
            await _aclose(self.events)
            self.gateway.close_exchange(self.exchange, status)

    def _redacted(self, event: Failed) -> Failed:
        return dataclasses.replace(event, message=redact(event.message, self.gateway.secrets))


class StreamingChat(ExchangeResponse):
    def __init__(
        self,
        gateway: Gateway,
        exchange: Exchange,
        events: AsyncIterator[Event],
        include_usage: bool,
    ) -> None:
        super().__init__(gateway, exchange, events)
        self.include_usage = include_usage

    async def respond(self, send: Send) -> None:
        x = self.exchange
        started = x.started
        assert started is not None
        events = self.events
        enc = ChunkEncoder(self.completion_id, started.model, int(x.created_at))
        # Let the provider put its request on the wire before we write our first bytes: our
        # response head then goes out while the upstream thinks, off the critical path.
        self.first = first = asyncio.ensure_future(events.__anext__())
        await asyncio.wait((first,), timeout=HEAD_DELAY_S)
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        await send({"type": "http.response.body", "body": enc.started(started), "more_body": True})
        send = self.body_send(send)
        chunk = b""
        try:
            event = await first
        except StopAsyncIteration:
            event = None
        while event is not None:
            kind = event.type
            if kind == "answer":
                x.answered(event.text, event.at_ns)  # type: ignore[union-attr]
                chunk = enc.answer(event.text)  # type: ignore[union-attr]
            elif kind == "thinking":
                x.thought(event)  # type: ignore[arg-type]
                text = event.text  # type: ignore[union-attr]
                chunk = enc.thinking(text) if text else b""
            elif kind == "tool_call_start":
                chunk = enc.tool_call_start(event)  # type: ignore[arg-type]
            elif kind == "tool_call_delta":
                chunk = enc.tool_call_delta(event)  # type: ignore[arg-type]
            elif kind == "tool_call_end":
                x.called(event)  # type: ignore[arg-type]
                chunk = b""
            elif kind == "notice":
                x.notes.append(event.text)  # type: ignore[union-attr]
                chunk = enc.notice(event)  # type: ignore[arg-type]
            elif kind == "progress":
                x.progress.append(event.label)  # type: ignore[union-attr]
                chunk = enc.progress(event)  # type: ignore[arg-type]
            elif kind == "finished":
                assert isinstance(event, Finished)
                x.terminal = event
                self.gateway.remember(x)
                await self.gateway.reasoning_saved(x)  # another gateway may get the next turn
                chunk = enc.finished(event, x.usage, self.gateway.cost(x))
                if self.include_usage:
                    chunk += enc.usage(x.usage, x.prompt_tokens())
                break
            elif kind == "failed":
                assert isinstance(event, Failed)
                x.terminal = event
                chunk = enc.failed(self._redacted(event))
                break
            else:
                if kind == "usage":
                    x.usage = event  # type: ignore[assignment]
                chunk = b""
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = b""
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                break
        # The last event, [DONE] and the end of the body go out in one write.
        self.flags["done"] = True
        await send({"type": "http.response.body", "body": chunk + DONE, "more_body": False})


class CollectedChat(ExchangeResponse):
    async def respond(self, send: Send) -> None:
        x = self.exchange
        started = x.started
        assert started is not None
        async for event in self.events:
            if event.type == "answer":
                x.answered(event.text, event.at_ns)  # type: ignore[union-attr]
            elif isinstance(event, Thinking):
                x.thought(event)
            elif isinstance(event, ToolCallEnd):
                x.called(event)
            elif isinstance(event, Notice):
                x.notes.append(event.text)
            elif event.type == "progress":
                x.progress.append(event.label)  # type: ignore[union-attr]
            elif event.type == "usage":
                x.usage = event  # type: ignore[assignment]
            elif isinstance(event, Finished | Failed):
                x.terminal = event
                break
        terminal = x.terminal
        body: dict[str, Any]
        if isinstance(terminal, Finished):
            self.gateway.remember(x)
            await self.gateway.reasoning_saved(x)
            status = 200
            body = completion_body(
                completion_id=self.completion_id,
                created=int(x.created_at),
                started=started,
                answer=x.answer_text,
                thinking=x.thinking_text,
                finished=terminal,
                usage=x.usage,
                prompt_tokens=x.prompt_tokens(),
                progress=x.progress,
                tool_calls=x.tool_calls,
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
            body = error_body(failed.message, error_type(failed.side), failed.code, failed.param)
            body["ponder"] = failure_json(failed)
        payload = json.dumps(body).encode()
        self.flags["done"] = True
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


__all__ = [
    "REQUEST_ID_HEADER",
    "EarlyFailure",
    "ExchangeResponse",
    "chat_completions",
    "error_response",
    "open_stream",
    "read_body",
]
