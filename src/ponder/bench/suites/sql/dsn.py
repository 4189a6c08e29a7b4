"""Where the sql suite's database lives: a DSN naming the engine and the file.

Accepted, in SQLAlchemy's spelling (three slashes, then the path; a fourth slash makes it
absolute):

- ``sqlite:///runs/bench.sqlite`` — SQLite (the default engine);
- ``duckdb:////tmp/bench.duckdb`` — DuckDB (needs the ``duckdb`` extra);
- ``sqlite://`` or ``duckdb://`` — that engine, at the default file ``sql-<seed>.sqlite`` /
  ``sql-<seed>.duckdb`` in the run's output folder.

Anything else (PostgreSQL included, not supported yet) is a :class:`DsnError` naming these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ponder.errors import ConfigError

Engine = Literal["sqlite", "duckdb"]
ENGINES: tuple[Engine, ...] = ("sqlite", "duckdb")
ACCEPTED = (
    "sqlite:///PATH (the default engine) or duckdb:///PATH; three slashes for a relative path,"
    " four for an absolute one"
)
_SUFFIX: dict[Engine, str] = {"sqlite": "sqlite", "duckdb": "duckdb"}
_NOT_YET = {"postgres", "postgresql", "pg", "mysql", "mariadb", "mssql", "oracle"}


class DsnError(ConfigError):
    """A DSN the sql suite cannot use; the message names the accepted forms."""


@dataclass(frozen=True, slots=True)
class Dsn:
    engine: Engine
    path: Path | None = None  # None: sql-<seed>.<engine> in the run's output folder

    def database_file(self, workdir: Path, seed: int) -> Path:
        return self.path or workdir / f"sql-{seed}.{_SUFFIX[self.engine]}"

    def __str__(self) -> str:
        return f"{self.engine}:///{self.path}" if self.path else f"{self.engine}://"


DEFAULT_DSN = Dsn("sqlite")


def parse_dsn(value: str) -> Dsn:
    """The :class:`Dsn` for ``value``; :class:`DsnError` naming the accepted forms otherwise."""
    scheme, sep, rest = value.strip().partition("://")
    scheme = scheme.lower().split("+", 1)[0]  # postgresql+psycopg names the same engine
    if not sep or not scheme:
        raise DsnError(f"{value!r} is not a database DSN; expected {ACCEPTED}.")
    if scheme not in ENGINES:
        hint = " PostgreSQL and other servers are not supported yet." if scheme in _NOT_YET else ""
        raise DsnError(
            f"Unsupported database DSN scheme {scheme + '://'!r}: expected {ACCEPTED}.{hint}"
        )
    engine: Engine = "sqlite" if scheme == "sqlite" else "duckdb"
    if not rest:
        return Dsn(engine)
    if not rest.startswith("/"):
        raise DsnError(f"{value!r} names a host, not a file. Expected {ACCEPTED}.")
    path = rest[1:]
    if not path or path == ":memory:" or "?" in path:
        raise DsnError(
            f"{value!r}: in-memory databases and URI options are not supported; the database"
            f" is a file. Expected {ACCEPTED}."
        )
    return Dsn(engine, Path(path).expanduser())
