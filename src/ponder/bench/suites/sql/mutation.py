"""Run every gold query's mutants through the verifier: which are killed, which survive.

Used by the test suite (every non-equivalent mutant must be killed) and by
``benchmarks/sql_verifier.py`` (the kill rate per question and overall).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.bench.suites.sql import engines
from ponder.bench.suites.sql.dsn import Dsn, Engine
from ponder.bench.suites.sql.judge import (
    VARIANTS_FOLDER,
    GoldCache,
    SqlJudge,
    build_variants_for,
    main_database,
)
from ponder.bench.suites.sql.mutants import Equivalence, Mutant, equivalence, mutants
from ponder.bench.suites.sql.questions import Question, all_questions

if TYPE_CHECKING:
    from ponder.bench.suites.sql.duckdb_execute import DuckDbPool


@dataclass(frozen=True, slots=True)
class Outcome:
    question: str  # the question id
    mutant: Mutant
    killed: bool
    reason: str  # the verdict's reason (killed), or why it is equivalent
    equivalent: Equivalence | None = None

    @property
    def survived(self) -> bool:
        """A non-equivalent mutant the verifier accepted: a hole in the verifier."""
        return not self.killed and self.equivalent is None


def judges(
    engine: Engine,
    workdir: Path,
    seed: int,
    questions: Sequence[tuple[str, Question]],
    pool: DuckDbPool | None = None,
    explain: bool = True,
) -> dict[str, SqlJudge]:
    """A verifier per question on the main database for ``seed`` and the question's variants
    (``workdir`` is private to the batch: ``pool`` covers the main database too)."""
    main = main_database(engines.build(Dsn(engine), workdir, seed))
    cache = GoldCache()
    folder = workdir / VARIANTS_FOLDER
    variants = build_variants_for(engine, folder, seed, [q.gold for _, q in questions])
    return {
        qid: SqlJudge(
            engine,
            [main, *mine],
            q.gold,
            q.ordered,
            timeout_s=5.0,
            cache=cache,
            pool=pool,
            pool_main=True,
            explain=explain,
        )
        for (qid, q), mine in zip(questions, variants, strict=True)
    }


def check(
    engine: Engine,
    workdir: Path,
    seed: int = 0,
    questions: Sequence[tuple[str, Question]] | None = None,
) -> list[Outcome]:
    """Every mutant of every question's gold (all questions by default), judged."""
    chosen = list(questions if questions is not None else all_questions())
    pool = engines.pool(engine)
    try:
        by_id = judges(engine, workdir, seed, chosen, pool, explain=False)
        out: list[Outcome] = []
        for qid, question in chosen:
            judge = by_id[qid]
            for mutant in mutants(question.gold):
                verdict = judge.judge_sql(mutant.sql)
                same = equivalence(question.template, mutant, engine)
                reason = same.reason if same and verdict.ok else verdict.reason
                out.append(Outcome(qid, mutant, not verdict.ok, reason, same))
        return out
    finally:
        if pool is not None:
            pool.close()


def kill_rate(outcomes: Sequence[Outcome]) -> tuple[int, int]:
    """``(killed, non-equivalent)`` mutants; a killed mutant marked equivalent counts as killed
    and non-equivalent (the mark was wrong)."""
    relevant = [o for o in outcomes if o.equivalent is None or o.killed]
    return sum(o.killed for o in relevant), len(relevant)
