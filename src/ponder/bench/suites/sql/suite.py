"""The ``sql`` suite: generator (database + questions), prompt, and verifier."""

from __future__ import annotations

import random
import threading
from pathlib import Path

from ponder.bench.extract import last_fenced
from ponder.bench.suite import Task, Verdict
from ponder.bench.suites.sql.compare import compare_results
from ponder.bench.suites.sql.data import SCHEMA, build_database
from ponder.bench.suites.sql.execute import QueryError, QueryResult, run_query
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
You are working with this SQLite database:

{schema}
{conventions}

Question: {question}

Write one SQLite SELECT query that answers the question, returning exactly the columns asked
for. Put the query in a ```sql fenced block."""

_STARTS = ("select", "with")


def extract_sql(answer: str) -> str | None:
    """The last ```sql block; else a bare answer that is itself a query."""
    fenced = last_fenced(answer, ("sql", "sqlite"))
    if fenced:
        return fenced
    text = answer.strip()
    return text if text.lower().startswith(_STARTS) else None


class SqlSuite:
    name = "sql"
    description = "questions over a generated e-commerce SQLite database (users, orders, refunds)"

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._gold: dict[tuple[str, str], QueryResult] = {}
        self._lock = threading.Lock()

    def levels(self) -> list[int]:
        return sorted({q.level for _, q in all_questions()})

    def questions(self) -> list[tuple[str, Question]]:
        return all_questions()

    def prompt(self, question: Question) -> str:
        return PROMPT.format(schema=SCHEMA.strip(), conventions=CONVENTIONS, question=question.text)

    def generate(self, n_per_level: int, seed: int, workdir: Path) -> list[Task]:
        db = build_database(workdir / f"sql-{seed}.sqlite", seed)
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
                        prompt=self.prompt(question),
                        seed=seed,
                        data={"db": str(db), "gold": question.gold, "ordered": question.ordered},
                        reference=question.gold,
                    )
                )
        return tasks

    def gold_result(self, db: Path, gold: str) -> QueryResult:
        key = (str(db), gold)
        with self._lock:
            cached = self._gold.get(key)
        if cached is None:
            cached = run_query(db, gold, timeout_s=60.0)
            with self._lock:
                self._gold[key] = cached
        return cached

    def verify(self, task: Task, answer: str) -> Verdict:
        sql = extract_sql(answer)
        if sql is None:
            return Verdict(False, "no SQL query found; put it in a ```sql fenced block")
        db = Path(str(task.data["db"]))
        expected = self.gold_result(db, str(task.data["gold"]))
        try:
            got = run_query(db, sql, timeout_s=self.timeout_s)
        except QueryError as exc:
            return Verdict(False, exc.message, sql)
        ok, reason = compare_results(expected, got, ordered=bool(task.data["ordered"]))
        return Verdict(ok, reason, sql)
