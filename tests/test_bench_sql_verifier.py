"""The sql verifier cannot be fooled: test-suite accuracy over variant databases, checked by
mutating every gold query (each mutant must be rejected unless marked equivalent, with why),
on SQLite (every question) and DuckDB (one question per template)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.bench.strength import SQL_MUTATION
from ponder.bench.suites.sql.dsn import Engine
from ponder.bench.suites.sql.duckdb_execute import DuckDbPool
from ponder.bench.suites.sql.judge import SqlJudge
from ponder.bench.suites.sql.mutants import EQUIVALENT, equivalence, mutants
from ponder.bench.suites.sql.mutation import Outcome, check, judges, kill_rate
from ponder.bench.suites.sql.questions import Question, all_questions
from ponder.bench.suites.sql.variants import KIND_NAMES, KINDS, rows_digest, variant_rows

QUESTIONS = dict(all_questions())
JUNE = "o.order_date >= '2024-06-01 00:00:00' AND o.order_date < '2024-07-01 00:00:00'"


def _one_per_template() -> list[tuple[str, Question]]:
    seen: dict[str, tuple[str, Question]] = {}
    for qid, question in all_questions():
        seen.setdefault(question.template, (qid, question))
    return list(seen.values())


def _holes(outcomes: list[Outcome]) -> list[str]:
    return [f"{o.question}: {o.mutant.id}" for o in outcomes if o.survived]


def _wrong_marks(outcomes: list[Outcome]) -> list[str]:
    return [f"{o.question}: {o.mutant.id}" for o in outcomes if o.killed and o.equivalent]


@pytest.fixture(scope="module")
def sqlite_outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    return check("sqlite", tmp_path_factory.mktemp("mut-sqlite"), seed=0)


def test_every_non_equivalent_mutant_of_every_gold_is_rejected_on_sqlite(
    sqlite_outcomes: list[Outcome],
) -> None:
    mutated = {QUESTIONS[o.question].template for o in sqlite_outcomes}
    unmutated = {q.template for q in QUESTIONS.values()} - mutated
    # no window, comparison, filter, COALESCE, join, division or tie-break to mutate
    assert unmutated == {"users_in_country", "max_unit_price", "never_ordered"}
    assert len(sqlite_outcomes) > 600
    assert _holes(sqlite_outcomes) == []
    assert _wrong_marks(sqlite_outcomes) == []
    killed, total = kill_rate(sqlite_outcomes)
    assert killed == total > 600
    # the figures the report, docs/bench.md and the README state
    stated = SQL_MUTATION["sqlite"]
    assert (len(sqlite_outcomes), len(sqlite_outcomes) - killed) == (
        stated.mutants,
        stated.equivalent,
    )


def test_the_stated_duckdb_figure_counts_every_mutant_and_its_equivalent_ones() -> None:
    every = [(q.template, m) for _, q in all_questions() for m in mutants(q.gold)]
    marked = [m for t, m in every if equivalence(t, m, "duckdb") is not None]
    assert (SQL_MUTATION["duckdb"].mutants, SQL_MUTATION["duckdb"].equivalent) == (
        len(every),
        len(marked),
    )


def test_every_equivalence_mark_is_used_and_gives_a_reason(
    sqlite_outcomes: list[Outcome], tmp_path: Path
) -> None:
    duck = check("duckdb", tmp_path, seed=0, questions=_duckdb_questions())
    used = {id(o.equivalent) for o in [*sqlite_outcomes, *duck] if o.equivalent is not None}
    assert {id(e) for e in EQUIVALENT} == used
    assert all(len(e.reason) > 40 for e in EQUIVALENT)
    assert _holes(duck) == []
    assert _wrong_marks(duck) == []


def _duckdb_questions() -> list[tuple[str, Question]]:
    """The first question of every template with a trap beyond the date window (levels 3-5):
    DuckDB builds its variants slower than SQLite; benchmarks/sql_verifier.py checks them all."""
    return [(qid, q) for qid, q in _one_per_template() if q.level >= 3]


def test_mutants_cover_every_class_the_verifier_must_catch() -> None:
    gold = QUESTIONS["sql-top_spenders_excluding_refunders-0"].gold
    ids = [m.id for m in mutants(gold)]
    for expected in (
        "'2024-07-01 00:00:00' → '2024-07-02 00:00:00' (+1 day)",
        "'2024-07-01 00:00:00' → '2024-07-01 00:00:01' (+1 s)",
        "'2024-06-01 00:00:00' → '2024-05-31 23:59:59' (-1 s)",
        "comparison: < → <=",
        "threshold: <= → < before 0.5",
        "status: status = 'completed' dropped",
        "coalesce: COALESCE(amount, …) → amount",
        "distinct: COUNT(DISTINCT x) → COUNT(x)",
        "join: LEFT JOIN → JOIN",
        "float: 1.0 * removed",
        "tie_break: tie-break s.user_id ASC removed",
        "tie_break: tie-break s.user_id ASC → s.user_id DESC",
    ):
        assert any(expected in i for i in ids), expected
    assert len(set(ids)) == len(ids)
    assert all(m.sql != gold for m in mutants(gold))


# ---- the wrong answers from the issue ------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_judges(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SqlJudge]:
    return judges("sqlite", tmp_path_factory.mktemp("judges"), 0, all_questions())


@pytest.fixture(scope="module")
def duckdb_judges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SqlJudge]]:
    chosen = [(qid, QUESTIONS[qid]) for qid, _ in ALTERNATIVES]
    pool = DuckDbPool()
    yield judges("duckdb", tmp_path_factory.mktemp("duck-judges"), 0, chosen, pool)
    pool.close()


def _main_only(judge: SqlJudge) -> SqlJudge:
    return SqlJudge(judge.engine, judge.databases[:1], judge.gold, judge.ordered)


HEADLINE = QUESTIONS["sql-top_spenders_excluding_refunders-0"].gold


@pytest.mark.parametrize(
    ("change", "variant", "diagnosis", "why"),
    [
        (
            "window: '2024-07-01 00:00:00' → '2024-07-02 00:00:00' (+1 day)",
            "the edges-first variant (orders at exactly each bound (2024-06-01 00:00:00,"
            " 2024-07-01 00:00:00)",
            "it takes in orders from 2024-07-01 00:00:00, after the window has ended",
            "the month window ends one day late",
        ),
        (
            "window: '2024-06-01 00:00:00' → '2024-06-01 00:00:01' (+1 s)",
            "the edges-first variant (orders at exactly each bound",
            "it leaves out orders at 2024-06-01 00:00:00, inside the window",
            "the window starts a second late",
        ),
        (
            "status: status = 'completed' dropped",
            "the status variant (a big cancelled and a big pending order",
            "it looks like orders counted whatever their status",
            "cancelled and pending orders count as spend",
        ),
        (
            "coalesce: COALESCE(amount, …) → amount",
            "the nulls variant (completed orders with a NULL amount",
            "it looks like a missing COALESCE: NULL where the answer is 0",
            "a user whose only order has no amount gets NULL, not 0",
        ),
        (
            "distinct: COUNT(DISTINCT x) → COUNT(x) (occurrence 2 of 2)",
            "the fan-out variant (orders with several partial refunds",
            "it looks like an order counted once per refund",
            "an order with several refunds counts several times",
        ),
    ],
)
def test_a_wrong_query_that_passes_on_the_main_database_is_rejected_naming_the_variant(
    sqlite_judges: dict[str, SqlJudge], change: str, variant: str, diagnosis: str, why: str
) -> None:
    judge = sqlite_judges["sql-top_spenders_excluding_refunders-0"]
    (sql,) = [m.sql for m in mutants(HEADLINE) if m.id.startswith(change)]
    assert _main_only(judge).judge_sql(sql).ok, f"lucky on the main database: {why}"
    verdict = judge.judge(f"```sql\n{sql}\n```")
    assert not verdict.ok, why
    assert verdict.reason.startswith(f"wrong on {variant}"), verdict.reason
    assert "rows" in verdict.reason  # and what differed
    assert diagnosis in verdict.reason
    assert verdict.extracted == sql


def test_the_gold_passes_everywhere_with_a_reason_that_says_so(
    sqlite_judges: dict[str, SqlJudge],
) -> None:
    qid = "sql-top_spenders_in_month-0"
    verdict = sqlite_judges[qid].judge(f"```sql\n{QUESTIONS[qid].gold}\n```")
    assert verdict.ok
    assert verdict.reason == (
        f"the rows match, in order on the main database and all {len(KINDS)} variants"
    )


# ---- known-good formulations pass on every variant ---------------------------------------

ALTERNATIVES: list[tuple[str, str]] = [
    (  # CASE instead of the status filter
        "sql-top_spenders_in_month-0",
        "SELECT user_id, SUM(CASE WHEN status = 'completed' THEN COALESCE(amount, 0) ELSE 0 END)"
        " AS spend FROM orders WHERE order_date >= '2024-06-01 00:00:00'"
        " AND order_date < '2024-07-01 00:00:00' GROUP BY user_id"
        " HAVING SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) > 0"
        " ORDER BY spend DESC, user_id LIMIT 4",
    ),
    (  # correlated subqueries instead of the joins
        "sql-refund_share_by_country-0",
        "SELECT c.country, COALESCE((SELECT 1.0 * COUNT(*) FROM orders o JOIN users u"
        " ON u.id = o.user_id WHERE u.country = c.country AND EXISTS (SELECT 1 FROM refunds r"
        " WHERE r.order_id = o.id)) / NULLIF((SELECT COUNT(*) FROM orders o JOIN users u"
        " ON u.id = o.user_id WHERE u.country = c.country), 0), 0)"
        " FROM (SELECT DISTINCT country FROM users) c",
    ),
    (  # EXISTS instead of a join and COUNT(DISTINCT)
        "sql-refunded_orders_in_month-0",
        f"SELECT COUNT(*) FROM orders o WHERE {JUNE}"
        " AND EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id)",
    ),
    (  # a correlated subquery per order instead of two aggregates
        "sql-net_revenue_in_month-0",
        "SELECT COALESCE(SUM(COALESCE(o.amount, 0) - (SELECT COALESCE(SUM(r.amount), 0)"
        f" FROM refunds r WHERE r.order_id = o.id)), 0) FROM orders o"
        f" WHERE o.status = 'completed' AND {JUNE}",
    ),
    (  # CASE per month instead of two filtered CTEs
        "sql-spend_grew_vs_previous_month-0",
        "SELECT COUNT(*) FROM (SELECT user_id, SUM(CASE WHEN order_date >= '2024-06-01 00:00:00'"
        " AND order_date < '2024-07-01 00:00:00' THEN COALESCE(amount, 0) ELSE 0 END) AS cur,"
        " SUM(CASE WHEN order_date >= '2024-05-01 00:00:00' AND order_date <"
        " '2024-06-01 00:00:00' THEN COALESCE(amount, 0) ELSE 0 END) AS prev FROM orders"
        " WHERE status = 'completed' GROUP BY user_id) t WHERE cur > prev",
    ),
    (  # the refund share as an average of a CASE over a correlated EXISTS
        "sql-heavy_refunders_in_month-0",
        "SELECT COUNT(*) FROM (SELECT o.user_id, AVG(CASE WHEN EXISTS (SELECT 1 FROM refunds r"
        f" WHERE r.order_id = o.id) THEN 1.0 ELSE 0.0 END) AS share FROM orders o WHERE {JUNE}"
        " GROUP BY o.user_id) t WHERE share > 0.5",
    ),
    (  # NOT IN over a HAVING instead of a join with a share CTE
        "sql-top_spenders_excluding_refunders-0",
        "SELECT o.user_id, SUM(COALESCE(o.amount, 0)) AS spend FROM orders o"
        f" WHERE o.status = 'completed' AND {JUNE} AND o.user_id NOT IN (SELECT x.user_id"
        " FROM orders x GROUP BY x.user_id HAVING 2 * SUM(CASE WHEN EXISTS (SELECT 1 FROM"
        " refunds r WHERE r.order_id = x.id) THEN 1 ELSE 0 END) > COUNT(*))"
        " GROUP BY o.user_id ORDER BY spend DESC, o.user_id LIMIT 3",
    ),
    (  # refunds subtracted per order, one aggregate per country
        "sql-top_countries_by_net_revenue-0",
        "SELECT u.country, SUM(COALESCE(o.amount, 0) - (SELECT COALESCE(SUM(r.amount), 0)"
        " FROM refunds r WHERE r.order_id = o.id)) AS net FROM orders o JOIN users u"
        f" ON u.id = o.user_id WHERE o.status = 'completed' AND {JUNE} GROUP BY u.country"
        " ORDER BY net DESC, u.country LIMIT 3",
    ),
    (  # a LIKE prefix as the month window
        "sql-busiest_day-0",
        "SELECT d, n FROM (SELECT substr(order_date, 1, 10) AS d, COUNT(*) AS n FROM orders"
        " WHERE order_date LIKE '2024-05-%' GROUP BY d) t ORDER BY n DESC, d LIMIT 1",
    ),
]


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
@pytest.mark.parametrize(("qid", "sql"), ALTERNATIVES, ids=[q for q, _ in ALTERNATIVES])
def test_a_correct_alternative_formulation_passes_on_every_variant(
    sqlite_judges: dict[str, SqlJudge],
    duckdb_judges: dict[str, SqlJudge],
    engine: Engine,
    qid: str,
    sql: str,
) -> None:
    judge = (sqlite_judges if engine == "sqlite" else duckdb_judges)[qid]
    assert [d.name for d in judge.databases] == ["main", *KIND_NAMES]
    verdict = judge.judge_sql(sql)
    assert verdict.ok, verdict.reason


# ---- the variants themselves -------------------------------------------------------------


def test_variants_are_deterministic_per_seed_and_small() -> None:
    gold = HEADLINE
    for kind in KINDS:
        rows = variant_rows(kind, gold, 0)
        assert rows_digest(rows) == rows_digest(variant_rows(kind, gold, 0))
        assert rows_digest(rows) != rows_digest(variant_rows(kind, gold, 1))
        assert 0 < len(rows["orders"]) < 60, kind.name
    edges = variant_rows(KINDS[0], gold, 0)["orders"]
    stamps = {str(o[2]) for o in edges}
    assert {"2024-06-01 00:00:00", "2024-05-31 23:59:59", "2024-07-01 00:00:00"} <= stamps
    assert "2024-06-30 23:59:59" in stamps


def test_a_failing_query_on_a_variant_is_reported_with_the_variant(
    sqlite_judges: dict[str, SqlJudge],
) -> None:
    judge = sqlite_judges["sql-revenue_in_month-0"]
    verdict = judge.judge_sql(
        "SELECT SUM(amount) FROM orders WHERE status = 'completed' AND"
        " order_date >= '2024-06-01 00:00:00' AND order_date <"
        " '2024-07-01 00:00:00'"
    )
    assert not verdict.ok
    assert verdict.reason.startswith("wrong on the empty variant (no recorded completed amount")
    assert judge.judge("The total is 12.") == judge.judge("The total is 12.")
    assert "```sql" in judge.judge("The total is 12.").reason
