"""SQLite trace store (the default): WAL journal, migrations on open, filtered queries.

Writes come from one :class:`ponder.store.writer.TraceWriter` thread; readers (the API, the
CLI) open their own connections, which WAL lets run alongside the writer.
:class:`SqliteStore` is this module behind the :class:`ponder.store.base.TraceStore`
interface; the plain functions stay for callers that want SQLite and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ponder.store import conversations as conv
from ponder.store.base import StoreUnavailable, TraceQuery, TraceStore, where_clause
from ponder.store.migrations import MIGRATIONS, migrate
from ponder.store.record import (
    ConversationSummary,
    ReasoningRecord,
    ResponseRecord,
    TraceRecord,
)

DB_ENV = "PONDER_DB"
_COLUMNS = tuple(f.name for f in fields(TraceRecord))
_JSON_COLUMNS = frozenset({"route_estimates", "progress", "tool_calls", "notes"})
_LIST_COLUMNS = frozenset({"progress", "tool_calls", "notes"})
_BOOL_COLUMNS = frozenset({"stream", "tokens_estimated", "cost_estimated"})
_INSERT = (
    f"INSERT OR REPLACE INTO traces ({', '.join(_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


def default_db_path() -> Path:
    """``$PONDER_DB``, else ``$XDG_DATA_HOME/ponder/traces.db`` (``~/.local/share/...``)."""
    explicit = os.environ.get(DB_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ponder" / "traces.db"


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the store at ``path``."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    migrate(conn)
    return conn


# Every column read in one C call, then the few that need converting fixed up by position:
# a third of the time of a Python loop over ~45 attributes, on the writer thread per trace.
_read_columns = operator.attrgetter(*_COLUMNS)
_JSON_AT = tuple(i for i, name in enumerate(_COLUMNS) if name in _JSON_COLUMNS)
_BOOL_AT = tuple(i for i, name in enumerate(_COLUMNS) if name in _BOOL_COLUMNS)


def _row(record: TraceRecord) -> tuple[Any, ...]:
    values = list(_read_columns(record))
    for i in _JSON_AT:
        value = values[i]
        if value is not None:
            values[i] = "[]" if value == [] else json.dumps(value)
    for i in _BOOL_AT:
        values[i] = int(values[i])
    return tuple(values)


# The latest turn wins a call id, but a journal replayed late never overwrites a newer row.
_INSERT_REASONING = (
    "INSERT INTO reasoning (call_id, request_id, created_at, parts) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (call_id) DO UPDATE SET request_id = excluded.request_id,"
    " created_at = excluded.created_at, parts = excluded.parts"
    " WHERE excluded.created_at >= reasoning.created_at"
)


_INSERT_RESPONSE = (
    "INSERT OR REPLACE INTO responses (response_id, request_id, created_at, messages)"
    " VALUES (?, ?, ?, ?)"
)


def insert(
    conn: sqlite3.Connection,
    records: Sequence[TraceRecord],
    reasoning: Sequence[ReasoningRecord] = (),
    responses: Sequence[ResponseRecord] = (),
) -> None:
    """Insert ``records`` (and remembered reasoning, stored responses) in one transaction."""
    if not records and not reasoning and not responses:
        return
    conn.execute("BEGIN")
    try:
        if records:
            conn.executemany(_INSERT, [_row(r) for r in records])
        if reasoning:
            conn.executemany(
                _INSERT_REASONING,
                [(r.call_id, r.request_id, r.created_at, r.parts) for r in reasoning],
            )
        if responses:
            conn.executemany(
                _INSERT_RESPONSE,
                [(r.response_id, r.request_id, r.created_at, r.messages) for r in responses],
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def find_reasoning(path: str | Path, call_ids: Sequence[str]) -> list[ReasoningRecord]:
    """Remembered reasoning for these call ids (those the store has)."""
    if not call_ids or (str(path) != ":memory:" and not Path(path).exists()):
        return []
    conn = connect(path)
    try:
        marks = ", ".join("?" for _ in call_ids)
        rows = conn.execute(
            f"SELECT call_id, request_id, created_at, parts FROM reasoning"
            f" WHERE call_id IN ({marks})",
            list(call_ids),
        ).fetchall()
    finally:
        conn.close()
    return [ReasoningRecord(*row) for row in rows]


def find_response(path: str | Path, response_id: str) -> ResponseRecord | None:
    """A stored Responses API conversation, or None."""
    if str(path) != ":memory:" and not Path(path).exists():
        return None
    conn = connect(path)
    try:
        row = conn.execute(
            "SELECT response_id, request_id, created_at, messages FROM responses"
            " WHERE response_id = ?",
            (response_id,),
        ).fetchone()
    finally:
        conn.close()
    return ResponseRecord(*row) if row is not None else None


def _record(row: sqlite3.Row) -> TraceRecord:
    data: dict[str, Any] = {}
    for name in _COLUMNS:
        value = row[name]
        if name in _JSON_COLUMNS:
            value = json.loads(value) if value is not None else None
            if name in _LIST_COLUMNS and value is None:
                value = []
        elif name in _BOOL_COLUMNS:
            value = bool(value)
        data[name] = value
    return TraceRecord(**data)


def query(conn: sqlite3.Connection, q: TraceQuery) -> list[TraceRecord]:
    """Matching traces, newest first."""
    where, args = where_clause(q, "?", "instr({}, {}) > 0")
    sql = f"SELECT {', '.join(_COLUMNS)} FROM traces{where}"
    if q.sort == "cost":
        sql += " ORDER BY cost_usd IS NULL, cost_usd DESC, created_at DESC, id DESC"
    else:
        sql += " ORDER BY created_at DESC, id DESC"
    if q.limit is not None:
        sql += " LIMIT ?"
        args.append(q.limit)
    conn.row_factory = sqlite3.Row
    try:
        return [_record(row) for row in conn.execute(sql, args)]
    finally:
        conn.row_factory = None


def read(path: str | Path, q: TraceQuery) -> list[TraceRecord]:
    """Open, query and close: the read path for the API and the CLI (no store: no traces)."""
    if str(path) != ":memory:" and not Path(path).exists():
        return []
    conn = connect(path)
    try:
        return query(conn, q)
    finally:
        conn.close()


def iter_dicts(
    records: Iterable[TraceRecord], *, with_text: bool = True
) -> Iterable[dict[str, Any]]:
    for record in records:
        yield record.to_dict(with_text=with_text)


def spend_since(path: str | Path, model: str, since: float) -> float:
    """USD the store records for ``model`` since ``since`` (unix seconds); 0 without a store."""
    if str(path) != ":memory:" and not Path(path).exists():
        return 0.0
    conn = connect(path)
    try:
        row = conn.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM traces WHERE model = ? AND created_at >= ?",
            (model, since),
        ).fetchone()
    finally:
        conn.close()
    return float(row[0])


def conversations(
    path: str | Path, limit: int, before: float | None = None
) -> list[ConversationSummary]:
    """Conversations, most recently active first; none without a store."""
    if str(path) != ":memory:" and not Path(path).exists():
        return []
    conn = connect(path)
    try:
        rows = conn.execute(conv.list_sql("?", before), conv.list_args(limit, before))
        return [conv.summary(row) for row in rows.fetchall()]
    finally:
        conn.close()


class SqliteStore(TraceStore):
    """The SQLite file at ``path``: one connection for writes (the writer thread's), and a
    connection per read, each in a worker thread so no loop waits on the disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.label = str(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> list[str]:
        names = {number: name for number, name, _ in MIGRATIONS}
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            applied = migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open {self.label}: {exc}") from exc
        self._conn = conn
        return [names[number] for number in applied]

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def write(self, records: Sequence[TraceRecord]) -> None:
        await self._insert(records, ())

    async def _insert(
        self,
        records: Sequence[TraceRecord],
        reasoning: Sequence[ReasoningRecord],
        responses: Sequence[ResponseRecord] = (),
    ) -> None:
        """In a worker thread: a locked database may block for its 10 s timeout, and the
        writer's loop must stay free to spill to the journal meanwhile."""
        if self._conn is None:
            await self.open()
        conn = self._conn
        assert conn is not None

        def run() -> None:
            with self._lock:
                insert(conn, records, reasoning, responses)

        try:
            await asyncio.to_thread(run)
        except sqlite3.Error as exc:  # locked past the timeout, disk full, I/O error
            raise StoreUnavailable(f"{self.label}: {exc}") from exc

    async def query(self, q: TraceQuery) -> list[TraceRecord]:
        return await asyncio.to_thread(read, self.path, q)

    async def write_reasoning(self, records: Sequence[ReasoningRecord]) -> None:
        await self._insert((), records)

    async def find_reasoning(self, call_ids: Sequence[str]) -> list[ReasoningRecord]:
        return await asyncio.to_thread(find_reasoning, self.path, list(call_ids))

    async def spend_since(self, model: str, since: float) -> float:
        return await asyncio.to_thread(spend_since, self.path, model, since)

    async def write_responses(self, records: Sequence[ResponseRecord]) -> None:
        await self._insert((), (), records)

    async def find_response(self, response_id: str) -> ResponseRecord | None:
        return await asyncio.to_thread(find_response, self.path, response_id)

    async def conversations(
        self, limit: int, before: float | None = None
    ) -> list[ConversationSummary]:
        return await asyncio.to_thread(conversations, self.path, limit, before)

    async def delete_conversation(self, conversation_id: str) -> int:
        if self._conn is None:
            await self.open()
        conn = self._conn
        assert conn is not None

        def run() -> int:
            with self._lock:
                cursor = conn.execute(
                    "DELETE FROM traces WHERE conversation_id = ?", (conversation_id,)
                )
                return cursor.rowcount

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.label}: {exc}") from exc
