"""Run a model's SQL against a DuckDB file, read-only, bounded in time, memory and rows.

Three independent locks, so one mistake in any of them still leaves the file untouched:

1. the file is opened with ``read_only=True`` (DuckDB refuses every write to it);
2. the text must parse to exactly one SELECT statement (``duckdb.extract_statements``), so
   DELETE, CREATE, COPY, ATTACH, SET, PRAGMA, CALL and INSTALL/LOAD are refused unrun;
3. ``enable_external_access = false`` with the configuration locked: no reading or writing
   other files (``read_csv``, ``COPY``), no ATTACH, no extensions, and no SET to undo it.

A timer calls ``interrupt()`` after ``timeout_s``; the query gets one thread and 1 GB of
memory; more than ``max_rows`` rows is an error. Values come back as SQLite's would, so the
comparison is engine-blind: DECIMAL as float, DATE/TIMESTAMP/TIME as ISO text, UUID as text.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from ponder.bench.suites.sql.execute import QueryError, QueryResult, Row

MEMORY_LIMIT = "1GB"
_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "threads": 1,
    "memory_limit": MEMORY_LIMIT,
    "temp_directory": "",  # no spilling to disk: past the memory limit the query fails
    "lock_configuration": True,
}

_KIND_NAMES = {"LOAD": "install/load", "VARIABLE_SET": "set", "CREATE_FUNC": "create function"}


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection with the locks above (one configuration for every reader)."""
    return duckdb.connect(str(path.resolve()), read_only=True, config=dict(_CONFIG))


def check_statement(sql: str) -> None:
    """Raise :class:`QueryError` unless ``sql`` is exactly one SELECT statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(f"DuckDB error: {_text(exc)}") from exc
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            name = statement.type.name
            kind = _KIND_NAMES.get(name, name.lower().replace("_", " "))
            raise QueryError(
                f"refused: the query tried {kind}; only reading (SELECT) is allowed",
                refused=True,
            )
    if len(statements) != 1:
        raise QueryError(
            "DuckDB error: no statement found"
            if not statements
            else "DuckDB error: only one statement at a time is allowed"
        )


class DuckDbPool:
    """Read-only connections kept open across queries, one per file (opening one costs ~20 ms).

    For files that are never rewritten in place (the content-named variant databases) and
    batches of many queries (the mutation check); each query gets its own cursor, so threads
    do not share one. :meth:`close` when done.
    """

    def __init__(self) -> None:
        self._open: dict[Path, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    def cursor(self, path: Path) -> duckdb.DuckDBPyConnection:
        key = path.resolve()
        with self._lock:
            conn = self._open.get(key)
            if conn is None:
                conn = self._open[key] = connect_read_only(key)
            return conn.cursor()

    def close(self) -> None:
        with self._lock:
            for conn in self._open.values():
                conn.close()
            self._open.clear()


def run_duckdb_query(
    path: Path,
    sql: str,
    timeout_s: float = 5.0,
    max_rows: int = 10_000,
    pool: DuckDbPool | None = None,
    schema: str | None = None,
) -> QueryResult:
    """Rows of ``sql`` on the DuckDB file at ``path`` (its ``schema`` when given: the variant
    databases share one file); :class:`QueryError` when it cannot run."""
    check_statement(sql)
    try:
        conn = pool.cursor(path) if pool is not None else connect_read_only(path)
        if schema is not None:
            conn.execute(f"USE {_identifier(schema)}")  # the connection's own setting
    except duckdb.Error as exc:
        raise QueryError(f"DuckDB error: could not open {path}: {_text(exc)}") from exc
    timer = threading.Timer(timeout_s, conn.interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = conn.execute(sql)
        columns = tuple(d[0] for d in cursor.description or ())
        rows: list[Row] = []
        while True:
            batch = cursor.fetchmany(500)
            if not batch:
                break
            rows.extend(tuple(_plain(v) for v in r) for r in batch)
            if len(rows) > max_rows:
                raise QueryError(f"the query returned more than {max_rows} rows")
        return QueryResult(columns, tuple(rows))
    except duckdb.InterruptException as exc:
        raise QueryError(f"the query ran longer than {timeout_s:g} s and was stopped") from exc
    except duckdb.OutOfMemoryException as exc:
        raise QueryError(f"the query needed more than {MEMORY_LIMIT} of memory") from exc
    except duckdb.PermissionException as exc:
        raise QueryError(
            "refused: the query tried to reach outside the database; only reading (SELECT)"
            " from its tables is allowed",
            refused=True,
        ) from exc
    except duckdb.Error as exc:
        raise QueryError(f"DuckDB error: {_text(exc)}") from exc
    finally:
        timer.cancel()
        conn.close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a schema name: {name!r}")
    return name


def _plain(value: Any) -> Any:
    """The value as SQLite would have returned it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _text(exc: BaseException) -> str:
    return str(exc).strip()
