"""The ``sql`` suite: generator (database, variants, questions), prompt, and verifier.

Each task is judged by :class:`.judge.SqlJudge` on the main database and the question's
variant databases (test-suite accuracy, :mod:`.variants`); the variants live in
``sql-variants/`` in the run's output folder, whatever the DSN says about the main database.

The database is SQLite by default, in the run's output folder; :meth:`SqlSuite.use_dsn`
(``ponder bench correct --dsn``) puts it elsewhere or on DuckDB (see :mod:`.dsn`). The
questions and gold SQL are the same on every engine; the prompt names the engine's dialect.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.bench.strength import sql_judging
from ponder.bench.suite import Task, Verdict
from ponder.bench.suites.sql import engines
from ponder.bench.suites.sql.dsn import DEFAULT_DSN, Dsn, Engine, parse_dsn
from ponder.bench.suites.sql.execute import QueryResult
from ponder.bench.suites.sql.judge import (
    VARIANTS_FOLDER,
    Database,
    GoldCache,
    SqlJudge,
    build_variants_for,
    extract_sql,
    main_database,
)
from ponder.bench.suites.sql.questions import Question, all_questions

if TYPE_CHECKING:
    from ponder.bench.suites.sql.duckdb_execute import DuckDbPool

__all__ = ["CONVENTIONS", "PROMPT", "SqlSuite", "extract_sql"]

CONVENTIONS = """\
Conventions:
- Timestamps are TEXT 'YYYY-MM-DD HH:MM:SS' (UTC). A calendar month runs from the 1st at
  00:00:00 (inclusive) to the 1st of the next month at 00:00:00 (exclusive).
- A user's "spend" is the sum of amount over their orders with status 'completed'; an order
  whose amount is NULL (never recorded) counts as 0.
- An order is "refunded" when it has at least one row in refunds; an order can have several
  (partial) refunds."""

PROMPT = """\
You are working with this {dialect} database:

{schema}
{conventions}

Question: {question}

Write one {dialect} SELECT query that answers the question, returning exactly the columns asked
for. Put the query in a ```sql fenced block."""


class SqlSuite:
    name = "sql"
    description = (
        "questions over a generated e-commerce database (users, orders, refunds); SQLite, or"
        " DuckDB with --dsn"
    )
    judging = sql_judging()

    def __init__(self, timeout_s: float = 5.0, dsn: str | Dsn | None = None) -> None:
        self.timeout_s = timeout_s
        self.dsn = DEFAULT_DSN
        if dsn is not None:
            self.use_dsn(dsn)
        self._gold = GoldCache()
        # DuckDB: the variants' connections stay open across verdicts (a connection costs
        # ~20 ms and a verdict runs on ten variants). Content-named files, never rewritten in
        # place, so an open connection never reads a stale database; the main one is reopened.
        self._pools: dict[Engine, DuckDbPool | None] = {}
        self._lock = threading.Lock()

    def use_dsn(self, dsn: str | Dsn) -> None:
        """Build and query the database where ``dsn`` says (:class:`DsnError` if unusable)."""
        parsed = parse_dsn(dsn) if isinstance(dsn, str) else dsn
        engines.require_engine(parsed.engine)
        self.dsn = parsed

    def levels(self) -> list[int]:
        return sorted({q.level for _, q in all_questions()})

    def questions(self) -> list[tuple[str, Question]]:
        return all_questions()

    def prompt(self, question: Question, engine: Engine = "sqlite") -> str:
        return PROMPT.format(
            dialect=engines.DIALECT[engine],
            schema=engines.schema(engine).strip(),
            conventions=CONVENTIONS,
            question=question.text,
        )

    def generate(self, n_per_level: int, seed: int, workdir: Path) -> list[Task]:
        engine = self.dsn.engine
        db = engines.build(self.dsn, workdir, seed)
        rng = random.Random(f"ponder-sql-questions-{seed}")
        chosen: list[tuple[str, Question]] = []
        for level in self.levels():
            pool = [(qid, q) for qid, q in all_questions() if q.level == level]
            rng.shuffle(pool)
            chosen.extend(sorted(pool[:n_per_level]))
        variants = build_variants_for(
            engine, workdir / VARIANTS_FOLDER, seed, [q.gold for _, q in chosen]
        )
        return [
            Task(
                id=qid,
                suite=self.name,
                family="sql",
                level=question.level,
                template=question.template,
                prompt=self.prompt(question, engine),
                seed=seed,
                data={
                    "db": str(db),
                    "engine": engine,
                    "gold": question.gold,
                    "ordered": question.ordered,
                    "variants": [[v.name, str(v.path), v.about, v.schema] for v in mine],
                },
                reference=question.gold,
            )
            for (qid, question), mine in zip(chosen, variants, strict=True)
        ]

    def gold_result(self, db: Path, gold: str, engine: Engine = "sqlite") -> QueryResult:
        return self._gold.result(engine, main_database(db), gold)

    def judge(self, task: Task) -> SqlJudge:
        """The verifier for ``task``: its main database, then its variants."""
        variants = [
            Database(str(n), Path(str(p)), str(a), None if s is None else str(s))
            for n, p, a, s in task.data.get("variants", ())
        ]
        return SqlJudge(
            engine=_engine_of(task),
            databases=[main_database(Path(str(task.data["db"]))), *variants],
            gold=str(task.data["gold"]),
            ordered=bool(task.data["ordered"]),
            timeout_s=self.timeout_s,
            cache=self._gold,
            pool=self._pool(_engine_of(task)),
        )

    def _pool(self, engine: Engine) -> DuckDbPool | None:
        with self._lock:
            if engine not in self._pools:
                self._pools[engine] = engines.pool(engine)
            return self._pools[engine]

    def verify(self, task: Task, answer: str) -> Verdict:
        return self.judge(task).judge(answer)


def _engine_of(task: Task) -> Engine:
    """The engine a task's database was built on (tasks from before DuckDB are SQLite)."""
    return "duckdb" if task.data.get("engine") == "duckdb" else "sqlite"
