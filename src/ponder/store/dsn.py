"""Choosing a backend by DSN: ``postgresql://…`` is PostgreSQL, anything else a SQLite path.

``--db`` wins, then ``$PONDER_DB``, then ``$XDG_DATA_HOME/ponder/traces.db``. A table of
schemes, not a chain of branches: a new backend is one more entry in ``BACKENDS``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from ponder.store.base import TraceQuery, TraceStore
from ponder.store.record import TraceRecord

DB_ENV = "PONDER_DB"
SQLITE_PREFIX = "sqlite:///"
DEFAULT_POOL_SIZE = 4


def default_dsn() -> str:
    """``$PONDER_DB``, else ``$XDG_DATA_HOME/ponder/traces.db`` (``~/.local/share/...``)."""
    explicit = os.environ.get(DB_ENV)
    if explicit:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ponder" / "traces.db")


def resolve_dsn(explicit: str | Path | None) -> str:
    return str(explicit) if explicit else default_dsn()


def scheme(dsn: str) -> str:
    head, sep, _ = dsn.partition("://")
    return head.lower() if sep else "sqlite"


def _sqlite(dsn: str, pool_size: int) -> TraceStore:
    from ponder.store.sqlite import SqliteStore

    return SqliteStore(dsn.removeprefix(SQLITE_PREFIX))


def _postgres(dsn: str, pool_size: int) -> TraceStore:
    from ponder.store.postgres import PostgresStore

    return PostgresStore(dsn, pool_size=pool_size)


BACKENDS: dict[str, Callable[[str, int], TraceStore]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def make_store(dsn: str | Path, pool_size: int = DEFAULT_POOL_SIZE) -> TraceStore:
    """A backend for ``dsn``, not yet opened (open it in the loop that will use it)."""
    text = str(dsn)
    factory = BACKENDS.get(scheme(text))
    if factory is None:
        from ponder.errors import ConfigError

        known = ", ".join(f"{name}://" for name in BACKENDS if name != "sqlite")
        raise ConfigError(
            f"Unknown trace store {scheme(text)!r} in --db: use a file path for SQLite,"
            f" or {known}."
        )
    return factory(text, pool_size)


def is_missing_sqlite(dsn: str) -> bool:
    """A SQLite path that does not exist: reading it finds nothing (and creates nothing)."""
    if scheme(dsn) != "sqlite":
        return False
    path = dsn.removeprefix(SQLITE_PREFIX)
    return path != ":memory:" and not Path(path).exists()


def read_traces(dsn: str | Path, q: TraceQuery) -> list[TraceRecord]:
    """Open, query and close, synchronously: the read path of the CLI."""
    text = str(dsn)
    if is_missing_sqlite(text):
        return []

    async def once() -> list[TraceRecord]:
        store = make_store(text, pool_size=1)
        await store.open()
        try:
            return await store.query(q)
        finally:
            await store.close()

    return asyncio.run(once())


def migrate_store(dsn: str | Path) -> list[str]:
    """Apply pending migrations to the store at ``dsn``; the names applied now."""

    async def once() -> list[str]:
        store = make_store(dsn, pool_size=1)
        applied = await store.open()
        await store.close()
        return applied

    return asyncio.run(once())
