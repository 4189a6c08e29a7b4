"""The sql suite's engines behind one interface: build the database, run a query, describe it.

SQLite needs nothing beyond the standard library; DuckDB is imported only when used, and its
absence is a :class:`ConfigError` saying what to install.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.bench.suites.sql.data import (
    SCHEMA,
    TableRows,
    build_database,
    duckdb_schema,
    write_sqlite,
)
from ponder.bench.suites.sql.dsn import Dsn, Engine
from ponder.bench.suites.sql.execute import QueryResult, run_query
from ponder.errors import ConfigError

if TYPE_CHECKING:
    from ponder.bench.suites.sql.duckdb_execute import DuckDbPool

DIALECT: dict[Engine, str] = {"sqlite": "SQLite", "duckdb": "DuckDB"}
INSTALL_DUCKDB = "DuckDB support needs the duckdb package: pip install 'ponder[duckdb]'."


def require_engine(engine: Engine) -> None:
    """Raise :class:`ConfigError` when ``engine``'s driver is not installed."""
    if engine == "duckdb":
        try:
            import duckdb  # noqa: F401
        except ImportError as exc:
            raise ConfigError(INSTALL_DUCKDB) from exc


def build(dsn: Dsn, workdir: Path, seed: int) -> Path:
    """The database file for ``seed`` where ``dsn`` says, built when missing or stale."""
    path = dsn.database_file(workdir, seed)
    if dsn.engine == "sqlite":
        return build_database(path, seed)
    require_engine("duckdb")
    from ponder.bench.suites.sql.duckdb_data import build_duckdb_database

    return build_duckdb_database(path, seed)


def write(engine: Engine, path: Path, rows: TableRows) -> Path:
    """Write ``rows`` as a fresh database file for ``engine`` at ``path`` (atomically)."""
    if engine == "sqlite":
        return write_sqlite(path, rows)
    require_engine("duckdb")
    from ponder.bench.suites.sql.duckdb_data import write_duckdb

    return write_duckdb(path, rows)


def write_many(
    engine: Engine, folder: Path, databases: Mapping[str, TableRows]
) -> dict[str, tuple[Path, str | None]]:
    """Write many small databases (named by content) under ``folder``; where each one is.

    SQLite: a file per database (``<name>.sqlite``), written when missing. DuckDB: one file
    for all, a schema each (``<name>`` must be an identifier), named by the set it holds.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if engine == "sqlite":
        out: dict[str, tuple[Path, str | None]] = {}
        for name, rows in databases.items():
            path = folder / f"{name}.sqlite"
            if not path.is_file():
                write_sqlite(path, rows)
            out[name] = (path, None)
        return out
    require_engine("duckdb")
    from ponder.bench.suites.sql.duckdb_data import write_duckdb_schemas

    names = sorted(databases)
    digest = hashlib.sha256(" ".join(names).encode()).hexdigest()[:12]
    path = folder / f"variants-{digest}.duckdb"
    if not path.is_file():
        write_duckdb_schemas(path, {name: databases[name] for name in names})
    return {name: (path, name) for name in names}


def run(
    engine: Engine,
    path: Path,
    sql: str,
    timeout_s: float = 5.0,
    max_rows: int = 10_000,
    pool: DuckDbPool | None = None,
    schema: str | None = None,
) -> QueryResult:
    """Rows of ``sql``, read-only and bounded; :class:`QueryError` when it cannot run.

    DuckDB only: ``pool`` reuses open read-only connections (SQLite opens in microseconds);
    ``schema`` picks the database inside a file of several (:func:`write_many`).
    """
    if engine == "sqlite":
        if schema is not None:
            raise ValueError("SQLite databases have no schemas here; one file per database")
        return run_query(path, sql, timeout_s=timeout_s, max_rows=max_rows)
    require_engine("duckdb")
    from ponder.bench.suites.sql.duckdb_execute import run_duckdb_query

    return run_duckdb_query(
        path, sql, timeout_s=timeout_s, max_rows=max_rows, pool=pool, schema=schema
    )


def pool(engine: Engine) -> DuckDbPool | None:
    """A connection pool for a batch of queries on ``engine`` (None where none is needed)."""
    if engine == "sqlite":
        return None
    require_engine("duckdb")
    from ponder.bench.suites.sql.duckdb_execute import DuckDbPool

    return DuckDbPool()


def schema(engine: Engine) -> str:
    """The DDL the model is shown, in the engine's types."""
    return SCHEMA if engine == "sqlite" else duckdb_schema()
