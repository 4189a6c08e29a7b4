"""The sql suite: database traps, gold answers, Spider-style comparison, read-only execution."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ponder.bench.suite import Task
from ponder.bench.suites.sql.compare import compare_results
from ponder.bench.suites.sql.execute import QueryError, QueryResult, run_query
from ponder.bench.suites.sql.questions import all_questions
from ponder.bench.suites.sql.suite import SqlSuite, extract_sql

JUNE = "order_date >= '2024-06-01 00:00:00' AND order_date < '2024-07-01 00:00:00'"


@pytest.fixture(scope="module")
def suite() -> SqlSuite:
    return SqlSuite(timeout_s=2.0)


@pytest.fixture(scope="module")
def tasks(suite: SqlSuite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Task]:
    workdir = tmp_path_factory.mktemp("sql")
    return {t.id: t for t in suite.generate(100, 0, workdir)}


def fenced(sql: str) -> str:
    return f"Here is the query:\n```sql\n{sql}\n```\n"


def test_sixty_plus_questions_over_five_levels_and_every_gold_runs(
    suite: SqlSuite, tasks: dict[str, Task]
) -> None:
    assert len(all_questions()) >= 60
    assert len(tasks) == len(all_questions())
    assert {t.level for t in tasks.values()} == {1, 2, 3, 4, 5}
    for task in tasks.values():
        verdict = suite.verify(task, fenced(str(task.data["gold"])))
        assert verdict.ok, (task.id, verdict.reason)


def test_database_is_deterministic_per_seed(suite: SqlSuite, tmp_path: Path) -> None:
    def digest(seed: int, folder: str) -> str:
        (tmp_path / folder).mkdir()
        task = suite.generate(1, seed, tmp_path / folder)[0]
        db = Path(str(task.data["db"]))
        rows = run_query(db, "SELECT * FROM orders ORDER BY id").rows
        rows += run_query(db, "SELECT * FROM refunds ORDER BY id").rows
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    assert digest(0, "a") == digest(0, "b")
    assert digest(0, "c") != digest(1, "d")


def test_database_has_the_mess_the_traps_need(tasks: dict[str, Task]) -> None:
    db = Path(str(next(iter(tasks.values())).data["db"]))

    def one(sql: str) -> object:
        return run_query(db, sql).rows[0][0]

    assert one("SELECT COUNT(*) FROM orders WHERE amount IS NULL AND status='completed'") > 0
    assert (
        one(
            "SELECT COUNT(*) FROM users u WHERE NOT EXISTS "
            "(SELECT 1 FROM orders o WHERE o.user_id = u.id)"
        )
        > 0
    )
    assert (
        one(
            "SELECT COUNT(*) FROM (SELECT order_id FROM refunds GROUP BY order_id "
            "HAVING COUNT(*) > 1)"
        )
        > 0
    )
    assert one("SELECT COUNT(*) FROM orders WHERE order_date = '2024-07-01 00:00:00'") > 0
    assert one("SELECT COUNT(*) FROM orders WHERE order_date = '2024-06-30 23:59:59'") > 0
    assert one("SELECT COUNT(*) FROM refunds WHERE refund_date = '2024-06-01 00:00:00'") > 0


# ---- known-good answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "sql"),
    [
        # columns in another order, no ORDER BY needed when the gold has none
        (
            "sql-spend_per_user-0",
            "SELECT COALESCE(SUM(CASE WHEN o.status='completed' THEN o.amount ELSE 0 END), 0) AS s,"
            " u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.country = 'CA'"
            " GROUP BY u.id ORDER BY s DESC",
        ),
        # an inclusive window written with the last second is right
        (
            "sql-revenue_in_month-0",
            "SELECT IFNULL(SUM(amount), 0) FROM orders WHERE status = 'completed' AND order_date"
            " BETWEEN '2024-06-01 00:00:00' AND '2024-06-30 23:59:59'",
        ),
        # rounded to cents
        (
            "sql-avg_order_by_country-0",
            "SELECT ROUND(AVG(o.amount), 2) FROM orders o JOIN users u ON u.id = o.user_id"
            " WHERE u.country = 'GB' AND o.status = 'completed'",
        ),
        # the headline question written another way
        (
            "sql-top_spenders_excluding_refunders-0",
            "SELECT o.user_id, SUM(IFNULL(o.amount, 0)) AS spend FROM orders o"
            " WHERE o.status = 'completed' AND o.order_date >= date('2024-07-15', 'start of month',"
            " '-1 month') AND o.order_date < date('2024-07-15', 'start of month')"
            " AND o.user_id NOT IN (SELECT x.user_id FROM orders x GROUP BY x.user_id HAVING"
            " SUM(EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = x.id)) * 2 > COUNT(*))"
            " GROUP BY o.user_id ORDER BY ROUND(spend, 2) DESC, o.user_id LIMIT 3",
        ),
    ],
)
def test_accepts_correct_alternatives(
    suite: SqlSuite, tasks: dict[str, Task], task_id: str, sql: str
) -> None:
    verdict = suite.verify(tasks[task_id], fenced(sql))
    assert verdict.ok, verdict.reason


# ---- known-bad answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "sql", "why"),
    [
        (
            "sql-spend_per_user-0",
            "SELECT u.id, SUM(o.amount) FROM users u LEFT JOIN orders o ON o.user_id = u.id"
            " AND o.status = 'completed' WHERE u.country = 'CA' GROUP BY u.id",
            "forgets COALESCE: users who never ordered get NULL, not 0",
        ),
        (
            "sql-net_revenue_in_month-0",
            "SELECT SUM(o.amount) - COALESCE(SUM(r.amount), 0) FROM orders o"
            f" LEFT JOIN refunds r ON r.order_id = o.id WHERE o.status = 'completed' AND o.{JUNE}",
            "double-counts order amounts through the refunds join",
        ),
        (
            "sql-top_spenders_excluding_refunders-0",
            "SELECT o.user_id, SUM(COALESCE(o.amount, 0)) AS spend FROM orders o"
            " LEFT JOIN refunds r ON r.order_id = o.id"
            f" WHERE o.status = 'completed' AND o.{JUNE} AND o.user_id IN (SELECT user_id FROM"
            " (SELECT o2.user_id, 1.0 * COUNT(DISTINCT r2.order_id) / COUNT(DISTINCT o2.id) AS q"
            " FROM orders o2 LEFT JOIN refunds r2 ON r2.order_id = o2.id GROUP BY o2.user_id)"
            " WHERE q <= 0.5) GROUP BY o.user_id ORDER BY spend DESC, o.user_id LIMIT 3",
            "spend double-counted through the refunds join",
        ),
        (
            "sql-revenue_in_month-0",
            "SELECT SUM(amount) FROM orders WHERE status = 'completed'"
            " AND order_date BETWEEN '2024-06-01' AND '2024-06-30'",
            "off by a day: misses June 30 after midnight",
        ),
        (
            "sql-revenue_in_month-0",
            "SELECT SUM(amount) FROM orders WHERE status = 'completed'"
            " AND date(order_date) BETWEEN '2024-06-01' AND '2024-07-01'",
            "off by a day: includes July 1",
        ),
        (
            "sql-refund_share_by_country-0",
            "SELECT u.country, 1.0 * COUNT(DISTINCT r.order_id) / COUNT(DISTINCT o.id)"
            " FROM users u LEFT JOIN orders o ON o.user_id = u.id"
            " LEFT JOIN refunds r ON r.order_id = o.id GROUP BY u.country",
            "divides by zero for a country without orders (NULL instead of 0)",
        ),
        (
            "sql-refund_share_by_country-0",
            "SELECT u.country, COALESCE(COUNT(DISTINCT r.order_id)"
            " / NULLIF(COUNT(DISTINCT o.id), 0), 0) FROM users u"
            " LEFT JOIN orders o ON o.user_id = u.id"
            " LEFT JOIN refunds r ON r.order_id = o.id GROUP BY u.country",
            "integer division",
        ),
        (
            "sql-top_spenders_excluding_refunders-0",
            "WITH q AS (SELECT o.user_id, 1.0 * COUNT(DISTINCT r.order_id) / COUNT(DISTINCT o.id) s"
            " FROM orders o LEFT JOIN refunds r ON r.order_id = o.id GROUP BY o.user_id)"
            " SELECT o.user_id, SUM(COALESCE(o.amount, 0)) AS spend FROM orders o JOIN q"
            f" ON q.user_id = o.user_id WHERE o.status = 'completed' AND o.{JUNE} AND q.s < 0.5"
            " GROUP BY o.user_id ORDER BY spend DESC, o.user_id LIMIT 3",
            "excludes users at exactly 50% ('more than half' keeps them)",
        ),
        (
            "sql-top_spenders_excluding_refunders-1",
            "WITH q AS (SELECT o.user_id, 1.0 * COUNT(DISTINCT r.order_id) / COUNT(DISTINCT o.id) s"
            " FROM orders o LEFT JOIN refunds r ON r.order_id = o.id GROUP BY o.user_id)"
            " SELECT o.user_id, SUM(COALESCE(o.amount, 0)) AS spend FROM orders o JOIN q"
            " ON q.user_id = o.user_id WHERE o.status = 'completed' AND o.order_date >="
            " '2024-03-01 00:00:00' AND o.order_date < '2024-04-01 00:00:00' AND q.s <= 0.5"
            " GROUP BY o.user_id ORDER BY spend DESC, o.user_id DESC LIMIT 3",
            "breaks the tie at rank 3 the wrong way",
        ),
        (
            "sql-missing_amounts-0",
            "SELECT COUNT(*) FROM orders WHERE status = 'completed' AND amount = NULL",
            "= NULL is never true",
        ),
        (
            "sql-refunded_orders_in_month-0",
            f"SELECT COUNT(*) FROM orders o JOIN refunds r ON r.order_id = o.id WHERE o.{JUNE}",
            "counts an order once per refund",
        ),
    ],
)
def test_rejects_known_bad_queries(
    suite: SqlSuite, tasks: dict[str, Task], task_id: str, sql: str, why: str
) -> None:
    verdict = suite.verify(tasks[task_id], fenced(sql))
    assert not verdict.ok, why
    assert verdict.extracted == sql


def test_wrong_order_is_rejected_only_when_the_gold_orders(
    suite: SqlSuite, tasks: dict[str, Task]
) -> None:
    task = tasks["sql-top_spenders_in_month-0"]
    reversed_sql = f"SELECT * FROM ({task.data['gold']}) ORDER BY 2 ASC"
    verdict = suite.verify(task, fenced(reversed_sql))
    assert not verdict.ok
    assert "order" in verdict.reason


def test_compare_is_multiset_and_column_order_free() -> None:
    gold = QueryResult(("a", "b"), ((1, "x"), (2, "y"), (2, "y")))
    assert compare_results(gold, QueryResult(("b", "a"), (("y", 2), ("x", 1), ("y", 2))), False)[0]
    assert not compare_results(gold, QueryResult(("a", "b"), ((1, "x"), (2, "y"))), False)[0]
    assert not compare_results(
        gold, QueryResult(("a", "b"), ((1, "x"), (1, "x"), (2, "y"))), False
    )[0]
    assert compare_results(
        QueryResult(("v",), ((0.1 + 0.2,),)), QueryResult(("v",), ((0.3,),)), False
    )[0]
    assert not compare_results(
        QueryResult(("v",), ((None,),)), QueryResult(("v",), ((0,),)), False
    )[0]


# ---- read-only execution -----------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM users",
        "UPDATE orders SET amount = 0",
        "INSERT INTO users (id, name, email, country, signup_date)"
        " VALUES (999, 'x', 'x', 'US', '')",
        "DROP TABLE refunds",
        "CREATE TABLE evil (x)",
        "ATTACH DATABASE 'other.sqlite' AS other",
        "PRAGMA query_only = OFF",
        "SELECT load_extension('evil')",
        "SELECT 1; DELETE FROM users",
    ],
)
def test_writes_attach_and_pragmas_are_refused(
    suite: SqlSuite, tasks: dict[str, Task], sql: str
) -> None:
    task = tasks["sql-users_in_country-0"]
    db = Path(str(task.data["db"]))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    verdict = suite.verify(task, fenced(sql))
    assert not verdict.ok
    with pytest.raises(QueryError):
        run_query(db, sql)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert run_query(db, "SELECT COUNT(*) FROM users").rows[0][0] > 0


def test_write_is_refused_by_the_authorizer_with_a_clear_reason(tasks: dict[str, Task]) -> None:
    db = Path(str(tasks["sql-users_in_country-0"].data["db"]))
    with pytest.raises(QueryError) as info:
        run_query(db, "DELETE FROM users")
    assert info.value.refused
    assert "only reading" in info.value.message


def test_runaway_query_is_stopped(tasks: dict[str, Task]) -> None:
    db = Path(str(tasks["sql-users_in_country-0"].data["db"]))
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c"
    with pytest.raises(QueryError, match="longer than"):
        run_query(db, forever, timeout_s=0.3)


def test_extracts_sql_from_fences_or_a_bare_query() -> None:
    assert extract_sql("```sql\nSELECT 1\n```") == "SELECT 1"
    assert extract_sql("first\n```sql\nSELECT 1\n```\nbetter:\n```sql\nSELECT 2\n```") == "SELECT 2"
    assert extract_sql("  select 3 ") == "select 3"
    assert extract_sql("I think the answer is 42.") is None


def test_no_query_found_is_scored_wrong(suite: SqlSuite, tasks: dict[str, Task]) -> None:
    verdict = suite.verify(tasks["sql-users_in_country-0"], "There are 52 users.")
    assert not verdict.ok
    assert "```sql" in verdict.reason
