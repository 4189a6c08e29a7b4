"""A real HTTP server on loopback that plays one upstream fault per URL path.

An OpenAI-compatible Chat Completions upstream (``POST /<fault>/v1/chat/completions``)
written on raw asyncio streams, so each fault is exactly the bytes (and the timing, and the
TCP ending) a broken provider would produce. Every response ends by closing the connection
(``Connection: close``), so after a request no socket of ours stays open.

Faults (see :data:`FAULTS`): ``ok``, ``reset`` (a TCP reset in the middle of the thoughts),
``silent`` (reads the request, sends nothing), ``stall`` (one thought, then nothing),
``ratelimited`` (429 with ``Retry-After: 1`` on its first hit, then ``ok``), ``http500``,
``http502``, ``http503``, ``http529``, ``malformed`` (a ``data:`` line that is not JSON),
``utf8`` (a character split across two writes, and an invalid byte), ``huge`` (one 10 MB
chunk), ``endless`` (thoughts that never end), ``dribble`` (one byte per second). A
connection refused needs no server: :func:`refused_url` names a port nothing listens on.

Also runnable (``python -m tests.faults --port N``) for the soak benchmark, where
``mixed`` answers ``ok`` except for a seeded ``--fault-rate`` share of faults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

HUGE_BYTES = 10 * 1024 * 1024
OK_THOUGHTS = ("Reading the question. ", "Checking the numbers. ")


def refused_url() -> str:
    """A base URL on which nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "fault", "object": "chat.completion.chunk", "model": "fault",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"connection: close\r\n\r\n"
)


def ok_body(model: str) -> bytes:
    parts = [chunk({"role": "assistant", "reasoning_content": OK_THOUGHTS[0]})]
    parts.append(chunk({"reasoning_content": OK_THOUGHTS[1]}))
    parts.append(chunk({"content": f"answer from {model}"}))
    parts.append(chunk({}, "stop"))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def status_reply(status: int, message: str, headers: dict[str, str] | None = None) -> bytes:
    body = json.dumps({"error": {"message": message, "type": "fault", "code": None}}).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"HTTP/1.1 {status} Fault\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode() + body


Writer = asyncio.StreamWriter
Play = Callable[["FaultServer", Writer, dict[str, Any], int], Awaitable[None]]


async def _ok(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    w.write(SSE_HEAD + ok_body(str(body.get("model"))))
    await w.drain()


async def _reset(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    w.write(SSE_HEAD + chunk({"role": "assistant", "reasoning_content": "Half a thought"}))
    await w.drain()
    await asyncio.sleep(0.05)
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    w.transport.abort()


async def _silent(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    await asyncio.sleep(3600)


async def _stall(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    w.write(SSE_HEAD + chunk({"role": "assistant", "reasoning_content": "Started, then"}))
    await w.drain()
    await asyncio.sleep(3600)


async def _ratelimited(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    if hit == 1:
        w.write(status_reply(429, "Rate limit reached; slow down.", {"retry-after": "1"}))
        await w.drain()
        return
    await _ok(server, w, body, hit)


def _status(status: int) -> Play:
    async def play(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
        w.write(status_reply(status, f"upstream fault {status}"))
        await w.drain()

    return play


async def _malformed(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    w.write(SSE_HEAD + chunk({"role": "assistant", "reasoning_content": "A thought. "}))
    w.write(b'data: {"choices": [{"delta": {"content": "bro\n\n')
    w.write(chunk({"content": "never read"}) + b"data: [DONE]\n\n")
    await w.drain()


async def _utf8(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    # "café" with the two bytes of é in two writes, then an invalid byte (0xff).
    frame = chunk({"content": "caf\u00e9 \u00ff!"}).replace(b"\\u00e9", "é".encode())
    frame = frame.replace(b"\\u00ff", b"\xff")
    cut = frame.index("é".encode()) + 1
    w.write(SSE_HEAD + chunk({"role": "assistant", "reasoning_content": "Accents. "}))
    w.write(frame[:cut])
    await w.drain()
    await asyncio.sleep(0.05)
    w.write(frame[cut:] + chunk({}, "stop") + b"data: [DONE]\n\n")
    await w.drain()


async def _huge(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    w.write(SSE_HEAD + chunk({"role": "assistant", "content": "x" * HUGE_BYTES}))
    w.write(chunk({}, "stop") + b"data: [DONE]\n\n")
    await w.drain()


async def _endless(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    w.write(SSE_HEAD)
    n = 0
    while True:
        w.write(chunk({"reasoning_content": f"Thought {n}. "}))
        await w.drain()
        n += 1
        await asyncio.sleep(0.05)


async def _dribble(server: FaultServer, w: Writer, body: dict[str, Any], hit: int) -> None:
    for byte in SSE_HEAD + ok_body(str(body.get("model"))):
        w.write(bytes([byte]))
        await w.drain()
        await asyncio.sleep(1.0)


FAULTS: dict[str, Play] = {
    "ok": _ok,
    "reset": _reset,
    "silent": _silent,
    "stall": _stall,
    "ratelimited": _ratelimited,
    "http500": _status(500),
    "http502": _status(502),
    "http503": _status(503),
    "http529": _status(529),
    "malformed": _malformed,
    "utf8": _utf8,
    "huge": _huge,
    "endless": _endless,
    "dribble": _dribble,
}
# What the soak mixes into its share of faulty responses: the ones that end on their own
# or by a gateway deadline the soak config sets (the slow ones would only idle clients).
SOAK_FAULTS = ("reset", "stall", "ratelimited", "http500", "http503", "http529", "malformed",
               "utf8", "silent")  # fmt: skip


FAST_RETRY = "retries = { attempts = 2, backoff_ms = 10 }"


def fault_config(faults: FaultServer) -> str:
    """The gateway's ponder.toml for the fault suite: one model per fault, with the policy
    that fault calls for, and ``backup`` (the clean path) as the fallback where one helps."""
    def model(name: str, url: str, *lines: str) -> str:
        body = "\n".join(lines)
        return f'[models.{name}]\nprovider = "openai"\nbase_url = "{url}"\n{body}\n'

    backup = 'fallbacks = ["backup"]'
    parts = [
        model("backup", faults.url("ok"), "retries = { attempts = 1 }"),
        model("refused", refused_url(), FAST_RETRY, backup),
        model("refused_alone", refused_url(), FAST_RETRY),
        model("reset", faults.url("reset"), "retries = { attempts = 3, backoff_ms = 10 }", backup),
        model("silent", faults.url("silent"), FAST_RETRY, "timeouts = { ttft_ms = 300 }", backup),
        model("stall", faults.url("stall"), "timeouts = { idle_ms = 300 }", backup),
        model("ratelimited", faults.url("ratelimited"), FAST_RETRY),
        model("malformed", faults.url("malformed"), FAST_RETRY, backup),
        model("utf8", faults.url("utf8")),
        model("huge", faults.url("huge")),
        model("endless", faults.url("endless"), "timeouts = { ttfa_ms = 400 }", backup),
        model("endless_alone", faults.url("endless"), "timeouts = { ttfa_ms = 400 }"),
        model("dribble", faults.url("dribble"), "retries = { attempts = 1 }",
              "timeouts = { total_ms = 2500 }", backup),
        model("http529_alone", faults.url("http529"), FAST_RETRY),
        model("flaky", faults.url("http503"), "retries = { attempts = 1 }", backup,
              "breaker = { min_requests = 2, failure_rate = 0.5, cooldown_s = 600 }"),
    ]
    for status in (500, 502, 503, 529):
        parts.append(model(f"http{status}", faults.url(f"http{status}"), FAST_RETRY, backup))
    return "\n".join(parts)


class FaultServer:
    """Serves :data:`FAULTS` on a free loopback port from a thread of its own."""

    def __init__(self, port: int = 0, fault_rate: float = 0.1, seed: int = 7) -> None:
        self.port = port
        self.hits: Counter[str] = Counter()
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.mixed: Counter[str] = Counter()  # what ``mixed`` played
        self.open_connections = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def url(self, fault: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fault}/v1"

    def reset(self) -> None:
        self.hits.clear()

    async def handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        self.open_connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            raw = await reader.readexactly(length) if length else b""
            fault = path.strip("/").split("/", 1)[0]
            if method == "GET" and fault == "stats":  # what ``mixed`` played so far
                payload = json.dumps(dict(self.mixed)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                             % (len(payload), payload))  # fmt: skip
                await writer.drain()
                return
            if method == "GET":  # readiness probe: GET /<fault>/v1/models
                writer.write(status_reply(200, "ok") if fault in FAULTS else b"")
                await writer.drain()
                return
            mixed = fault == "mixed"
            if mixed:
                fault = "ok"
                if self.rng.random() < self.fault_rate:
                    fault = self.rng.choice(SOAK_FAULTS)
                self.mixed[fault] += 1
            self.hits[fault] += 1
            hit = 1 if mixed else self.hits[fault]  # in the mix, a 429 is always a 429
            play = FAULTS.get(fault)
            if play is None:
                writer.write(status_reply(404, f"no fault named {fault!r}"))
                await writer.drain()
                return
            # Play until done, or until the client hangs up (a silent or stalled fault
            # would otherwise never notice: it does not read).
            request = json.loads(raw or b"{}")
            playing = asyncio.ensure_future(play(self, writer, request, hit))
            hangup = asyncio.ensure_future(reader.read())
            await asyncio.wait((playing, hangup), return_when=asyncio.FIRST_COMPLETED)
            for task in (playing, hangup):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        async with self._server:
            await self._server.serve_forever()

    def __enter__(self) -> FaultServer:
        def run() -> None:
            self.loop = asyncio.new_event_loop()
            with contextlib.suppress(asyncio.CancelledError):
                self.loop.run_until_complete(self._serve())
            self.loop.close()

        self._thread = threading.Thread(target=run, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop, server = self.loop, self._server
        if loop is not None and server is not None:

            async def stop() -> None:
                server.close()
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task() and task.get_coro().__name__ != "_serve":  # type: ignore[union-attr]
                        task.cancel()

            asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        if self._thread is not None:
            self._thread.join(10)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Whether every connection to us has closed within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.open_connections == 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve upstream faults on loopback.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with FaultServer(args.port, args.fault_rate, args.seed) as server:
        print(f"faults on {server.url('<fault>')}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
