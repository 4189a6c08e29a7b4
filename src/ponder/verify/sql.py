"""``sql``: the answer's query must run, read-only and bounded in time, against the database
named by ``dsn`` (``sqlite:///PATH`` or ``duckdb:///PATH``; set in ponder.toml, never by a
request), and, when ``columns`` is given, return exactly those columns (in any order,
case-insensitive). Runs through the sql bench suite's guarded executors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ponder.bench.suites.sql.dsn import DsnError, parse_dsn
from ponder.bench.suites.sql.engines import run
from ponder.bench.suites.sql.execute import QueryError
from ponder.bench.suites.sql.suite import extract_sql
from ponder.request import ChatRequest
from ponder.verify.base import Judgement, VerifierOptionError, require_str

DEFAULT_TIMEOUT_S = 5.0


class SqlVerifier:
    name: ClassVar[str] = "sql"
    request_options: ClassVar[frozenset[str]] = frozenset({"columns"})

    def applies(self, request: ChatRequest, options: Mapping[str, Any]) -> bool:
        return isinstance(options.get("dsn"), str)

    def check_options(self, request: ChatRequest, options: Mapping[str, Any]) -> None:
        dsn = parse_dsn(require_str(options, "dsn", self.name))
        if dsn.path is None:
            raise VerifierOptionError(
                "The sql verifier's dsn must name a database file, e.g. sqlite:///shop.sqlite."
            )
        if not dsn.path.is_file():
            raise VerifierOptionError(
                f"The sql verifier's database {str(dsn.path)!r} does not exist."
            )
        columns = options.get("columns")
        if columns is not None and not (
            isinstance(columns, list) and all(isinstance(c, str) for c in columns)
        ):
            raise VerifierOptionError("The sql verifier's columns must be a list of names.")

    def judge(self, request: ChatRequest, answer: str, options: Mapping[str, Any]) -> Judgement:
        try:
            self.check_options(request, options)
        except DsnError as exc:
            raise VerifierOptionError(exc.message) from exc
        dsn = parse_dsn(str(options["dsn"]))
        assert dsn.path is not None
        sql = extract_sql(answer)
        if sql is None:
            return Judgement(False, "the answer has no SQL query (a ```sql block or a bare SELECT)")
        timeout = float(options.get("timeout_s", DEFAULT_TIMEOUT_S))
        try:
            result = run(dsn.engine, dsn.path, sql, timeout_s=timeout)
        except QueryError as exc:
            return Judgement(False, f"the query failed: {exc.message}")
        rows = len(result.rows)
        ran = f"the query ran: {rows} row{'s' if rows != 1 else ''}"
        wanted = options.get("columns")
        if isinstance(wanted, list):
            got = sorted(c.lower() for c in result.columns)
            if got != sorted(str(c).lower() for c in wanted):
                return Judgement(
                    False,
                    f"{ran}, but its columns are {', '.join(result.columns) or 'none'};"
                    f" expected {', '.join(map(str, wanted))}",
                )
        return Judgement(True, ran)
