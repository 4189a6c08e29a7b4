"""The sql verifier on its own: answer text in, verdict with a reason out.

Test-suite accuracy: a query is correct only if its rows match the gold query's on the main
database *and* on each of the question's variant databases (:mod:`.variants`), compared
Spider-style (:mod:`.compare`). The first database where it differs decides the reason, which
names that database and what it plants ("wrong on the edges-first variant (orders at exactly
each bound …): the result has 4 rows; the correct result has 3").

:class:`SqlJudge` needs only the engine, the database files and the gold query, so the bench
and a live request (a hedged answer accepted on the same verifier) call it the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.bench.extract import last_fenced
from ponder.bench.suite import Verdict
from ponder.bench.suites.sql import engines
from ponder.bench.suites.sql.compare import compare_results
from ponder.bench.suites.sql.dsn import Engine
from ponder.bench.suites.sql.execute import QueryError, QueryResult
from ponder.bench.suites.sql.mutants import mistake_in_words, mutants
from ponder.bench.suites.sql.variants import KINDS, describe, rows_digest, variant_rows

if TYPE_CHECKING:
    from ponder.bench.suites.sql.duckdb_execute import DuckDbPool

MAIN = "main"
VARIANTS_FOLDER = "sql-variants"
_STARTS = ("select", "with")


def extract_sql(answer: str) -> str | None:
    """The last ```sql block; else a bare answer that is itself a query."""
    fenced = last_fenced(answer, ("sql", "sqlite", "duckdb"))
    if fenced:
        return fenced
    text = answer.strip()
    return text if text.lower().startswith(_STARTS) else None


@dataclass(frozen=True, slots=True)
class Database:
    """One database a query is judged on: ``main`` or a variant's name, its file (and schema,
    where several share a file), and what it is, in words, for the verdict's reason."""

    name: str
    path: Path
    about: str
    schema: str | None = None


def main_database(path: Path) -> Database:
    return Database(MAIN, path, "the main database")


def build_variants_for(
    engine: Engine, folder: Path, seed: int, golds: Sequence[str]
) -> list[list[Database]]:
    """Each question's variant databases (given its gold SQL), built under ``folder`` at once.

    Named by content: a variant two questions share is built once, and a built one is reused.
    """
    planned: list[list[tuple[str, str, str]]] = []  # per gold: (kind, content name, about)
    rows = {}
    for gold in golds:
        mine = []
        for kind in KINDS:
            table_rows = variant_rows(kind, gold, seed)
            name = f"v_{kind.name.replace('-', '_')}_{rows_digest(table_rows)}"
            rows[name] = table_rows
            mine.append((kind.name, name, describe(kind, gold)))
        planned.append(mine)
    where = engines.write_many(engine, folder, rows)
    return [
        [Database(kind, where[name][0], about, where[name][1]) for kind, name, about in mine]
        for mine in planned
    ]


def build_variants(engine: Engine, folder: Path, seed: int, gold: str) -> list[Database]:
    """One question's variant databases (see :func:`build_variants_for`)."""
    return build_variants_for(engine, folder, seed, [gold])[0]


class GoldCache:
    """Gold results by (engine, file, query): each gold runs once per database (thread-safe)."""

    def __init__(self) -> None:
        self._results: dict[tuple[str, str, str], QueryResult] = {}
        self._lock = threading.Lock()

    def result(
        self, engine: Engine, db: Database, gold: str, pool: DuckDbPool | None = None
    ) -> QueryResult:
        key = (engine, f"{db.path}#{db.schema}", gold)
        with self._lock:
            cached = self._results.get(key)
        if cached is None:
            cached = engines.run(engine, db.path, gold, timeout_s=60.0, pool=pool, schema=db.schema)
            with self._lock:
                self._results[key] = cached
        return cached


@dataclass(frozen=True, slots=True)
class SqlJudge:
    """Judges answers to one question: its gold query on ``databases`` (main first)."""

    engine: Engine
    databases: Sequence[Database]
    gold: str
    ordered: bool = False
    timeout_s: float = 5.0
    cache: GoldCache | None = None
    # DuckDB: keep the variants' connections open (they are never rewritten in place);
    # ``pool_main`` too for the main database, where nothing rebuilds it meanwhile (a batch).
    pool: DuckDbPool | None = None
    pool_main: bool = False
    # Say which classic mistake a wrong answer's rows match, when one does (costs a query per
    # gold mutant on the variant where it failed; off for the mutation check itself).
    explain: bool = True

    def __post_init__(self) -> None:
        if not self.databases:
            raise ValueError("SqlJudge needs at least one database (the main one first)")

    def judge(self, answer: str) -> Verdict:
        """The verdict on the model's full answer text (the query is its last ```sql block)."""
        sql = extract_sql(answer)
        if sql is None:
            return Verdict(False, "no SQL query found; put it in a ```sql fenced block")
        return self.judge_sql(sql)

    def judge_sql(self, sql: str) -> Verdict:
        """The verdict on a bare query: right only if right on every database."""
        cache = self.cache or GoldCache()
        reason = ""
        for db in self.databases:
            pool = self.pool if db.name != MAIN or self.pool_main else None
            expected = cache.result(self.engine, db, self.gold, pool)
            try:
                got = engines.run(
                    self.engine, db.path, sql, self.timeout_s, pool=pool, schema=db.schema
                )
            except QueryError as exc:
                if db.name == MAIN or exc.refused:
                    return Verdict(False, exc.message, sql)
                return Verdict(False, f"fails on {db.about}: {exc.message}", sql)
            ok, reason = compare_results(expected, got, ordered=self.ordered)
            if not ok and db.name == MAIN:
                return Verdict(False, reason, sql)
            if not ok:
                hint = self._likely_mistake(db, got, cache, pool) if self.explain else ""
                return Verdict(False, f"wrong on {db.about}: {reason}{hint}", sql)
        variants = len(self.databases) - 1
        if variants <= 0:
            return Verdict(True, reason, sql)
        return Verdict(True, f"{reason} on the main database and all {variants} variants", sql)

    def _likely_mistake(
        self, db: Database, got: QueryResult, cache: GoldCache, pool: DuckDbPool | None
    ) -> str:
        """``"; <what it looks like>"`` when the wrong rows are exactly those of one classic
        mistake (a mutant of the gold) on this database, else ``""``."""
        for mutant in mutants(self.gold):
            try:
                theirs = cache.result(self.engine, db, mutant.sql, pool)
            except QueryError:
                continue
            if compare_results(theirs, got, ordered=self.ordered)[0]:
                return f"; {mistake_in_words(mutant)}"
        return ""
