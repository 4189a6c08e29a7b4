"""The sql suite on DuckDB (``--dsn duckdb:///PATH``): same data and answers as on SQLite,
read-only and time-bounded model queries, and DSN handling.

duckdb is in the ``test`` extra: without it these tests fail (they never skip).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ponder.bench.correct import CorrectSettings, run_correct
from ponder.bench.registry import register_suite, unregister_suite
from ponder.bench.suite import Task
from ponder.bench.suites.sql import engines
from ponder.bench.suites.sql.compare import compare_results
from ponder.bench.suites.sql.dsn import Dsn, DsnError, parse_dsn
from ponder.bench.suites.sql.execute import QueryError, Row
from ponder.bench.suites.sql.questions import all_questions
from ponder.bench.suites.sql.suite import SqlSuite
from ponder.cli import main
from ponder.errors import ConfigError
from tests.bench_support import ToySuite, fake_config


@pytest.fixture(scope="module")
def duck_tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Task]:
    suite = SqlSuite(dsn="duckdb://")
    return {t.id: t for t in suite.generate(100, 0, tmp_path_factory.mktemp("duck"))}


@pytest.fixture(scope="module")
def duck_db(duck_tasks: dict[str, Task]) -> Path:
    return Path(str(next(iter(duck_tasks.values())).data["db"]))


def fenced(sql: str) -> str:
    return f"```sql\n{sql}\n```"


def _exact_key(row: Row) -> tuple[tuple[int, Any], ...]:
    """Type-blind exact order (3 and 3.0 sort together; None first)."""
    return tuple(
        (0, 0) if v is None else (1, float(v)) if isinstance(v, int | float) else (2, str(v))
        for v in row
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_every_gold_query_gives_the_same_answer_on_sqlite_and_duckdb(
    seed: int, tmp_path: Path
) -> None:
    lite = engines.build(Dsn("sqlite"), tmp_path, seed)
    duck = engines.build(Dsn("duckdb"), tmp_path, seed)
    assert (lite.suffix, duck.suffix) == (".sqlite", ".duckdb")
    for qid, question in all_questions():
        on_lite = engines.run("sqlite", lite, question.gold)
        on_duck = engines.run("duckdb", duck, question.gold)
        assert on_lite.rows, qid  # every gold has an answer to agree on
        lite_rows, duck_rows = list(on_lite.rows), list(on_duck.rows)
        if not question.ordered:
            lite_rows.sort(key=_exact_key)
            duck_rows.sort(key=_exact_key)
        assert duck_rows == lite_rows, qid
        assert compare_results(on_lite, on_duck, question.ordered)[0], qid


def test_the_same_rows_are_loaded_into_both_engines(tmp_path: Path) -> None:
    lite = engines.build(Dsn("sqlite"), tmp_path, 3)
    duck = engines.build(Dsn("duckdb"), tmp_path, 3)
    for table in ("_meta", "users", "orders", "order_items", "refunds"):
        sql = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert engines.run("duckdb", duck, sql).rows == engines.run("sqlite", lite, sql).rows


def test_the_suite_on_duckdb_accepts_every_gold_and_prompts_in_its_dialect(
    duck_tasks: dict[str, Task],
) -> None:
    suite = SqlSuite(dsn="duckdb://")
    assert len(duck_tasks) == len(all_questions())
    assert {t.data["engine"] for t in duck_tasks.values()} == {"duckdb"}
    one_per_template = {t.template: t for t in duck_tasks.values()}  # all golds: test above
    for task in one_per_template.values():
        verdict = suite.verify(task, fenced(str(task.data["gold"])))
        assert verdict.ok, (task.id, verdict.reason)
    prompt = next(iter(duck_tasks.values())).prompt
    assert "this DuckDB database" in prompt and "one DuckDB SELECT query" in prompt
    assert "amount DOUBLE" in prompt and "REAL" not in prompt and "SQLite" not in prompt


def test_a_wrong_model_query_is_judged_spider_style_on_duckdb(
    duck_tasks: dict[str, Task],
) -> None:
    suite = SqlSuite(dsn="duckdb://")
    task = duck_tasks["sql-top_spenders_in_month-0"]
    gold = str(task.data["gold"])
    wrong_order = gold.replace("DESC, user_id ASC", "ASC, user_id ASC")
    verdict = suite.verify(task, fenced(wrong_order))
    assert not verdict.ok
    assert "differ from the correct result" in verdict.reason
    swapped = gold.replace("SELECT user_id, SUM", "SELECT SUM(COALESCE(amount, 0)), user_id, SUM")
    assert not suite.verify(task, fenced(swapped)).ok  # three columns, not two
    columns_swapped = gold.replace(
        "SELECT user_id, SUM(COALESCE(amount, 0)) AS spend",
        "SELECT SUM(COALESCE(amount, 0)) AS spend, user_id",
    )
    assert suite.verify(task, fenced(columns_swapped)).ok  # columns in any order


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM users",
        "UPDATE orders SET amount = 0",
        "INSERT INTO users VALUES (999, 'x', 'x@example.com', 'US', '2024-01-01')",
        "DROP TABLE refunds",
        "CREATE TABLE t AS SELECT * FROM users",
        "CREATE TEMP TABLE t AS SELECT * FROM users",
        "ATTACH '/tmp/ponder-evil.duckdb' AS evil",
        "COPY users TO '/tmp/ponder-users.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        "PRAGMA enable_profiling",
        "INSTALL httpfs",
        "CHECKPOINT",
        "SELECT 1; DELETE FROM users",
    ],
)
def test_a_model_query_that_writes_is_refused_on_duckdb(
    duck_tasks: dict[str, Task], duck_db: Path, sql: str
) -> None:
    suite = SqlSuite(dsn="duckdb://")
    task = duck_tasks["sql-users_in_country-0"]
    before = hashlib.sha256(duck_db.read_bytes()).hexdigest()
    verdict = suite.verify(task, fenced(sql))
    assert not verdict.ok
    with pytest.raises(QueryError) as info:
        engines.run("duckdb", duck_db, sql)
    assert info.value.refused, info.value.message
    assert "only reading (SELECT)" in info.value.message
    assert hashlib.sha256(duck_db.read_bytes()).hexdigest() == before
    assert not Path("/tmp/ponder-users.csv").exists()
    assert engines.run("duckdb", duck_db, "SELECT COUNT(*) FROM users").rows[0][0] == 160


def test_the_file_itself_is_opened_read_only(duck_db: Path) -> None:
    from ponder.bench.suites.sql.duckdb_execute import connect_read_only

    conn = connect_read_only(duck_db)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            conn.execute("DELETE FROM users")  # past the statement check: the engine refuses
    finally:
        conn.close()


def test_a_runaway_query_times_out_on_duckdb_with_a_clear_verdict(
    duck_tasks: dict[str, Task], duck_db: Path
) -> None:
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c"
    with pytest.raises(QueryError, match=r"ran longer than 0.3 s and was stopped"):
        engines.run("duckdb", duck_db, forever, timeout_s=0.3)
    suite = SqlSuite(timeout_s=0.3, dsn="duckdb://")
    verdict = suite.verify(duck_tasks["sql-users_in_country-0"], fenced(forever))
    assert not verdict.ok
    assert verdict.reason == "the query ran longer than 0.3 s and was stopped"
    assert engines.run("duckdb", duck_db, "SELECT 1").rows == ((1,),)  # the file is fine after


def test_too_many_rows_and_syntax_errors_are_reported(duck_db: Path) -> None:
    with pytest.raises(QueryError, match="more than 10 rows"):
        engines.run("duckdb", duck_db, "SELECT * FROM orders", max_rows=10)
    with pytest.raises(QueryError, match="DuckDB error: Parser Error"):
        engines.run("duckdb", duck_db, "SELEC 1")
    with pytest.raises(QueryError, match="one statement"):
        engines.run("duckdb", duck_db, "SELECT 1; SELECT 2")


def test_duckdb_values_come_back_as_sqlite_would_return_them(duck_db: Path) -> None:
    sql = "SELECT 1.25::DECIMAL(5, 2), DATE '2024-06-30', TIMESTAMP '2024-06-30 23:59:59'"
    assert engines.run("duckdb", duck_db, sql).rows == (
        (1.25, "2024-06-30", "2024-06-30 23:59:59"),
    )


@pytest.mark.parametrize(
    ("dsn", "engine", "path"),
    [
        ("sqlite:///bench.sqlite", "sqlite", Path("bench.sqlite")),
        ("sqlite:////tmp/bench.sqlite", "sqlite", Path("/tmp/bench.sqlite")),
        ("duckdb:///runs/x.duckdb", "duckdb", Path("runs/x.duckdb")),
        ("DuckDB:////tmp/x.duckdb", "duckdb", Path("/tmp/x.duckdb")),
        ("duckdb://", "duckdb", None),
        ("sqlite://", "sqlite", None),
    ],
)
def test_dsn_forms(dsn: str, engine: str, path: Path | None) -> None:
    parsed = parse_dsn(dsn)
    assert (parsed.engine, parsed.path) == (engine, path)
    expected = path or Path("out") / f"sql-7.{engine}"
    assert parsed.database_file(Path("out"), 7) == expected


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://user@localhost/shop",
        "postgresql+psycopg://user@localhost/shop",
        "mysql://localhost/shop",
        "sqlit:///x.db",
        "shop.db",
        "sqlite://host/shop.db",
        "duckdb:///:memory:",
        "sqlite:///x.db?mode=ro",
    ],
)
def test_a_bad_dsn_is_an_error_naming_the_accepted_forms(dsn: str) -> None:
    with pytest.raises(DsnError) as info:
        parse_dsn(dsn)
    message = info.value.message
    assert "sqlite:///PATH" in message and "duckdb:///PATH" in message
    with pytest.raises(ConfigError):
        SqlSuite(dsn=dsn)


@pytest.mark.parametrize(
    "dsn", ["postgresql://user@localhost/shop", "postgresql+psycopg://user@localhost/shop"]
)
def test_a_postgresql_dsn_says_postgresql_is_not_supported_yet(dsn: str) -> None:
    with pytest.raises(DsnError) as info:
        parse_dsn(dsn)
    message = info.value.message
    assert "Unsupported database DSN scheme 'postgresql://'" in message
    assert "PostgreSQL" in message and "not supported yet" in message


def test_the_cli_rejects_a_bad_dsn_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", "correct", "--suite", "sql", "--dsn", "postgresql://localhost/shop"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--dsn" in err and "sqlite:///PATH" in err and "duckdb:///PATH" in err


def test_the_cli_help_documents_dsn(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "correct", "--help"])
    out = capsys.readouterr().out
    assert "--dsn DSN" in out and "duckdb:///PATH" in out


@pytest.fixture
def toy_suite() -> Iterator[None]:
    register_suite("toy", ToySuite)
    yield
    unregister_suite("toy")


def test_run_correct_on_duckdb_builds_there_and_will_not_resume_on_sqlite(
    tmp_path: Path, toy_suite: None
) -> None:
    def settings(dsn: str | None, suites: tuple[str, ...] = ("sql",)) -> CorrectSettings:
        return CorrectSettings(
            suites=suites, models=("fast",), out=tmp_path, n_per_level=1, k=1, dsn=dsn
        )

    result = run_correct(fake_config(), settings("duckdb://"), progress_stream=io.StringIO())
    assert len(result.records) == 5  # one task per level; the fake model writes no SQL
    assert (tmp_path / "sql-0.duckdb").is_file() and not (tmp_path / "sql-0.sqlite").exists()
    assert json.loads((tmp_path / "run.json").read_text())["dsn"] == "duckdb://"
    assert "duckdb://" in (tmp_path / "report.html").read_text()
    with pytest.raises(ConfigError, match="run on duckdb; this run asks for sqlite"):
        run_correct(fake_config(), settings(None), progress_stream=io.StringIO())
    with pytest.raises(ConfigError, match="--dsn applies to suites that run on a database"):
        run_correct(fake_config(), settings("duckdb://", ("toy",)), progress_stream=io.StringIO())


def test_a_dsn_path_is_used_rebuilt_for_another_seed_and_never_overwrites_a_foreign_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "mine.duckdb"
    dsn = parse_dsn(f"duckdb:///{target}")
    assert engines.build(dsn, tmp_path / "unused", 0) == target
    seed_of = "SELECT seed FROM _meta"
    assert engines.run("duckdb", target, seed_of).rows == ((0,),)
    engines.build(dsn, tmp_path / "unused", 1)
    assert engines.run("duckdb", target, seed_of).rows == ((1,),)
    for name, engine in (("notes.duckdb", "duckdb"), ("notes.db", "sqlite")):
        foreign = tmp_path / name
        foreign.write_text("not a database\n")
        with pytest.raises(ConfigError, match="refusing to overwrite"):
            engines.build(parse_dsn(f"{engine}:///{foreign}"), tmp_path, 0)
        assert foreign.read_text() == "not a database\n"
