"""A real HTTP/1.1 server on 127.0.0.1 that replays recorded byte streams on a schedule.

It runs its own event loop in a background thread, so the code under test talks to it over a
real socket exactly as it would to a provider. Each route answers with a :class:`Reply`: a
status, headers, and body chunks, each sent ``at_ms`` after the request arrived (absolute
times, so scheduling jitter does not add up), in chunked transfer encoding. ``drop=True``
closes the connection after the last chunk without finishing the body (a connection that
dies mid-stream). A route may instead be a :data:`Responder`, a function of the recorded
request that returns the reply (``tests/upstream_recorder.py`` uses it to validate bodies as the
real APIs do). Every request is recorded for assertions on what was sent.

Fixtures of recorded wire traffic live in ``tests/fixtures/wire/``; :func:`sse_chunks` and
:func:`ndjson_chunks` cut them into the pieces a server would flush one by one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

WIRE = Path(__file__).parent / "fixtures" / "wire"


@dataclass
class Reply:
    status: int = 200
    chunks: Sequence[tuple[float, bytes]] = ()  # (at_ms after the request, bytes)
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    head_delay_ms: float = 0.0  # before the status line (a server slow to answer at all)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_ns: int = 0  # time.perf_counter_ns() when the request was read (its schedule's zero)

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Recorded], Reply]


def wire(name: str) -> bytes:
    return (WIRE / name).read_bytes()


def sse_chunks(name: str) -> list[bytes]:
    """A recorded SSE body cut after each event (each blank line), as servers flush it."""
    data = wire(name).replace(b"\r\n", b"\n")
    parts = [p + b"\n\n" for p in data.split(b"\n\n") if p.strip()]
    return parts


def ndjson_chunks(name: str) -> list[bytes]:
    return [line + b"\n" for line in wire(name).splitlines() if line.strip()]


def schedule(chunks: Sequence[bytes], gaps_ms: Sequence[float]) -> list[tuple[float, bytes]]:
    """Chunks with cumulative send times from per-chunk gaps (the last gap repeats)."""
    out, at = [], 0.0
    for i, chunk in enumerate(chunks):
        at += gaps_ms[min(i, len(gaps_ms) - 1)]
        out.append((at, chunk))
    return out


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    data = json.dumps(body).encode()
    return Reply(status, [(0, data)], "application/json", headers or {})


class ReplayServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply | Responder] = {}
        self.requests: list[Recorded] = []
        self.disconnects = 0  # responses the client hung up on before they were complete
        self.connections = 0  # TCP connections accepted (a pooled client reuses one)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    # -- control (called from the test thread)

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            current = asyncio.current_task()
            handlers = [t for t in asyncio.all_tasks() if t is not current]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, reply: Reply | Responder) -> None:
        self.routes[(method, path)] = reply

    def reset(self) -> None:
        self.routes.clear()
        self.requests.clear()
        self.disconnects = 0
        self.connections = 0

    # -- serving (the server thread)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                start = self._loop.time()
                path = target.split("?", 1)[0]
                recorded = Recorded(method, path, headers, body, time.perf_counter_ns())
                self.requests.append(recorded)
                route = self.routes.get((method, path)) or json_reply(
                    404, {"error": {"message": f"no route for {method} {path}"}}
                )
                reply = route if isinstance(route, Reply) else route(recorded)
                try:
                    await self._respond(writer, reply, start)
                except ConnectionError:
                    self.disconnects += 1
                    return
                if reply.drop:
                    writer.transport.abort()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, reply: Reply, start: float) -> None:
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Status"
        head = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Content-Type: {reply.content_type}",
            "Transfer-Encoding: chunked",
            "Cache-Control: no-cache",
            *(f"{k}: {v}" for k, v in reply.headers.items()),
        ]
        if reply.head_delay_ms:
            await asyncio.sleep(reply.head_delay_ms / 1000)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        for at_ms, data in reply.chunks:
            delay = start + at_ms / 1000 - self._loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if writer.is_closing() or writer.transport.get_extra_info("socket") is None:
                raise ConnectionResetError("client went away")
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        if not reply.drop:
            writer.write(b"0\r\n\r\n")
            await writer.drain()


@pytest.fixture(scope="session")
def _replay_session() -> Iterator[ReplayServer]:
    server = ReplayServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def replay(_replay_session: ReplayServer) -> Iterator[ReplayServer]:
    """The replay server, with no routes and no recorded requests."""
    _replay_session.reset()
    yield _replay_session
    _replay_session.reset()
