"""Append-only, named schema migrations for the PostgreSQL trace store.

Never edit, rename or reorder an entry once released: add a new one at the end. Each runs
once, in its own transaction, and its name is recorded in ``ponder_migrations``. Gateways
starting together serialise on an advisory lock, so exactly one of them applies each step.
The columns mirror the SQLite schema (``ponder.store.migrations``) with PostgreSQL's types:
booleans, JSONB for the structured fields, an identity key.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001 create traces",
        """
        CREATE TABLE traces (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            created_at DOUBLE PRECISION NOT NULL,
            requested_model TEXT NOT NULL,
            model TEXT,
            mode TEXT,
            route_reason TEXT,
            route_estimates JSONB,
            stream BOOLEAN NOT NULL,
            status TEXT NOT NULL,
            finish_reason TEXT,
            error_side TEXT,
            error_code TEXT,
            error_message TEXT,
            ttft_ms DOUBLE PRECISION,
            ttfa_ms DOUBLE PRECISION,
            thinking_ms DOUBLE PRECISION,
            e2e_ms DOUBLE PRECISION,
            decode_tps DOUBLE PRECISION,
            effective_tps DOUBLE PRECISION,
            itl_p50_ms DOUBLE PRECISION,
            itl_p95_ms DOUBLE PRECISION,
            itl_p99_ms DOUBLE PRECISION,
            input_tokens INTEGER,
            thinking_tokens INTEGER,
            answer_tokens INTEGER,
            tokens_estimated BOOLEAN NOT NULL DEFAULT FALSE,
            max_ttfa_ms DOUBLE PRECISION,
            prompt TEXT NOT NULL DEFAULT '',
            thinking TEXT NOT NULL DEFAULT '',
            answer TEXT NOT NULL DEFAULT '',
            progress JSONB NOT NULL DEFAULT '[]'
        );
        CREATE INDEX traces_created_at ON traces (created_at);
        CREATE INDEX traces_mode ON traces (mode, created_at);
        CREATE INDEX traces_model ON traces (model, created_at)
        """,
    ),
    (
        "0002 traces: tool calls and notes",
        """
        ALTER TABLE traces ADD COLUMN tool_calls JSONB NOT NULL DEFAULT '[]';
        ALTER TABLE traces ADD COLUMN notes JSONB NOT NULL DEFAULT '[]'
        """,
    ),
    (
        # parts stay TEXT, byte for byte: they carry providers' opaque signed state.
        "0003 create reasoning",
        """
        CREATE TABLE reasoning (
            call_id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            parts TEXT NOT NULL
        );
        CREATE INDEX reasoning_created_at ON reasoning (created_at)
        """,
    ),
    (
        "0004 traces: cost",
        """
        ALTER TABLE traces ADD COLUMN cost_usd DOUBLE PRECISION;
        ALTER TABLE traces ADD COLUMN cost_input_usd DOUBLE PRECISION;
        ALTER TABLE traces ADD COLUMN cost_thinking_usd DOUBLE PRECISION;
        ALTER TABLE traces ADD COLUMN cost_answer_usd DOUBLE PRECISION;
        ALTER TABLE traces ADD COLUMN cost_estimated BOOLEAN NOT NULL DEFAULT FALSE;
        CREATE INDEX traces_model_cost ON traces (model, created_at, cost_usd)
        """,
    ),
    (
        # A chat's turns, so the web UI can show a conversation again after a reload.
        "0005 traces: conversation",
        """
        ALTER TABLE traces ADD COLUMN conversation_id TEXT;
        CREATE INDEX traces_conversation ON traces (conversation_id, created_at)
        """,
    ),
    (
        "0006 traces: door",
        """
        ALTER TABLE traces ADD COLUMN door TEXT NOT NULL DEFAULT 'chat_completions'
        """,
    ),
    (
        # messages stay TEXT, byte for byte, like reasoning's parts.
        "0007 create responses",
        """
        CREATE TABLE responses (
            response_id TEXT PRIMARY KEY,
            request_id TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            messages TEXT NOT NULL
        );
        CREATE INDEX responses_created_at ON responses (created_at)
        """,
    ),
    (
        # Which turn of its conversation a request answers: regenerate and edit-and-resend
        # replace a turn and what followed it (ponder.store.conversations).
        "0008 traces: turn index",
        """
        ALTER TABLE traces ADD COLUMN turn_index INTEGER
        """,
    ),
)
