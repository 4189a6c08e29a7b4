"""The trace store: migrations, the writer thread, queries and ``ponder traces``."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from ponder.cli import main
from ponder.cli.traces import parse_since
from ponder.errors import PonderError
from ponder.store import TraceQuery, TraceRecord, TraceWriter, read
from ponder.store.migrations import MIGRATIONS, migrate
from ponder.store.sqlite import connect, insert


def record(n: int, **overrides: object) -> TraceRecord:
    fields: dict[str, object] = {
        "request_id": f"req_{n:04d}",
        "created_at": 1_700_000_000.0 + n,
        "requested_model": "auto",
        "model": "deep" if n % 2 else "fast",
        "mode": "deep" if n % 2 else "fast",
        "route_reason": "a reason",
        "route_estimates": {"deep_ttfa_ms": 900.0} if n % 2 else None,
        "stream": True,
        "status": "ok",
        "finish_reason": "stop",
        "ttft_ms": 10.0 + n,
        "ttfa_ms": 20.0 + n,
        "thinking_tokens": n,
        "answer_tokens": 3,
        "tokens_estimated": n % 3 == 0,
        "prompt": f"prompt number {n}",
        "answer": f"answer {n}",
        "thinking": "thought",
        "progress": ["Reading the question"],
    }
    fields.update(overrides)
    return TraceRecord(**fields)  # type: ignore[arg-type]


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    conn = connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [row[0] for row in conn.execute("SELECT id FROM _migrations ORDER BY id")] == [
        m[0] for m in MIGRATIONS
    ]
    assert migrate(conn) == []  # idempotent
    conn.close()
    assert [m[0] for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.db")
    original = record(7, error_side="upstream", error_code="x", error_message="m", max_ttfa_ms=5.0)
    insert(conn, [original])
    assert read(tmp_path / "t.db", TraceQuery(request_id="req_0007")) == [original]


def test_a_store_from_before_the_doors_upgrades_in_place(tmp_path: Path) -> None:
    """Traces written before migration 4 came in by the only door there was."""
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "CREATE TABLE _migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at REAL NOT NULL)"
    )
    for number, name, sql in MIGRATIONS[:3]:
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(statement)
        conn.execute("INSERT INTO _migrations VALUES (?, ?, 0)", (number, name))
    conn.execute(
        "INSERT INTO traces (request_id, created_at, requested_model, stream, status)"
        " VALUES ('req_old', 1.0, 'auto', 1, 'ok')"
    )
    conn.close()
    connect(db).close()
    (old,) = read(db, TraceQuery(request_id="req_old"))
    assert old.door == "chat_completions"
    conn = connect(db)
    insert(conn, [record(1, door="messages")])
    conn.close()
    assert read(db, TraceQuery(request_id="req_0001"))[0].door == "messages"


def test_queries_filter_and_order_newest_first(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.db")
    insert(conn, [record(n) for n in range(10)])
    insert(conn, [record(10, status="client_disconnected", model="slow")])
    db = tmp_path / "t.db"
    assert [r.request_id for r in read(db, TraceQuery(limit=3))] == [
        "req_0010", "req_0009", "req_0008",
    ]  # fmt: skip
    assert {r.mode for r in read(db, TraceQuery(mode="deep", limit=None))} == {"deep"}
    assert [r.request_id for r in read(db, TraceQuery(model="slow"))] == ["req_0010"]
    assert [r.status for r in read(db, TraceQuery(status="client_disconnected"))] == [
        "client_disconnected"
    ]
    assert len(read(db, TraceQuery(since=1_700_000_000.0 + 8, limit=None))) == 3
    assert [r.request_id for r in read(db, TraceQuery(text="NUMBER 4"))] == ["req_0004"]


def test_writer_batches_off_thread_and_flushes_on_close(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    # Neither the interval nor a full batch wakes the writer during the test.
    writer = TraceWriter(db, interval_s=10, batch_size=1000)
    for n in range(500):
        writer.submit(record(n))
    assert (writer.written, writer.stats().queued) == (0, 500)  # submit did no I/O
    writer.close()
    assert len(read(db, TraceQuery(limit=None))) == 500
    assert writer.written == 500


def test_writer_wakes_on_its_interval(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    writer = TraceWriter(db, interval_s=0.02)
    writer.submit(record(1))
    deadline = time.monotonic() + 3
    while not read(db, TraceQuery()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(read(db, TraceQuery())) == 1
    writer.close()
    writer.submit(record(2))  # after close: written at once, not lost
    assert len(read(db, TraceQuery(limit=None))) == 2


def test_reader_runs_alongside_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    writer = TraceWriter(db, interval_s=0.001)
    for n in range(200):
        writer.submit(record(n))
        if n % 50 == 0:
            read(db, TraceQuery(limit=None))  # never "database is locked"
    writer.close()
    assert len(read(db, TraceQuery(limit=None))) == 200


def test_cli_lists_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "t.db"
    insert(connect(db), [record(n) for n in range(4)])
    assert main(["traces", "--db", str(db), "--mode", "deep"]) == 0
    out = capsys.readouterr().out
    assert "req_0003" in out and "req_0001" in out and "req_0002" not in out
    assert out.splitlines()[0].split()[:3] == ["TIME", "REQUEST", "MODEL"]
    assert main(["traces", "--db", str(db), "--jsonl", "--limit", "0"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["request_id"] for r in rows] == ["req_0003", "req_0002", "req_0001", "req_0000"]
    assert rows[0]["route_estimates"] == {"deep_ttfa_ms": 900.0}
    assert main(["traces", "--db", str(db), "--status", "error"]) == 0
    assert "no traces" in capsys.readouterr().out


def test_since_spans_and_dates() -> None:
    assert parse_since("30m", now=10_000.0) == 10_000.0 - 1800
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("1d", now=100_000.0) == 100_000.0 - 86400
    assert parse_since("2026-01-31") > 1_700_000_000
    with pytest.raises(PonderError):
        parse_since("yesterday")


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "t.db"
    assert read(missing, TraceQuery()) == []
    assert not missing.parent.exists()


def test_store_is_plain_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    insert(connect(db), [record(1)])
    row = sqlite3.connect(db).execute("SELECT progress, stream FROM traces").fetchone()
    assert json.loads(row[0]) == ["Reading the question"] and row[1] == 1
