"""The generated database, written as a DuckDB file: the same rows as the SQLite one.

The schema is SQLite's with one change: money is ``DOUBLE`` (DuckDB's ``REAL`` is 32-bit),
so every amount — whole quarters of a dollar — is stored exactly as in SQLite. Timestamps stay
TEXT ``'YYYY-MM-DD HH:MM:SS'``, so date windows compare the same strings on both engines.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import duckdb

from ponder.bench.suites.sql.data import (
    SCHEMA_VERSION,
    TABLES,
    TableRows,
    check_replaceable,
    duckdb_schema,
    table_rows,
)
from ponder.bench.suites.sql.duckdb_execute import connect_read_only

_CHUNK = 500  # rows per multi-row INSERT (executemany is row by row in DuckDB)


def build_duckdb_database(path: Path, seed: int) -> Path:
    """Write the DuckDB database for ``seed`` to ``path`` (reused when already built for it)."""
    built_for = duckdb_built_for(path)
    if built_for == (SCHEMA_VERSION, seed):
        return path
    check_replaceable(path, built_for)
    return write_duckdb(path, table_rows(seed))


def write_duckdb(path: Path, rows: TableRows) -> Path:
    """Write ``rows`` (every table, ``_meta`` included) as a DuckDB file at ``path``, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = duckdb.connect(str(tmp), config={"enable_external_access": False})
    try:
        conn.execute(duckdb_schema())
        conn.execute("CREATE TABLE _meta (schema_version INTEGER, seed INTEGER)")
        for table in ("_meta", *TABLES):
            if rows[table]:
                _insert(conn, table, rows[table])
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def write_duckdb_schemas(path: Path, schemas: Mapping[str, TableRows]) -> Path:
    """Write several databases' ``rows`` into one DuckDB file, one schema each, atomically.

    Creating a DuckDB file costs tens of milliseconds; the variant databases of every question
    (hundreds of tiny ones) share one file instead, a query picking its schema with ``USE``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = duckdb.connect(str(tmp), config={"enable_external_access": False})
    try:
        conn.execute("BEGIN TRANSACTION")  # one commit for all, not one per statement
        for schema, rows in schemas.items():
            conn.execute(f"CREATE SCHEMA {schema}; USE {schema}")
            conn.execute(duckdb_schema())
            conn.execute("CREATE TABLE _meta (schema_version INTEGER, seed INTEGER)")
            for table in ("_meta", *TABLES):
                if rows[table]:
                    _insert(conn, table, rows[table])
        conn.execute("COMMIT")
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: list[tuple[object, ...]]) -> None:
    width = len(rows[0])
    one = "(" + ", ".join("?" * width) + ")"
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        values = ", ".join([one] * len(chunk))
        conn.execute(f"INSERT INTO {table} VALUES {values}", [v for row in chunk for v in row])


def duckdb_built_for(path: Path) -> tuple[int, int] | None:
    """``(schema_version, seed)`` of a DuckDB file this module wrote; None for anything else."""
    if not path.is_file():
        return None
    try:
        conn = connect_read_only(path)
        try:
            row = conn.execute("SELECT schema_version, seed FROM _meta").fetchone()
        finally:
            conn.close()
    except duckdb.Error:
        return None
    return (int(row[0]), int(row[1])) if row else None
