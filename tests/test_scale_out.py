"""Many gateways, one database: two real ``ponder serve`` processes on one PostgreSQL.

Every streamed response has exactly one trace (none lost, none duplicated, ids unique
across gateways); each gateway's history shows the other's traffic; a gateway that starts
later seeds its router's TTFA estimates from the fleet's traces.
(``benchmarks/scale_out.py`` runs the same check at 10,000 requests.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest

from ponder.config import load_config
from ponder.server import ServerSettings, create_app
from ponder.store import TraceWriter
from tests.gateway_harness import Served, ThreadServer, serve_subprocess, write_config

N = 240
CLIENTS = 8
ARITHMETIC = [{"role": "user", "content": "What is 4821 × 37?"}]


@pytest.fixture
def two_gateways(pg_dsn: str, tmp_path: Path) -> Iterator[list[Served]]:
    config = write_config(tmp_path)
    with ExitStack() as stack:
        served = [
            stack.enter_context(
                serve_subprocess(
                    config, pg_dsn, "--journal-dir", str(tmp_path / f"journal-{name}"),
                    log=tmp_path / f"gateway-{name}.log",
                )
            )
            for name in ("a", "b")
        ]
        yield served


def stream(client: httpx.Client, model: str) -> tuple[str, str]:
    body = {"model": model, "messages": ARITHMETIC, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        text = "\n".join(response.iter_lines()).rstrip()
        assert response.status_code == 200 and text.endswith("data: [DONE]"), text[-200:]
        return response.headers["x-ponder-request-id"], text


def test_two_gateways_one_database_every_response_one_trace(
    two_gateways: list[Served], pg_dsn: str, tmp_path: Path
) -> None:
    served_by: dict[str, int] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client_loop(k: int) -> None:
        clients = [httpx.Client(base_url=s.base_url, timeout=30) for s in two_gateways]
        try:
            for i in range(k, N, CLIENTS):
                gateway = i % 2
                request_id, _ = stream(clients[gateway], "deep" if i % 3 else "fast")
                with lock:
                    assert request_id not in served_by
                    served_by[request_id] = gateway
        except BaseException as exc:
            errors.append(exc)
        finally:
            for c in clients:
                c.close()

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    histories = [
        httpx.get(s.base_url + "/api/traces", params={"limit": 500}).json()["data"]
        for s in two_gateways
    ]
    for s in two_gateways:
        # SIGTERM: each flushes its writer before it exits (uvicorn re-raises the signal)
        assert s.terminate() in (0, -signal.SIGTERM)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT request_id, mode FROM traces").fetchall()
    stored = [request_id for request_id, _ in rows]
    assert len(served_by) == N
    assert len(stored) == N and set(stored) == set(served_by)  # 0 lost, 0 duplicated
    # Each gateway's history (read before the last batches landed) holds the other's traces.
    for gateway, history in enumerate(histories):
        others = {r["request_id"] for r in history} & {
            rid for rid, g in served_by.items() if g != gateway
        }
        assert others
    # A gateway started now seeds its TTFA estimates from the fleet's traces: deep fits a
    # budget its configured estimate (4000 ms) would not.
    app = create_app(load_config(write_config(tmp_path)), ServerSettings(),
                     writer=TraceWriter(pg_dsn, journal_dir=tmp_path / "journal-c"))  # fmt: skip
    with ThreadServer(app) as third:
        response = httpx.post(
            third.base_url + "/v1/chat/completions",
            json={"model": "auto", "messages": ARITHMETIC},
            headers={"x-ponder-max-ttfa-ms": "1000"},
        )
    ponder = response.json()["ponder"]
    assert ponder["mode"] == "deep" and "latency budget" not in ponder["reason"]
