"""ponder's own CPU per streamed request, without sockets: the whole ASGI app (middleware,
routing, parsing, engine, policies, the openai provider, meter, encoder, trace store) on one
event loop, its upstream's bytes fed from memory.

``benchmarks/gateway_overhead.py`` measures a gateway as deployed, and on a shared machine
its figures move with the load (a busier process is preempted more and its caches go cold).
This one leaves out uvicorn, aiohttp and the kernel, so what it prints is the part of a
request's cost that ponder's code decides, and moves only with ponder's code: the figure to
watch when changing the hot path. The process's CPU time (every thread: the store writer
included) over ``--rounds`` rounds of ``--requests`` requests, ``--concurrency`` at a time;
each upstream chunk is its own event-loop wake-up, as a streamed response's would be.

Run: ``python benchmarks/pipeline_cpu.py`` (about 20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path
from typing import Any

import uvloop

from ponder.config import load_config
from ponder.providers import streaming
from ponder.server import ServerSettings, create_app
from ponder.server.heap import settle_heap
from ponder.store import TraceWriter, resolve_dsn

CONFIG = """[models.paced]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "bench"
thinking = { enabled = false }
"""
BODY = json.dumps(
    {"model": "paced", "stream": True, "messages": [{"role": "user", "content": "go"}]}
).encode()


def upstream_frames(deltas: int) -> list[bytes]:
    """What an OpenAI-compatible server sends: role, ``deltas`` content chunks, finish, usage."""
    head = b'data: {"id":"up","object":"chat.completion.chunk","created":0,"model":"b",'
    frames = []
    for i in range(deltas):
        role = b'"role":"assistant",' if i == 0 else b""
        frames.append(head + b'"choices":[{"index":0,"delta":{' + role
                      + b'"content":"tok%d "},"finish_reason":null}]}\n\n' % i)  # fmt: skip
    tail = head + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    tail += head + b'"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":%d}}\n\n' % deltas
    frames.append(tail + b"data: [DONE]\n\n")
    return frames


def feed_from_memory(frames: Sequence[bytes]) -> None:
    """Replace the streaming transport with one that yields ``frames``, a wake-up each."""

    async def stream_bytes(
        client: Any, method: str, url: str, body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None, on_start: Any,
    ) -> AsyncGenerator[bytes, None]:  # fmt: skip
        on_start()
        for frame in frames:
            await asyncio.sleep(0)
            yield frame

    streaming.stream_bytes = stream_bytes  # type: ignore[assignment]


async def one_request(app: Any) -> int:
    """One streamed chat completion through the ASGI app; the bytes of its body."""
    sent = False
    size = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal size
        size += len(message.get("body", b""))

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000), "state": {},
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(BODY)).encode())],
    }  # fmt: skip
    await app(scope, receive, send)
    return size


async def measure(args: argparse.Namespace) -> list[float]:
    directory = Path(tempfile.mkdtemp())
    (directory / "ponder.toml").write_text(CONFIG, encoding="utf-8")
    writer = TraceWriter(resolve_dsn(str(directory / "traces.db")))
    app = create_app(load_config(directory / "ponder.toml"), ServerSettings(), writer=writer)
    rounds: list[float] = []
    if not args.default_gc:
        settle_heap()  # as ponder serve does
    try:
        async with app.router.lifespan_context(app):
            assert await one_request(app) > 0  # warm: imports, connections, caches
            for _ in range(args.rounds):
                started = time.process_time()
                for _ in range(args.requests // args.concurrency):
                    await asyncio.gather(*(one_request(app) for _ in range(args.concurrency)))
                rounds.append((time.process_time() - started) * 1e6 / args.requests)
    finally:
        writer.close()
    return rounds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=32, help="content chunks per stream")
    parser.add_argument("--requests", type=int, default=1280, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--default-gc", action="store_true",
                        help="keep CPython's collector settings (ponder serve settles them)")
    args = parser.parse_args(argv)
    feed_from_memory(upstream_frames(args.deltas))
    rounds = uvloop.run(measure(args))
    best, median = min(rounds), statistics.median(rounds)
    print(f"ponder's pipeline, {args.deltas} deltas per stream, {args.concurrency} at a time:"
          f" CPU µs per request, rounds {[round(r) for r in rounds]}")
    print(f"median {median:.0f} µs/request ({median / args.deltas:.1f} µs/chunk);"
          f" best {best:.0f} µs/request (the least disturbed round)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
