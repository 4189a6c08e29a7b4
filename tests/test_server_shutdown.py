"""SIGTERM under load: in-flight requests finish within the drain timeout or are recorded as
interrupted, and every trace reaches the store before the process exits."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.gateway_harness import serve_subprocess, write_config

N = 12


def _stream_all(base_url: str, model: str) -> tuple[list[str], list[str], threading.Barrier]:
    results: list[str] = []
    ids: list[str] = []
    started = threading.Barrier(N + 1)

    def one() -> None:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
        try:
            with httpx.stream(
                "POST", base_url + "/v1/chat/completions", json=body, timeout=30
            ) as r:
                ids.append(r.headers["x-ponder-request-id"])
                lines = r.iter_lines()
                next(line for line in lines if "reasoning_content" in line)
                started.wait(10)
                text = "".join(lines)
            results.append("done" if text.endswith("data: [DONE]") else "cut")
        except httpx.HTTPError:
            results.append("cut")

    for _ in range(N):
        threading.Thread(target=one, daemon=True).start()
    return results, ids, started


def _rows(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT request_id, status FROM traces"))
    finally:
        conn.close()


def _run(
    tmp_path: Path, model: str, drain: str
) -> tuple[list[str], list[str], dict[str, str], int]:
    db = tmp_path / "traces.db"
    with serve_subprocess(write_config(tmp_path), db, "--drain-timeout", drain) as served:
        results, ids, started = _stream_all(served.base_url, model)
        started.wait(20)  # every request is mid-stream
        code = served.terminate()
        deadline = time.monotonic() + 10
        while len(results) < N and time.monotonic() < deadline:
            time.sleep(0.05)
    return results, ids, dict(_rows(db)), code


def test_sigterm_lets_in_flight_streams_finish(tmp_path: Path) -> None:
    results, ids, rows, code = _run(tmp_path, "slow", drain="10")
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after draining
    assert results == ["done"] * N
    assert set(ids) <= set(rows)
    assert [rows[i] for i in ids] == ["ok"] * N


def test_sigterm_past_drain_timeout_records_interrupted(tmp_path: Path) -> None:
    results, ids, rows, code = _run(tmp_path, "endless", drain="0.5")
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after draining
    assert len(ids) == N and set(ids) <= set(rows)
    assert [rows[i] for i in ids] == ["interrupted"] * N
    assert "done" not in results
