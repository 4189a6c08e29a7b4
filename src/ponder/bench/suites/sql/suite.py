"""The ``sql`` suite: generator (database + questions), prompt, and verifier.

The database is SQLite by default, in the run's output folder; :meth:`SqlSuite.use_dsn`
(``ponder bench correct --dsn``) puts it elsewhere or on DuckDB (see :mod:`.dsn`). The
questions and gold SQL are the same on every engine; the prompt names the engine's dialect.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from ponder.bench.extract import last_fenced
from ponder.bench.suite import Task, Verdict
from ponder.bench.suites.sql import engines
from ponder.bench.suites.sql.compare import compare_results
from ponder.bench.suites.sql.dsn import DEFAULT_DSN, Dsn, Engine, parse_dsn
from ponder.bench.suites.sql.execute import QueryError, QueryResult
from ponder.bench.suites.sql.questions import Question, all_questions

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

_STARTS = ("select", "with")


def extract_sql(answer: str) -> str | None:
    """The last ```sql block; else a bare answer that is itself a query."""
    fenced = last_fenced(answer, ("sql", "sqlite", "duckdb"))
    if fenced:
        return fenced
    text = answer.strip()
    return text if text.lower().startswith(_STARTS) else None


class SqlSuite:
    name = "sql"
    description = (
        "questions over a generated e-commerce database (users, orders, refunds); SQLite, or"
        " DuckDB with --dsn"
    )

    def __init__(self, timeout_s: float = 5.0, dsn: str | Dsn | None = None) -> None:
        self.timeout_s = timeout_s
        self.dsn = DEFAULT_DSN
        if dsn is not None:
            self.use_dsn(dsn)
        self._gold: dict[tuple[str, str, str], QueryResult] = {}
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
        tasks: list[Task] = []
        for level in self.levels():
            pool = [(qid, q) for qid, q in all_questions() if q.level == level]
            rng.shuffle(pool)
            for qid, question in sorted(pool[:n_per_level]):
                tasks.append(
                    Task(
                        id=qid,
                        suite=self.name,
                        family="sql",
                        level=level,
                        template=question.template,
                        prompt=self.prompt(question, engine),
                        seed=seed,
                        data={
                            "db": str(db),
                            "engine": engine,
                            "gold": question.gold,
                            "ordered": question.ordered,
                        },
                        reference=question.gold,
                    )
                )
        return tasks

    def gold_result(self, db: Path, gold: str, engine: Engine = "sqlite") -> QueryResult:
        key = (engine, str(db), gold)
        with self._lock:
            cached = self._gold.get(key)
        if cached is None:
            cached = engines.run(engine, db, gold, timeout_s=60.0)
            with self._lock:
                self._gold[key] = cached
        return cached

    def verify(self, task: Task, answer: str) -> Verdict:
        sql = extract_sql(answer)
        if sql is None:
            return Verdict(False, "no SQL query found; put it in a ```sql fenced block")
        db = Path(str(task.data["db"]))
        engine = _engine_of(task)
        expected = self.gold_result(db, str(task.data["gold"]), engine)
        try:
            got = engines.run(engine, db, sql, timeout_s=self.timeout_s)
        except QueryError as exc:
            return Verdict(False, exc.message, sql)
        ok, reason = compare_results(expected, got, ordered=bool(task.data["ordered"]))
        return Verdict(ok, reason, sql)


def _engine_of(task: Task) -> Engine:
    """The engine a task's database was built on (tasks from before DuckDB are SQLite)."""
    return "duckdb" if task.data.get("engine") == "duckdb" else "sqlite"
