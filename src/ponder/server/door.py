"""What every front door shares: reading the body, opening the engine's stream, and the two
ways of answering (:class:`StreamingSink`, :class:`CollectedSink`).

The sinks are plain ASGI callables so the stream path stays short: each event is one
encode and one ``send``. A watcher task listens for the client going away and cancels the
response task, which closes the engine's stream (and so the provider's upstream request) at
once; the trace then says ``client_disconnected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ponder.errors import redact
from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Started,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ponder.request import ChatRequest
from ponder.server.conversations import conversation_headers
from ponder.server.errors import BodyTooLargeError, failure_status
from ponder.server.exchange import Exchange
from ponder.server.gateway import Gateway
from ponder.server.middleware import BODY_SEND
from ponder.server.otel import trace_context
from ponder.store.record import TraceStatus

# How long the response head (and the opening frame) may wait for the upstream request to
# go out first; far below anything a person or a UI could notice.
HEAD_DELAY_S = 0.001
SSE_HEADERS = [
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


class PrefetchedEvents:
    """The engine's stream with its next event already being pulled, in a task of its own.

    Made as soon as the ``started`` event is in: the provider then builds and sends its
    upstream request while the door returns its response and the server starts it, not
    after (measured: a few tens of microseconds of added TTFT). Iterate it as the stream;
    :attr:`pending` is the pull in flight until the first ``__anext__`` takes it.
    """

    __slots__ = ("_source", "pending")

    def __init__(self, source: AsyncIterator[Event]) -> None:
        self._source = source
        self.pending: asyncio.Future[Event] | None = asyncio.ensure_future(anext(source))

    def __aiter__(self) -> PrefetchedEvents:
        return self

    def __anext__(self) -> Awaitable[Event]:
        # Not a coroutine: after the first event the engine's stream is awaited directly,
        # with no frame of this class resumed per event.
        pending = self.pending
        if pending is not None:
            self.pending = None
            return pending  # raises StopAsyncIteration when the stream had nothing more
        return self._source.__anext__()

    async def aclose(self) -> None:
        """Cancel the pull in flight (if any), then close the engine's stream."""
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await _aclose(self._source)


class EarlyFailure(Exception):
    def __init__(self, event: Failed) -> None:
        self.event = event


async def open_stream(
    gateway: Gateway,
    chat: ChatRequest,
    stream: bool,
    door: str = "chat_completions",
    notes: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> tuple[Exchange, AsyncIterator[Event]]:
    """Every door's start of a request: restore dropped reasoning, open the exchange, start
    the engine's stream and wait for its ``started`` event (the route is chosen), then let
    the provider send its upstream request (:class:`PrefetchedEvents`). Raises
    :class:`EarlyFailure` (the exchange already closed) when the stream failed before
    ``started``: the door answers with an error status instead of a stream."""
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
    prefetched = PrefetchedEvents(events)
    try:
        # Let the pull run now: the provider sends its request before the door goes on.
        await asyncio.sleep(0)
    except BaseException:  # cancelled here (a shutdown): nothing else will close them
        await prefetched.aclose()
        gateway.close_exchange(exchange, "interrupted")
        raise
    return exchange, prefetched


async def _aclose(events: AsyncIterator[Event]) -> None:
    """Close the engine's stream: runs the provider's cleanup, cancelling its upstream call."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


class ExchangeResponse:
    """Runs :meth:`respond` while a watcher cancels it if the client disconnects, then closes
    the exchange (trace, metrics) however it ended. Each door's sinks subclass it, mostly
    through :class:`StreamingSink` and :class:`CollectedSink`."""

    def __init__(self, gateway: Gateway, exchange: Exchange, events: AsyncIterator[Event]) -> None:
        self.gateway = gateway
        self.exchange = exchange
        self.events = events
        # "done": the last byte is on its way, a disconnect now is the normal end;
        # "gone": the client went away first.
        self.flags = {"done": False, "gone": False}
        self._body_send: Send | None = None  # see body_send

    async def respond(self, send: Send) -> None:
        raise NotImplementedError

    async def on_finished(self) -> None:
        """The stream finished: remember the turn's reasoning and what the door keeps of it
        (:meth:`keep_turn`), and wait until both are in the database, before the last bytes go
        out (the client's next request may come at once, and to another gateway)."""
        self.gateway.remember(self.exchange)
        self.keep_turn()
        await self.gateway.turn_saved(self.exchange)

    def keep_turn(self) -> None:
        """What a door keeps of a finished turn for the next, beside its reasoning (none)."""

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
        responder = asyncio.create_task(self._respond_and_close(send))

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not flags["done"]:
                        flags["gone"] = True
                        responder.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            # Cancelling this task (a shutdown) cancels the responder it waits for.
            await responder
        except asyncio.CancelledError:
            if here.cancelling():
                raise
            # Else the watcher cancelled the responder: the client is gone, nothing to send.
        finally:
            watcher.cancel()

    async def _respond_and_close(self, send: Send) -> None:
        """:meth:`respond`, then the exchange closed in the same task, right after the last
        bytes: a client that asks for the trace as soon as its stream ends finds it."""
        flags = self.flags
        status: TraceStatus = "error"
        try:
            await self.respond(send)
            flags["done"] = True
            status = self.exchange.status()
        except asyncio.CancelledError:
            status = "client_disconnected" if flags["gone"] else "interrupted"
            raise
        except OSError:
            status = "client_disconnected"
        finally:
            flags["done"] = True
            await _aclose(self.events)  # a pull still in flight is cancelled first
            self.gateway.close_exchange(self.exchange, status)

    def _redacted(self, event: Failed) -> Failed:
        return dataclasses.replace(event, message=redact(event.message, self.gateway.secrets))


class EventEncoder(Protocol):
    """A door's stream encoder for the events between its opening and its last frame."""

    def thinking(self, event: Thinking) -> bytes: ...
    def answer(self, text: str) -> bytes: ...
    def tool_call_start(self, event: ToolCallStart) -> bytes: ...
    def tool_call_delta(self, event: ToolCallDelta) -> bytes: ...
    def tool_call_end(self, event: ToolCallEnd) -> bytes: ...


def encode_event(enc: EventEncoder, event: Event) -> bytes:
    """The frame ``enc`` writes for ``event`` (b"" for the kinds a door does not send)."""
    if isinstance(event, Thinking):
        return enc.thinking(event)
    if isinstance(event, Answer):
        return enc.answer(event.text)
    if isinstance(event, ToolCallStart):
        return enc.tool_call_start(event)
    if isinstance(event, ToolCallDelta):
        return enc.tool_call_delta(event)
    if isinstance(event, ToolCallEnd):
        return enc.tool_call_end(event)
    return b""


class StreamingSink(ExchangeResponse):
    """A door's streamed response: the head, one frame per event, a last frame.

    A door says what its frames are: :meth:`opening` (with the response head), :meth:`frame`
    for each event in between (it also takes the event into the exchange), and the last
    frame, :meth:`finished_frame` or :meth:`failed_frame`, followed by :attr:`closing`.
    """

    headers: Sequence[tuple[bytes, bytes]] = SSE_HEADERS
    closing = b""

    def opening(self, started: Started) -> bytes:
        raise NotImplementedError

    def frame(self, event: Event) -> bytes:
        """The bytes for one event before the last (b"": nothing to send)."""
        raise NotImplementedError

    def finished_frame(self, event: Finished) -> bytes:
        raise NotImplementedError

    def failed_frame(self, event: Failed) -> bytes:
        """``event`` has its message redacted already."""
        raise NotImplementedError

    async def respond(self, send: Send) -> None:
        x = self.exchange
        started = x.started
        assert started is not None
        events = self.events
        # Let the provider put its request on the wire before we write our first bytes: our
        # response head then goes out while the upstream thinks, off the critical path.
        pending = getattr(events, "pending", None)
        if pending is not None:
            await asyncio.wait((pending,), timeout=HEAD_DELAY_S)
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.opening(started), "more_body": True})
        send = self.body_send(send)
        chunk = b""
        try:
            event: Event | None = await events.__anext__()
        except StopAsyncIteration:
            event = None
        while event is not None:
            kind = event.type
            if kind == "finished":
                assert isinstance(event, Finished)
                x.terminal = event
                await self.on_finished()
                chunk = self.finished_frame(event)
                break
            if kind == "failed":
                assert isinstance(event, Failed)
                x.terminal = event
                chunk = self.failed_frame(self._redacted(event))
                break
            chunk = self.frame(event)
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = b""
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                break
        # The last frame, the closing and the end of the body go out in one write.
        self.flags["done"] = True
        await send({"type": "http.response.body", "body": chunk + self.closing, "more_body": False})


class CollectedSink(ExchangeResponse):
    """A door's whole-response answer: every event taken in, then one JSON body."""

    extra_headers: Sequence[tuple[bytes, bytes]] = ()

    def success_body(self, finished: Finished) -> Mapping[str, Any]:
        raise NotImplementedError

    def failure_body(self, failed: Failed, status: int) -> Mapping[str, Any]:
        """``failed`` has its message redacted already."""
        raise NotImplementedError

    async def respond(self, send: Send) -> None:
        x = self.exchange
        async for event in self.events:
            x.observe(event)
            if event.type == "finished" or event.type == "failed":
                break
        terminal = x.terminal
        if isinstance(terminal, Finished):
            await self.on_finished()
            status, body = 200, self.success_body(terminal)
        else:
            failed = self._redacted(
                terminal
                if isinstance(terminal, Failed)
                else Failed("ponder", "stream_incomplete", "the stream ended without finishing")
            )
            status = failure_status(failed)
            body = self.failure_body(failed, status)
        payload = json.dumps(body).encode()
        self.flags["done"] = True
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            *self.extra_headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload, "more_body": False})
