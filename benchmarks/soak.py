"""Load with faults, bounded: ``ponder serve`` under concurrent streaming clients while a share
of its upstream's responses are faults; then SIGTERM mid-load, then ``kill -9`` mid-load.

Everything runs on loopback, in separate processes: the fault upstream (``tests/faults.py``,
``mixed``: ``--fault-rate`` of responses are a fault drawn from its soak list — resets
mid-thought, stalls, 429s, 500/503/529, malformed lines, split UTF-8, silence), the gateway
(a real ``ponder serve`` with its SQLite trace store), and this process's clients.

The gateway's model ``soak`` has retries (3 attempts), ``ttft_ms``/``idle_ms`` of 2 s and a
fallback to ``backup`` (the same upstream's clean path), as a deployment would.

Phases and what each reports:

0. baseline: the same clients for a quarter of ``--duration`` without faults, for the TTFT
   ratio below (same machine, same minute).
1. load: ``--clients`` clients stream requests back to back for ``--duration`` s. Requests
   served, errors by kind, client-side p50/p99 TTFT, the gateway's RSS and open FDs after
   warm-up and at the end, and traces written vs responses sent (every request id checked).
2. SIGTERM while ``--clients`` streams are in flight, an eighth of them streams that think
   for ever: each request either drains (finishes) or is in the store as ``interrupted``
   (the never-ending ones, at the 5 s drain timeout); none is missing.
3. ``kill -9`` while streams are in flight, then reopen: the store passes SQLite's integrity
   check and opens for writing, and every response that completed more than ``WINDOW_S``
   before the kill is in it. The writer commits every 50 ms (``TraceWriter.interval_s``), so
   the window is 20 of its intervals.

Run: ``python benchmarks/soak.py`` (about 3 minutes; ``--duration 20`` for a short run).
Figures on a shared machine are noisy; medians and one-run ratios only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WINDOW_S = 1.0  # responses completed this long before a kill -9 must be in the store

CONFIG = """
[models.soak]
provider = "openai"
base_url = "{upstream}/mixed/v1"
retries = {{ attempts = 3, backoff_ms = 50, max_backoff_ms = 400 }}
timeouts = {{ ttft_ms = 2000, idle_ms = 2000 }}
fallbacks = ["backup"]

[models.backup]
provider = "openai"
base_url = "{upstream}/ok/v1"

[models.slow]  # thinks for ever: what SIGTERM's drain deadline must cut
provider = "openai"
base_url = "{upstream}/endless/v1"
retries = {{ attempts = 1 }}
breaker = false
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def env() -> dict[str, str]:
    paths = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise TimeoutError(url)


def start_gateway(config: Path, db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ponder", "--config", str(config), "serve", "--port",
               str(port), "--db", str(db), "--drain-timeout", "5"]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env(), stdout=out, stderr=out)
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Load:
    outcomes: Counter[str] = field(default_factory=Counter)
    ttft_ms: list[float] = field(default_factory=list)
    responded: list[str] = field(default_factory=list)  # request ids that got a response
    completed: list[tuple[str, float]] = field(default_factory=list)  # (id, monotonic end)


async def one_request(
    client: httpx.AsyncClient, url: str, load: Load, model: str = "soak"
) -> None:
    body = {"model": model, "stream": True,
            "messages": [{"role": "user", "content": "What is 17 * 23?"}]}  # fmt: skip
    sent = time.monotonic()
    request_id = None
    try:
        async with client.stream("POST", url, json=body) as r:
            request_id = r.headers.get("x-ponder-request-id")
            if r.status_code != 200:
                await r.aread()
                code = r.json().get("error", {}).get("code") if r.content else None
                outcome = f"http {r.status_code} {code}"
            else:
                outcome, first = "incomplete", True
                async for line in r.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    if line == "data: [DONE]":
                        outcome = "ok" if outcome == "incomplete" else outcome
                        break
                    obj = json.loads(line[6:])
                    if "error" in obj:
                        outcome = f"error {obj['error'].get('code')}"
                        continue
                    delta = (obj.get("choices") or [{}])[0].get("delta", {})
                    if first and (delta.get("reasoning_content") or delta.get("content")):
                        load.ttft_ms.append((time.monotonic() - sent) * 1000)
                        first = False
    except httpx.HTTPError as exc:
        outcome = f"transport {type(exc).__name__}"
    load.outcomes[outcome] += 1
    if request_id is not None:
        load.responded.append(request_id)
        if not outcome.startswith("transport") and outcome != "incomplete":
            load.completed.append((request_id, time.monotonic()))


async def run_load(
    base_url: str, clients: int, seconds: float, load: Load, model: str = "soak"
) -> None:
    url = base_url + "/v1/chat/completions"
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                await one_request(client, url, load, model)

        await asyncio.gather(*(worker() for _ in range(clients)))


def store_ids(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT request_id, status FROM traces"))
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase_baseline(args: argparse.Namespace, config: Path, work: Path) -> float:
    """The same load without faults (``soak`` pointed at the clean path): the TTFT the
    faulty run compares with. Returns the p50 TTFT."""
    clean = work / "clean.toml"
    clean.write_text(config.read_text().replace("/mixed/v1", "/ok/v1"))
    port = free_port()
    gateway = start_gateway(clean, work / "clean.db", port, work / "gateway.log")
    load = Load()
    seconds = max(5.0, args.duration / 4)
    try:
        asyncio.run(run_load(f"http://127.0.0.1:{port}", args.clients, seconds, load))
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
    p50, p99 = percentile(load.ttft_ms, 0.5), percentile(load.ttft_ms, 0.99)
    total = sum(load.outcomes.values())
    print(f"baseline, no faults: {args.clients} clients for {seconds:.0f} s: requests {total}"
          f" ({total / seconds:.0f}/s), ok {load.outcomes['ok']}; TTFT p50 {p50:.0f} ms,"
          f" p99 {p99:.0f} ms")  # fmt: skip
    return p50


def phase_load(
    args: argparse.Namespace, config: Path, work: Path, upstream: str, baseline_p50: float
) -> None:
    db, port = work / "load.db", free_port()
    gateway = start_gateway(config, db, port, work / "gateway.log")
    base = f"http://127.0.0.1:{port}"
    try:
        warm = Load()
        asyncio.run(run_load(base, args.clients, min(5.0, args.duration / 4), warm))
        rss0, fds0 = rss_mb(gateway.pid), open_fds(gateway.pid)
        played0 = Counter(httpx.get(upstream + "/stats").json())
        load = Load()
        started = time.monotonic()
        asyncio.run(run_load(base, args.clients, args.duration, load))
        elapsed = time.monotonic() - started
        time.sleep(0.5)  # let the last traces reach the writer's next commit
        rss1, fds1 = rss_mb(gateway.pid), open_fds(gateway.pid)
        played = Counter(httpx.get(upstream + "/stats").json()) - played0
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
    stored = store_ids(db)
    sent = warm.responded + load.responded
    missing = [i for i in sent if i not in stored]
    total = sum(load.outcomes.values())
    print(f"load: {args.clients} clients for {elapsed:.0f} s,"
          f" {args.fault_rate:.0%} of upstream responses faulty")  # fmt: skip
    print(f"  requests {total} ({total / elapsed:.0f}/s), served ok {load.outcomes['ok']}"
          f" ({load.outcomes['ok'] / max(total, 1):.1%})")  # fmt: skip
    responses = sum(played.values())
    faults = {k: v for k, v in played.most_common() if k != "ok"}
    print(f"  upstream responses {responses}, faults {sum(faults.values())}"
          f" ({sum(faults.values()) / max(responses, 1):.1%}): {faults}")
    print("  what clients saw besides an answer:")
    for outcome, count in sorted(load.outcomes.items(), key=lambda kv: -kv[1]):
        if outcome != "ok":
            print(f"  {outcome:<40} {count}")
    p50, p99 = percentile(load.ttft_ms, 0.5), percentile(load.ttft_ms, 0.99)
    print(f"  TTFT p50 {p50:.0f} ms, p99 {p99:.0f} ms (client side, first thought or answer);"
          f" p50 {p50 / baseline_p50:.2f}x the baseline's")  # fmt: skip
    print(f"  gateway RSS {rss0:.0f} MB -> {rss1:.0f} MB; open FDs {fds0} -> {fds1}")
    print(f"  traces written {len([i for i in sent if i in stored])} / responses sent {len(sent)}"
          f" (missing {len(missing)})")


def phase_sigterm(args: argparse.Namespace, config: Path, work: Path) -> None:
    db, port = work / "sigterm.db", free_port()
    gateway = start_gateway(config, db, port, work / "gateway.log")
    load, slow = Load(), Load()
    base = f"http://127.0.0.1:{port}"
    endless = max(1, args.clients // 8)  # streams that cannot finish within the drain

    async def go() -> None:
        tasks = [
            asyncio.ensure_future(run_load(base, args.clients - endless, 4.0, load)),
            asyncio.ensure_future(run_load(base, endless, 1.0, slow, model="slow")),
        ]
        await asyncio.sleep(2.0)
        gateway.send_signal(signal.SIGTERM)
        await asyncio.gather(*tasks)

    asyncio.run(go())
    code = gateway.wait(30)
    stored = store_ids(db)
    statuses = Counter(stored.get(i, "missing") for i in load.responded)
    cut = Counter(stored.get(i, "missing") for i in slow.responded)
    print(f"SIGTERM mid-load ({args.clients} clients, drain timeout 5 s): exit code {code};"
          f" of {len(load.responded)} ordinary responses begun: {dict(statuses)}; of"
          f" {len(slow.responded)} never-ending streams: {dict(cut)}")  # fmt: skip


def phase_kill(args: argparse.Namespace, config: Path, work: Path) -> None:
    db, port = work / "kill.db", free_port()
    gateway = start_gateway(config, db, port, work / "gateway.log")
    load = Load()
    killed_at = 0.0

    async def go() -> None:
        nonlocal killed_at
        # 6 s of load before the kill: on a busy machine the first responses take seconds.
        task = asyncio.ensure_future(run_load(f"http://127.0.0.1:{port}", args.clients, 8.0, load))
        await asyncio.sleep(6.0)
        killed_at = time.monotonic()
        gateway.kill()
        await task

    asyncio.run(go())
    gateway.wait(30)
    conn = sqlite3.connect(db)
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    stored = store_ids(db)
    old = [i for i, end in load.completed if end < killed_at - WINDOW_S]
    recent = [i for i, end in load.completed if killed_at - WINDOW_S <= end < killed_at]
    lost_old = [i for i in old if i not in stored]
    lost_recent = [i for i in recent if i not in stored]
    # Restart on the same store: it must open (migrations, WAL recovery) and serve.
    again = start_gateway(config, db, port, work / "gateway.log")
    try:
        body = {"model": "backup", "messages": [{"role": "user", "content": "hi"}]}
        ok = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=30)
        restarted = ok.status_code
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)
    print(f"kill -9 mid-load: integrity_check {integrity!r}; restarted and served HTTP {restarted};"
          f" completed > {WINDOW_S:g} s before the kill: {len(old)}, in the store"
          f" {len(old) - len(lost_old)} (missing {len(lost_old)}); in the last {WINDOW_S:g} s:"
          f" {len(recent)}, lost {len(lost_recent)}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ponder-soak-") as tmp:
        work = Path(tmp)
        port = free_port()
        command = [sys.executable, "-m", "tests.faults", "--port", str(port),
                   "--fault-rate", str(args.fault_rate), "--seed", str(args.seed)]  # fmt: skip
        upstream = subprocess.Popen(command, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{port}/ok/v1/models", upstream)
            config = work / "ponder.toml"
            config.write_text(CONFIG.format(upstream=f"http://127.0.0.1:{port}"))
            baseline_p50 = phase_baseline(args, config, work)
            phase_load(args, config, work, f"http://127.0.0.1:{port}", baseline_p50)
            phase_sigterm(args, config, work)
            phase_kill(args, config, work)
        finally:
            upstream.terminate()
            upstream.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
