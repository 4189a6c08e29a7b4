"""PostgreSQL trace store: psycopg 3 on its async pool, named migrations under a lock.

Install with the ``postgres`` extra (``pip install 'ponder[postgres]'``). Chosen by a
``postgresql://`` DSN (``--db`` or ``$PONDER_DB``). Every gateway of a deployment writes to
and reads from the same tables, so the history, ``ponder traces`` and the router's TTFA
estimates see the traffic of all of them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ponder.store import conversations as conv
from ponder.store.base import StoreUnavailable, TraceQuery, TraceStore, where_clause
from ponder.store.postgres_migrations import MIGRATIONS
from ponder.store.record import (
    ConversationSummary,
    ReasoningRecord,
    ResponseRecord,
    TraceRecord,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

SCHEMES = ("postgresql", "postgres")
_COLUMNS = tuple(f.name for f in fields(TraceRecord))
_JSON_COLUMNS = frozenset({"route_estimates", "progress", "tool_calls", "notes"})
_LIST_COLUMNS = frozenset({"progress", "tool_calls", "notes"})
_TEXT_COLUMNS = frozenset({"prompt", "thinking", "answer", "error_message", "route_reason"})
_INSERT = (
    f"INSERT INTO traces ({', '.join(_COLUMNS)}) VALUES ("
    + ", ".join("%s::jsonb" if c in _JSON_COLUMNS else "%s" for c in _COLUMNS)
    + ") ON CONFLICT (request_id) DO NOTHING"
)
# The latest turn wins a call id (as SQLite's OR REPLACE), but a journal replayed late never
# overwrites a newer row with an older one.
_INSERT_REASONING = (
    "INSERT INTO reasoning (call_id, request_id, created_at, parts) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (call_id) DO UPDATE SET request_id = EXCLUDED.request_id,"
    " created_at = EXCLUDED.created_at, parts = EXCLUDED.parts"
    " WHERE reasoning.created_at <= EXCLUDED.created_at"
)
_INSERT_RESPONSE = (
    "INSERT INTO responses (response_id, request_id, created_at, messages)"
    " VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (response_id) DO UPDATE SET request_id = EXCLUDED.request_id,"
    " created_at = EXCLUDED.created_at, messages = EXCLUDED.messages"
)
# Any constant: gateways starting at once take turns migrating on this advisory lock.
_MIGRATION_LOCK = 0x706F6E646572  # "ponder"
CONNECT_TIMEOUT_S = 5.0
ACQUIRE_TIMEOUT_S = 2.0  # a write waiting longer than this for a connection: the DB is down


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for logs and the start-up line."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _import_psycopg() -> tuple[Any, Any]:
    try:
        import psycopg
        import psycopg_pool
    except ModuleNotFoundError:
        from ponder.errors import ConfigError

        raise ConfigError(
            "A postgresql:// trace store needs psycopg 3 and its pool: "
            "pip install 'ponder[postgres]'."
        ) from None
    return psycopg, psycopg_pool


def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


def _row(record: TraceRecord) -> tuple[Any, ...]:
    values = []
    for name in _COLUMNS:
        value = getattr(record, name)
        if name in _JSON_COLUMNS:
            value = None if value is None else json.dumps(value)
        elif name in _TEXT_COLUMNS and value is not None:
            value = _clean(value)
        values.append(value)
    return tuple(values)


def _where(q: TraceQuery) -> tuple[str, list[Any]]:
    return where_clause(q, "%s", "strpos({}, {}) > 0")


def _record(row: Sequence[Any]) -> TraceRecord:
    data = dict(zip(_COLUMNS, row, strict=True))
    for name in _LIST_COLUMNS:
        if data[name] is None:
            data[name] = []
    return TraceRecord(**data)


async def migrate(conn: AsyncConnection[Any]) -> list[str]:
    """Apply every migration not yet applied (``conn`` in autocommit); return their names."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS ponder_migrations ("
            " name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        cursor = await conn.execute("SELECT name FROM ponder_migrations")
        done = {row[0] for row in await cursor.fetchall()}
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql.encode())  # no parameters: several statements at once
                await conn.execute(
                    "INSERT INTO ponder_migrations (name, applied_at) VALUES (%s, %s)",
                    (name, time.time()),
                )
            applied.append(name)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


class PostgresStore(TraceStore):
    """Traces in PostgreSQL at ``dsn``, through a pool of at most ``pool_size`` connections."""

    def __init__(self, dsn: str, pool_size: int = 4) -> None:
        # While the database is down the pool would log every reconnection attempt; the
        # writer logs the outage once, when it starts and when it ends, and counts it.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        self.dsn = dsn
        self.label = redact_dsn(dsn)
        self.pool_size = max(1, pool_size)
        self._pool: AsyncConnectionPool[Any] | None = None

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"{self.label}: {type(exc).__name__}: {exc}")

    async def open(self) -> list[str]:
        psycopg, psycopg_pool = _import_psycopg()
        kwargs = {"connect_timeout": int(CONNECT_TIMEOUT_S), "application_name": "ponder"}
        try:
            conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, **kwargs)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc
        try:
            applied = await migrate(conn)
        finally:
            await conn.close()
        self._pool = psycopg_pool.AsyncConnectionPool(
            self.dsn,
            kwargs=kwargs,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            check=psycopg_pool.AsyncConnectionPool.check_connection,  # a restarted DB
            timeout=ACQUIRE_TIMEOUT_S,
            reconnect_timeout=0,  # keep trying to reconnect for as long as the DB is away
            name="ponder-traces",
        )
        try:
            await self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            await self._pool.close()
            self._pool = None
            raise self._unavailable(exc) from exc
        return applied

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _ready_pool(self) -> AsyncConnectionPool[Any]:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        return self._pool

    async def write(self, records: Sequence[TraceRecord]) -> None:
        if not records:
            return
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        try:
            async with pool.connection() as conn, conn.cursor() as cursor:
                await cursor.executemany(_INSERT, [_row(r) for r in records])
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    async def query(self, q: TraceQuery) -> list[TraceRecord]:
        psycopg, psycopg_pool = _import_psycopg()
        where, args = _where(q)
        order = (
            "cost_usd DESC NULLS LAST, created_at DESC, id DESC"
            if q.sort == "cost"
            else "created_at DESC, id DESC"
        )
        sql = f"SELECT {', '.join(_COLUMNS)} FROM traces{where} ORDER BY {order}"
        if q.limit is not None:
            sql += " LIMIT %s"
            args.append(q.limit)
        pool = await self._ready_pool()
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, args)
                rows = await cursor.fetchall()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc
        return [_record(row) for row in rows]

    async def write_reasoning(self, records: Sequence[ReasoningRecord]) -> None:
        if not records:
            return
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        rows = [(r.call_id, r.request_id, r.created_at, r.parts) for r in records]
        try:
            async with pool.connection() as conn, conn.cursor() as cursor:
                await cursor.executemany(_INSERT_REASONING, rows)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    async def write_responses(self, records: Sequence[ResponseRecord]) -> None:
        if not records:
            return
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        rows = [(r.response_id, r.request_id, r.created_at, r.messages) for r in records]
        try:
            async with pool.connection() as conn, conn.cursor() as cursor:
                await cursor.executemany(_INSERT_RESPONSE, rows)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc

    async def find_response(self, response_id: str) -> ResponseRecord | None:
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        sql = (
            "SELECT response_id, request_id, created_at, messages FROM responses"
            " WHERE response_id = %s"
        )
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, (response_id,))
                row = await cursor.fetchone()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc
        return ResponseRecord(*row) if row is not None else None

    async def find_reasoning(self, call_ids: Sequence[str]) -> list[ReasoningRecord]:
        if not call_ids:
            return []
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        sql = (
            "SELECT call_id, request_id, created_at, parts FROM reasoning"
            " WHERE call_id = ANY(%s)"
        )
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, (list(call_ids),))
                rows = await cursor.fetchall()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc
        return [ReasoningRecord(*row) for row in rows]

    async def spend_since(self, model: str, since: float) -> float:
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        sql = "SELECT COALESCE(SUM(cost_usd), 0) FROM traces WHERE model = %s AND created_at >= %s"
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(sql, (model, since))
                row = await cursor.fetchone()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc
        return float(row[0]) if row is not None else 0.0

    async def conversations(
        self, limit: int, before: float | None = None
    ) -> list[ConversationSummary]:
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        try:
            async with pool.connection() as conn:
                sql = conv.list_sql("%s", before)
                cursor = await conn.execute(sql, conv.list_args(limit, before))
                rows = await cursor.fetchall()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc
        return [conv.summary(row) for row in rows]

    async def delete_conversation(self, conversation_id: str) -> int:
        psycopg, psycopg_pool = _import_psycopg()
        pool = await self._ready_pool()
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    "DELETE FROM traces WHERE conversation_id = %s", (conversation_id,)
                )
                deleted: int = cursor.rowcount
                return deleted
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise self._unavailable(exc) from exc
