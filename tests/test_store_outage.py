"""Nothing lost when the database is: a real PostgreSQL stopped and restarted under load.

While it is down, requests keep flowing; traces queue in memory to a bound, spill to the
local journal past it, and are replayed once it is back. Past the journal's own bound a
trace is dropped, and counted and logged, never silently.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from ponder.server.metrics import store_lines
from ponder.store import TraceWriter
from tests.gateway_harness import serve_subprocess, write_config
from tests.pg import PgCluster
from tests.test_store import record


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


def request_ids(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT request_id FROM traces").fetchall()]


def test_writer_spills_while_down_and_replays_when_back(
    pg_cluster: PgCluster, pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ponder.store")
    writer = TraceWriter(pg_dsn, interval_s=0.01, queue_limit=20, journal_dir=tmp_path / "j")
    try:
        for n in range(50):
            writer.submit(record(n))
        wait_for(lambda: writer.written == 50)
        pg_cluster.stop()
        try:
            for n in range(50, 350):
                writer.submit(record(n))
            wait_for(lambda: writer.stats().queued <= 20 and writer.journaled >= 280)
            down = writer.stats()
            assert not down.up and down.failed_writes > 0 and down.dropped == 0
            assert down.journaled_pending == down.journaled
        finally:
            pg_cluster.start()
        wait_for(lambda: len(request_ids(pg_dsn)) == 350)
        writer.flush()
        up = writer.stats()
    finally:
        writer.close()
    assert sorted(request_ids(pg_dsn)) == [f"req_{n:04d}" for n in range(350)]
    assert up.up and up.dropped == 0 and up.journaled_pending == 0
    assert up.replayed == up.journaled and up.written == 350
    assert "trace store unavailable" in caplog.text and "is back" in caplog.text


def test_traces_left_in_the_journal_are_replayed_by_the_next_run(
    pg_cluster: PgCluster, pg_dsn: str, tmp_path: Path
) -> None:
    journal = tmp_path / "j"
    writer = TraceWriter(pg_dsn, interval_s=0.01, journal_dir=journal)
    pg_cluster.stop()
    try:
        for n in range(30):
            writer.submit(record(n))
        writer.close()  # the database is away: what is left goes to the journal
        assert writer.stats().journaled == 30 and writer.dropped == 0
    finally:
        pg_cluster.start()
    assert request_ids(pg_dsn) == []
    again = TraceWriter(pg_dsn, interval_s=0.01, journal_dir=journal)
    try:
        wait_for(lambda: again.replayed == 30)
    finally:
        again.close()
    assert sorted(request_ids(pg_dsn)) == [f"req_{n:04d}" for n in range(30)]


def test_past_both_bounds_traces_are_dropped_counted_and_logged(
    pg_cluster: PgCluster, pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ponder.store")
    writer = TraceWriter(
        pg_dsn, interval_s=0.01, queue_limit=5, journal_dir=tmp_path / "j", journal_limit=10
    )
    pg_cluster.stop()
    try:
        for n in range(40):
            writer.submit(record(n))
        writer.close()
    finally:
        pg_cluster.start()
    stats = writer.stats()
    assert (stats.written, stats.journaled, stats.dropped) == (0, 10, 30)
    assert "ponder_traces_dropped_total 30" in store_lines(stats)
    assert re.search(r"dropped \d+ trace\(s\)", caplog.text)


def test_serve_under_load_survives_a_database_restart(
    pg_cluster: PgCluster, pg_dsn: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    args = ("--journal-dir", str(tmp_path / "journal"), "--trace-queue", "10")
    log = tmp_path / "serve.log"
    with serve_subprocess(config, pg_dsn, *args, log=log) as served:
        ids: list[str] = []
        statuses: list[int] = []
        stop = threading.Event()

        def load() -> None:
            body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}],
                    "stream": True}  # fmt: skip
            with httpx.Client(base_url=served.base_url, timeout=30) as client:
                while not stop.is_set():
                    with client.stream("POST", "/v1/chat/completions", json=body) as r:
                        text = "".join(r.iter_lines())
                        statuses.append(r.status_code if text.endswith("[DONE]") else -1)
                        ids.append(r.headers["x-ponder-request-id"])

        threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        wait_for(lambda: len(ids) >= 40)
        pg_cluster.stop()
        try:

            def spilling() -> bool:
                text = httpx.get(served.base_url + "/metrics").text
                journaled = re.findall(r"^ponder_traces_journaled_total (\d+)$", text, re.M)
                return "ponder_trace_store_up 0" in text and int(journaled[0]) > 0

            wait_for(spilling)  # the writer noticed, and traces past the bound are journaled
            unavailable = httpx.get(served.base_url + "/api/traces", timeout=30)
            during = len(ids)
            wait_for(lambda: len(ids) >= during + 80)  # requests keep flowing while it is down
        finally:
            pg_cluster.start()
        wait_for(lambda: len(ids) >= during + 160)
        stop.set()
        for t in threads:
            t.join(30)
        wait_for(lambda: len(request_ids(pg_dsn)) >= len(ids))
        metrics = httpx.get(served.base_url + "/metrics").text
        history = httpx.get(served.base_url + "/api/traces?limit=5").json()["data"]
    assert set(statuses) == {200}
    stored = request_ids(pg_dsn)
    assert len(stored) == len(ids) == len(set(ids)) and set(stored) == set(ids)
    assert "ponder_traces_dropped_total 0" in metrics and "ponder_trace_store_up 1" in metrics
    assert len(history) == 5  # the history reads the restarted database
    assert unavailable.status_code == 503  # while it was down, reads said so
    assert unavailable.json()["error"]["code"] == "store_unavailable"


def test_a_slow_database_spills_past_the_bound_and_catches_up(
    pg_dsn: str, tmp_path: Path
) -> None:
    writer = TraceWriter(
        pg_dsn, interval_s=0.01, batch_size=10, queue_limit=20, journal_dir=tmp_path / "j"
    )
    try:
        writer.submit(record(0))
        wait_for(lambda: writer.written == 1)
        with psycopg.connect(pg_dsn) as blocker:  # a long transaction holds the table
            blocker.execute("LOCK TABLE traces IN ACCESS EXCLUSIVE MODE")
            for n in range(1, 201):
                writer.submit(record(n))
            # The write in flight waits on the lock; past SLOW_WRITE_S the queue beyond its
            # bound goes to the journal, while the database is up all along.
            wait_for(lambda: writer.journaled > 0 and writer.stats().queued <= 20)
            blocker.rollback()
        wait_for(lambda: len(request_ids(pg_dsn)) == 201)
        writer.flush()
        stats = writer.stats()
    finally:
        writer.close()
    assert sorted(request_ids(pg_dsn)) == [f"req_{n:04d}" for n in range(201)]
    assert stats.dropped == 0 and stats.journaled_pending == 0
    assert stats.replayed == stats.journaled > 0
