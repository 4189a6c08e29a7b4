"""Many gateways, one database: ``--requests`` streamed requests (10,000 by default) split
across two ``ponder serve`` processes on one PostgreSQL; every response must have exactly
one trace.

Checks, and prints: responses, distinct request ids across both gateways, rows in
``traces``, responses without a trace (lost), traces the gateways wrote in total (from
``ponder_traces_written_total``; more than the responses would be a duplicate the unique
key absorbed), dropped traces, and requests/s for the whole run. The upstream is a local
OpenAI-compatible stream (8 deltas, no gaps); PostgreSQL a fresh durable cluster started by
``scripts/ensure_postgres.sh`` (or ``--pg-dsn``).

Run: ``python benchmarks/scale_out.py`` (a few minutes on two cores; ``--requests 1000``
for a short one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import psycopg

from scale_support import gateways, pct, postgres, stream_once, upstream, write_config


def metric(text: str, name: str) -> int:
    return int(re.findall(rf"^{name} (\d+)$", text, re.M)[0])


async def load(urls: Sequence[str], n: int, clients: int) -> tuple[list[str], list[float]]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    ids: list[str] = []
    ttfts: list[float] = []
    counter = iter(range(n))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker(k: int) -> None:
            for i in counter:
                ttft, request_id = await stream_once(client, urls[(i + k) % len(urls)])
                ids.append(request_id)
                ttfts.append(ttft)

        await asyncio.gather(*(worker(k) for k in range(clients)))
    return ids, ttfts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32, help="concurrent streams in all")
    parser.add_argument("--pg-dsn", default=None, help="an existing database (default: fresh)")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp, postgres(args.pg_dsn) as pg:
        tmp_path = Path(tmp)
        with psycopg.connect(pg) as conn:  # a database of its own for the run
            conn.autocommit = True
            conn.execute("DROP DATABASE IF EXISTS ponder_scale_out")
            conn.execute("CREATE DATABASE ponder_scale_out")
        dsn = pg.rsplit("/", 1)[0] + "/ponder_scale_out"
        with upstream(deltas=8) as base_url:
            config = write_config(tmp_path, base_url)
            stores = [["--db", dsn, "--journal-dir", str(tmp_path / f"j{k}")] for k in (1, 2)]
            with gateways(config, stores) as urls:
                start = time.perf_counter()
                ids, ttfts = asyncio.run(load(urls, args.requests, args.clients))
                elapsed = time.perf_counter() - start
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with psycopg.connect(dsn) as conn:
                        rows = [r[0] for r in conn.execute("SELECT request_id FROM traces")]
                    if len(rows) >= len(ids):
                        break
                    time.sleep(0.2)
                texts = [httpx.get(u + "/metrics").text for u in urls]
    written = sum(metric(t, "ponder_traces_written_total") for t in texts)
    dropped = sum(metric(t, "ponder_traces_dropped_total") for t in texts)
    lost = len(set(ids) - set(rows))
    print(f"two gateways, one PostgreSQL, {args.clients} concurrent streams:")
    print(f"  responses              {len(ids)}")
    print(f"  distinct request ids   {len(set(ids))}")
    print(f"  rows in traces         {len(rows)}")
    print(f"  lost (no trace)        {lost}")
    print(f"  written by gateways    {written} (duplicates: {written - len(ids)})")
    print(f"  dropped                {dropped}")
    print(f"  throughput             {len(ids) / elapsed:.0f} requests/s ({elapsed:.1f} s)")
    print(f"  TTFT p50 / p99         {pct(ttfts, 50):.2f} / {pct(ttfts, 99):.2f} ms")
    ok = (len(set(ids)) == len(ids) == len(rows) == written == args.requests
          and lost == 0 and dropped == 0)  # fmt: skip
    print("every response exactly one trace:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
