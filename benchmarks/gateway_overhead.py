"""What ponder adds to latency: the same local upstream, streamed directly and through
``ponder serve``.

The upstream is a minimal OpenAI-compatible SSE server (raw asyncio, its own process) that
streams ``--deltas`` answer deltas ``--interval-ms`` apart. Each delta's text carries the
upstream's ``time.monotonic_ns()`` at send time, and the clock is shared by every process
on the machine, so the client measures per-chunk latency (emitted upstream -> read by the
client) the same way on both paths. ponder runs as a real ``ponder serve`` subprocess with
the ``openai`` provider pointed at the upstream (trace store on, as deployed).

Reported, for direct and through ponder:

* TTFT: request sent -> first answer delta read by the client;
* per-chunk latency: upstream send -> client read, every delta;
* sequential (one stream at a time) and at ``--concurrency`` concurrent streams;
* requests/s at saturation: ``--concurrency`` clients in a loop with no delta interval.

Run: ``python benchmarks/gateway_overhead.py`` (about a minute; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# -- the upstream ---------------------------------------------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deltas: int,
                  interval_s: float) -> None:  # fmt: skip
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = json.loads(await reader.readexactly(length)) if length else {}
            n = int(body.get("n_deltas") or deltas)
            interval = float(body.get("interval_s", interval_s))
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
            )
            prefix = b'data: {"id":"up","object":"chat.completion.chunk","created":0,"model":"b",'
            for i in range(n):
                if interval:
                    await asyncio.sleep(interval)
                delta = {"content": f"{time.monotonic_ns()} "}
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


# -- the client -----------------------------------------------------------------------------


@dataclass
class Sample:
    ttft_ms: float
    chunk_ms: list[float] = field(default_factory=list)


async def one_stream(client: httpx.AsyncClient, url: str, extra: dict[str, object]) -> Sample:
    body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    body.update(extra)
    sent = time.monotonic_ns()
    ttft: float | None = None
    chunks: list[float] = []
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            now = time.monotonic_ns()
            obj = json.loads(line[6:])
            choices = obj.get("choices") or []
            content = choices[0].get("delta", {}).get("content") if choices else None
            if not content:
                continue
            if ttft is None:
                ttft = (now - sent) / 1e6
            chunks.append((now - int(content.split()[0])) / 1e6)
    assert ttft is not None, "no content arrived"
    return Sample(ttft, chunks)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def sequential(direct_url: str, ponder_url: str, n: int) -> tuple[list[Sample], list[Sample]]:
    """One stream at a time, alternating direct and through ponder (so load drift on a
    shared machine hits both paths alike)."""
    direct: list[Sample] = []
    ponder: list[Sample] = []
    async with httpx.AsyncClient(timeout=60) as client:
        await one_stream(client, direct_url, {})  # warm the connections
        await one_stream(client, ponder_url, {})
        for _ in range(n):
            direct.append(await one_stream(client, direct_url, {}))
            ponder.append(await one_stream(client, ponder_url, {}))
    return direct, ponder


async def concurrent(url: str, n: int, rounds: int) -> list[Sample]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(one_stream(client, url, {}) for _ in range(n)))  # warm
        samples: list[Sample] = []
        for _ in range(rounds):
            samples += await asyncio.gather(*(one_stream(client, url, {}) for _ in range(n)))
        return samples


async def saturation(url: str, n: int, seconds: float) -> float:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    extra = {"interval_s": 0}
    done = 0
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(one_stream(client, url, extra) for _ in range(n)))  # warm
        end = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < end:
                await one_stream(client, url, extra)
                done += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(n)))
        return done / (time.monotonic() - start)


# -- orchestration ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def summarise(label: str, direct: list[Sample], ponder: list[Sample]) -> list[str]:
    d_ttft = [s.ttft_ms for s in direct]
    p_ttft = [s.ttft_ms for s in ponder]
    d_chunk = [c for s in direct for c in s.chunk_ms]
    p_chunk = [c for s in ponder for c in s.chunk_ms]
    rows = [f"{label} ({len(ponder)} streams per path)"]
    for name, d, p in (("TTFT", d_ttft, p_ttft), ("per-chunk latency", d_chunk, p_chunk)):
        for q in (50, 99):
            dq, pq = pct(d, q), pct(p, q)
            rows.append(f"  {name:<18} p{q:<3} direct {dq:8.3f} ms   ponder {pq:8.3f} ms"
                        f"   added {pq - dq:+8.3f} ms")  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--deltas", type=int, default=32, help="deltas per stream")
    parser.add_argument("--interval-ms", type=float, default=5.0, help="gap between deltas")
    parser.add_argument("--requests", type=int, default=100, help="sequential streams per path")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="concurrent rounds per path")
    parser.add_argument("--seconds", type=float, default=8.0, help="saturation run length")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.seconds, args.concurrency = 10, 1, 2.0, 16

    up_port, ponder_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "ponder.toml"
        config.write_text(
            '[models.fast]\nprovider = "openai"\n'
            f'base_url = "http://127.0.0.1:{up_port}/v1"\nmodel = "bench"\n'
            "thinking = { enabled = false }\n",
            encoding="utf-8",
        )
        here = Path(__file__).resolve()
        try:
            procs.append(subprocess.Popen([sys.executable, str(here), "--upstream", str(up_port),
                                           str(args.deltas), str(args.interval_ms)]))  # fmt: skip
            serve = [sys.executable, "-m", "ponder", "--config", str(config), "serve"]
            serve += ["--port", str(ponder_port), "--db", str(Path(tmp) / "traces.db")]
            procs.append(subprocess.Popen(serve, env={**os.environ, "PONDER_API_KEY": ""}))
            wait_port(up_port)
            wait_port(ponder_port)
            direct_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
            ponder_url = f"http://127.0.0.1:{ponder_port}/v1/chat/completions"
            print(f"upstream: {args.deltas} deltas, {args.interval_ms:g} ms apart; "
                  f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")  # fmt: skip
            seq_d, seq_p = asyncio.run(sequential(direct_url, ponder_url, args.requests))
            for line in summarise("sequential", seq_d, seq_p):
                print(line)
            con_d = asyncio.run(concurrent(direct_url, args.concurrency, args.rounds))
            con_p = asyncio.run(concurrent(ponder_url, args.concurrency, args.rounds))
            for line in summarise(f"{args.concurrency} concurrent", con_d, con_p):
                print(line)
            rps_d = asyncio.run(saturation(direct_url, args.concurrency, args.seconds))
            rps_p = asyncio.run(saturation(ponder_url, args.concurrency, args.seconds))
            print(f"saturation ({args.concurrency} clients, {args.deltas} deltas, no gaps): "
                  f"direct {rps_d:.0f} req/s, ponder {rps_p:.0f} req/s")  # fmt: skip
            added = pct([s.ttft_ms for s in seq_p], 50) - pct([s.ttft_ms for s in seq_d], 50)
            verdict = "PASS" if added <= 2.0 else "FAIL"
            print(f"floor: median added TTFT sequential {added:.3f} ms <= 2 ms: {verdict}")
            paired = [p.ttft_ms - d.ttft_ms for p, d in zip(seq_p, seq_d, strict=True)]
            print(f"(median of paired differences: {statistics.median(paired):.3f} ms)")
            return 0 if added <= 2.0 else 1
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--upstream":
        run_upstream(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(main())
