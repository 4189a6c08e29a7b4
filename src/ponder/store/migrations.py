"""Append-only, numbered schema migrations for the trace store.

Never edit or reorder an entry once released: add a new one at the end. Each runs once, in
its own transaction, and is recorded in ``_migrations``.
"""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "create traces",
        """
        CREATE TABLE traces (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            requested_model TEXT NOT NULL,
            model TEXT,
            mode TEXT,
            route_reason TEXT,
            route_estimates TEXT,
            stream INTEGER NOT NULL,
            status TEXT NOT NULL,
            finish_reason TEXT,
            error_side TEXT,
            error_code TEXT,
            error_message TEXT,
            ttft_ms REAL,
            ttfa_ms REAL,
            thinking_ms REAL,
            e2e_ms REAL,
            decode_tps REAL,
            effective_tps REAL,
            itl_p50_ms REAL,
            itl_p95_ms REAL,
            itl_p99_ms REAL,
            input_tokens INTEGER,
            thinking_tokens INTEGER,
            answer_tokens INTEGER,
            tokens_estimated INTEGER NOT NULL DEFAULT 0,
            max_ttfa_ms REAL,
            prompt TEXT NOT NULL DEFAULT '',
            thinking TEXT NOT NULL DEFAULT '',
            answer TEXT NOT NULL DEFAULT '',
            progress TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX traces_created_at ON traces (created_at);
        CREATE INDEX traces_mode ON traces (mode, created_at);
        CREATE INDEX traces_model ON traces (model, created_at);
        """,
    ),
    (
        2,
        "traces: tool calls and notes",
        """
        ALTER TABLE traces ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE traces ADD COLUMN notes TEXT NOT NULL DEFAULT '[]'
        """,
    ),
    (
        3,
        "create reasoning",
        """
        CREATE TABLE reasoning (
            call_id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            parts TEXT NOT NULL
        );
        CREATE INDEX reasoning_created_at ON reasoning (created_at)
        """,
    ),
    (
        4,
        "traces: cost",
        """
        ALTER TABLE traces ADD COLUMN cost_usd REAL;
        ALTER TABLE traces ADD COLUMN cost_input_usd REAL;
        ALTER TABLE traces ADD COLUMN cost_thinking_usd REAL;
        ALTER TABLE traces ADD COLUMN cost_answer_usd REAL;
        ALTER TABLE traces ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX traces_model_cost ON traces (model, created_at, cost_usd)
        """,
    ),
    (
        5,
        "traces: conversation",
        """
        ALTER TABLE traces ADD COLUMN conversation_id TEXT;
        CREATE INDEX traces_conversation ON traces (conversation_id, created_at)
        """,
    ),
    (
        6,
        "traces: door",
        """
        ALTER TABLE traces ADD COLUMN door TEXT NOT NULL DEFAULT 'chat_completions'
        """,
    ),
    (
        7,
        "create responses",
        """
        CREATE TABLE responses (
            response_id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            messages TEXT NOT NULL
        );
        CREATE INDEX responses_created_at ON responses (created_at)
        """,
    ),
    (
        8,
        "traces: turn index",
        """
        ALTER TABLE traces ADD COLUMN turn_index INTEGER
        """,
    ),
)


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration not yet applied; return the ids applied now.

    ``conn`` must be in autocommit mode (``isolation_level=None``); each migration runs in an
    explicit transaction so a failure leaves no half-applied schema.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in conn.execute("SELECT id FROM _migrations")}
    applied = []
    for number, name, sql in MIGRATIONS:
        if number in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, sql.split(";")):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)",
                (number, name, time.time()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(number)
    return applied
