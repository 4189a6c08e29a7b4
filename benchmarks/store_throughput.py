"""Trace-store speed: traces per second one gateway writes to SQLite and to PostgreSQL, and
the p99 TTFT the PostgreSQL store adds to streamed requests (floor: within 0.2 ms).

1. Writer throughput: ``--traces`` realistic traces (prompt, 2 KB of thoughts, an answer)
   submitted to a :class:`ponder.store.TraceWriter` as fast as a loop can, timed until the
   last is committed. SQLite: a file in a temp dir. PostgreSQL: a fresh durable cluster
   (fsync on, Debian's defaults) started by ``scripts/ensure_postgres.sh``, or ``--pg-dsn``.
2. Added TTFT: two real ``ponder serve`` processes on one local upstream, one with
   ``--db postgresql://…``, one with ``--no-store``; ``--requests`` streamed requests each,
   alternating between them (so drift on a shared machine hits both alike), then
   ``--concurrency`` concurrent streams on each, both gateways loaded at the same time. The
   client measures TTFT: request sent to first answer delta read.

Run: ``python benchmarks/store_throughput.py`` (a minute or two; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from ponder.store import TraceRecord, TraceWriter
from scale_support import gateways, pct, postgres, stream_once, upstream, write_config

FLOOR_MS = 0.2


def trace(n: int) -> TraceRecord:
    return TraceRecord(
        request_id=f"req_bench_{n:08d}", created_at=time.time(), requested_model="auto",
        model="deep", mode="deep", route_reason="auto: arithmetic, deep fits the budget",
        route_estimates={"deep_ttfa_ms": 900.0}, stream=True, status="ok", finish_reason="stop",
        ttft_ms=12.5, ttfa_ms=480.0, thinking_ms=467.5, e2e_ms=900.0, decode_tps=80.0,
        effective_tps=20.0, itl_p50_ms=8.0, itl_p95_ms=15.0, itl_p99_ms=30.0, input_tokens=40,
        thinking_tokens=400, answer_tokens=60, prompt="What is 4821 × 37? " * 10,
        thinking="Multiply the units first, then carry. " * 55, answer="178377. " * 60,
        progress=["Reading the question", "Working through the arithmetic"],
    )  # fmt: skip


def writer_rate(dsn: str, n: int, journal: Path) -> float:
    writer = TraceWriter(dsn, journal_dir=journal)
    records = [trace(i) for i in range(n)]
    try:
        start = time.perf_counter()
        for record in records:
            writer.submit(record)
        while writer.written < n:
            if writer.dropped or writer.journaled:
                raise RuntimeError("the writer fell behind its bound during the benchmark")
            time.sleep(0.001)
        return n / (time.perf_counter() - start)
    finally:
        writer.close()


async def alternating(on: str, off: str, n: int) -> tuple[list[float], list[float]]:
    with_store: list[float] = []
    without: list[float] = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(20):  # warm both
            await stream_once(client, on)
            await stream_once(client, off)
        for _ in range(n):
            with_store.append((await stream_once(client, on))[0])
            without.append((await stream_once(client, off))[0])
    return with_store, without


async def concurrent(on: str, off: str, clients: int, per_client: int
                     ) -> tuple[list[float], list[float]]:  # fmt: skip
    """``clients`` streams on each gateway at once, both loaded together (same drift)."""
    limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker(url: str) -> list[float]:
            return [(await stream_once(client, url))[0] for _ in range(per_client)]

        await asyncio.gather(*(stream_once(client, u) for u in (on, off) for _ in range(clients)))
        results = await asyncio.gather(*(worker(u) for _ in range(clients) for u in (on, off)))
    with_store = [t for i, ts in enumerate(results) if i % 2 == 0 for t in ts]
    without = [t for i, ts in enumerate(results) if i % 2 == 1 for t in ts]
    return with_store, without


def row(label: str, on: Sequence[float], off: Sequence[float]) -> tuple[str, float]:
    p50 = pct(on, 50) - pct(off, 50)
    p99 = pct(on, 99) - pct(off, 99)
    text = (f"  {label:<22} p50 on {pct(on, 50):7.3f} off {pct(off, 50):7.3f}"
            f" added {p50:+.3f} ms | p99 on {pct(on, 99):7.3f} off {pct(off, 99):7.3f}"
            f" added {p99:+.3f} ms")  # fmt: skip
    return text, p99


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--traces", type=int, default=20_000, help="traces per writer run")
    parser.add_argument("--requests", type=int, default=3_000, help="alternating streams per path")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--pg-dsn", default=None, help="an existing database (default: fresh)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.traces, args.requests, args.per_client = 2_000, 150, 5
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp, postgres(args.pg_dsn) as pg:
        tmp_path = Path(tmp)
        sqlite_rate = writer_rate(str(tmp_path / "w.db"), args.traces, tmp_path / "j1")
        pg_rate = writer_rate(pg, args.traces, tmp_path / "j2")
        print(f"writer throughput ({args.traces} traces, batches of 256):")
        print(f"  SQLite      {sqlite_rate:9.0f} traces/s")
        print(f"  PostgreSQL  {pg_rate:9.0f} traces/s")
        with upstream(deltas=8) as base_url:
            config = write_config(tmp_path, base_url)
            store = ["--db", pg, "--journal-dir", str(tmp_path / "j3")]
            with gateways(config, [store, ["--no-store"]]) as (on, off):
                seq_on, seq_off = asyncio.run(alternating(on, off, args.requests))
                con_on, con_off = asyncio.run(
                    concurrent(on, off, args.concurrency, args.per_client)
                )
    print("TTFT, client-side, PostgreSQL store on vs --no-store:")
    text, added_p99 = row(f"sequential ({len(seq_on)}/path)", seq_on, seq_off)
    print(text)
    print(row(f"{args.concurrency}+{args.concurrency} concurrent ({len(con_on)})", con_on,
              con_off)[0])  # fmt: skip
    paired = [a - b for a, b in zip(seq_on, seq_off, strict=True)]
    print(f"  (median of paired sequential differences: {statistics.median(paired):+.3f} ms)")
    verdict = "PASS" if added_p99 <= FLOOR_MS else "FAIL"
    print(f"floor: p99 added TTFT sequential {added_p99:+.3f} ms <= {FLOOR_MS} ms: {verdict}")
    return 0 if added_p99 <= FLOOR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
