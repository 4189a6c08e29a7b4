"""Run a model's SQL against the database, read-only, bounded in time and rows.

Three independent locks, so one mistake in any of them still leaves the file untouched:

1. the file is opened with a ``file:...?mode=ro`` URI (the OS-level handle is read-only);
2. ``PRAGMA query_only = ON``;
3. an authorizer that allows only reading (SELECT, column reads, functions, recursive CTEs)
   and refuses writes, schema changes, ATTACH/DETACH, PRAGMA, transactions and dangerous
   functions (``load_extension`` and friends).

A progress handler interrupts the query after ``timeout_s``; more than ``max_rows`` rows is an
error. Only one statement is accepted (the sqlite3 module refuses a second).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQLITE_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, SQLITE_RECURSIVE}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
_ACTION_NAMES = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_").lower().replace("_", " ")
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE", "SQLITE_DROP", "SQLITE_ALTER"))
    or name
    in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_PRAGMA",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
        "SQLITE_ANALYZE",
        "SQLITE_REINDEX",
    )
}

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


class QueryError(Exception):
    """The query could not be run; ``refused`` when it tried something not allowed."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.refused = refused


def connect_read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{path.resolve().as_posix()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def run_query(path: Path, sql: str, timeout_s: float = 5.0, max_rows: int = 10_000) -> QueryResult:
    """Rows of ``sql`` on the database at ``path``; :class:`QueryError` when it cannot run."""
    conn = connect_read_only(path)
    refusals: list[str] = []

    def authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
        if action in _ALLOWED_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in _DENIED_FUNCTIONS:
                refusals.append(f"the function {arg2}()")
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        refusals.append(_ACTION_NAMES.get(action, f"action {action}"))
        return sqlite3.SQLITE_DENY

    deadline = time.monotonic() + timeout_s

    def check_time() -> int:
        return 1 if time.monotonic() > deadline else 0

    conn.set_authorizer(authorize)
    conn.set_progress_handler(check_time, 1000)
    try:
        cursor = conn.execute(sql)
        rows: list[Row] = []
        while True:
            batch = cursor.fetchmany(500)
            if not batch:
                break
            rows.extend(tuple(r) for r in batch)
            if len(rows) > max_rows:
                raise QueryError(f"the query returned more than {max_rows} rows")
        columns = tuple(d[0] for d in cursor.description or ())
        return QueryResult(columns, tuple(rows))
    except (sqlite3.Error, sqlite3.Warning) as exc:
        if refusals:
            raise QueryError(
                f"refused: the query tried {refusals[0]}; only reading (SELECT) is allowed",
                refused=True,
            ) from exc
        text = str(exc)
        if "interrupted" in text:
            raise QueryError(f"the query ran longer than {timeout_s:g} s and was stopped") from exc
        raise QueryError(f"SQLite error: {text}") from exc
    finally:
        conn.close()
