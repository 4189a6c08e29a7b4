"""Shared by the scale-out benchmarks: a throwaway PostgreSQL, a minimal streaming upstream,
``ponder serve`` subprocesses and a streaming client. Not a benchmark itself."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ENSURE_POSTGRES = ROOT / "scripts" / "ensure_postgres.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer")


@contextmanager
def postgres(dsn: str | None = None) -> Iterator[str]:
    """``dsn`` as given, or a fresh durable cluster (fsync on, defaults) for the run."""
    if dsn:
        yield dsn
        return
    directory = Path(tempfile.mkdtemp(prefix="ponder-bench-pg-"))
    port = free_port()
    out = subprocess.run(["bash", str(ENSURE_POSTGRES), "start", str(directory), str(port)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    try:
        yield out.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(ENSURE_POSTGRES), "stop", str(directory)], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


# -- a minimal OpenAI-compatible upstream (its own process) ----------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deltas: int,
                  interval_s: float) -> None:  # fmt: skip
    prefix = b'data: {"id":"up","object":"chat.completion.chunk","created":0,"model":"b",'
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
            )
            for i in range(deltas):
                if interval_s and i:
                    await asyncio.sleep(interval_s)
                delta: dict[str, str] = {"content": f"word{i} "}
                if i == 0:
                    delta["role"] = "assistant"
                frame = prefix + b'"choices":[{"index":0,"delta":' + json.dumps(delta).encode()
                frame += b',"finish_reason":null}]}\n\n'
                writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                await writer.drain()
            tail = prefix + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            tail += b"data: [DONE]\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def run_upstream(port: int, deltas: int, interval_ms: float) -> None:
    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, deltas, interval_ms / 1000), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@contextmanager
def upstream(deltas: int = 8, interval_ms: float = 0.0) -> Iterator[str]:
    port = free_port()
    here = Path(__file__).resolve()
    proc = subprocess.Popen([sys.executable, str(here), "--upstream", str(port), str(deltas),
                             str(interval_ms)])  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(15)


def write_config(directory: Path, base_url: str) -> Path:
    path = directory / "ponder.toml"
    text = f'[models.fast]\nprovider = "openai"\nbase_url = "{base_url}"\nmodel = "bench"\n'
    path.write_text(text + "thinking = { enabled = false }\n", encoding="utf-8")
    return path


@contextmanager
def gateways(config: Path, store_args: Sequence[Sequence[str]]) -> Iterator[list[str]]:
    """One ``ponder serve`` per entry of ``store_args`` (``--db …`` or ``--no-store``)."""
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    env = {**os.environ, "PONDER_API_KEY": "", "PYTHONPATH": str(ROOT / "src")}
    try:
        for extra in store_args:
            port = free_port()
            command = [sys.executable, "-m", "ponder", "--config", str(config), "serve",
                       "--port", str(port), *extra]  # fmt: skip
            procs.append(subprocess.Popen(command, env=env))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_http(url + "/healthz")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def stream_once(client: httpx.AsyncClient, url: str) -> tuple[float, str]:
    """(TTFT ms as the client sees it, the gateway's request id) for one streamed request."""
    body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    sent = time.perf_counter_ns()
    ttft: float | None = None
    async with client.stream("POST", url + "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        request_id = response.headers["x-ponder-request-id"]
        tail = ""
        async for line in response.aiter_lines():
            if ttft is None and "word0" in line:
                ttft = (time.perf_counter_ns() - sent) / 1e6
            if line:
                tail = line
    if ttft is None or tail != "data: [DONE]":
        raise RuntimeError(f"stream from {url} ended early")
    return ttft, request_id


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--upstream":
        run_upstream(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
