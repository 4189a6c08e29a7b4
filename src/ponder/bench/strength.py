"""How strong each built-in suite's verifier is: its method in words and its measured
mutation score, for the HTML report, ``docs/bench.md`` and the README.

The figures are what the mutation checks measure; the test suite recomputes them and fails
when they drift (tests/test_bench_sql_verifier.py, tests/test_bench_code_mutants.py), and
``benchmarks/sql_verifier.py`` / ``benchmarks/code_mutants.py`` print them per question/task.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MutationScore:
    """Mutants of the reference answers: all of them, and the provably equivalent ones (each
    marked with why). Every other mutant is rejected by the verifier."""

    mutants: int
    equivalent: int

    @property
    def killed(self) -> int:
        return self.mutants - self.equivalent

    def text(self) -> str:
        return (
            f"{self.killed}/{self.killed} non-equivalent mutants rejected (100%;"
            f" {self.mutants} mutants, {self.equivalent} equivalent)"
        )


SQL_MUTATION = {"sqlite": MutationScore(729, 15), "duckdb": MutationScore(729, 18)}
CODE_MUTATION = MutationScore(494, 12)

SQL_METHOD = (
    "test-suite accuracy: the query's rows must match the gold query's (Spider-style: any"
    " column order, a multiset unless the question orders) on the main database and on 10"
    " small variant databases built for the question (window edges, cancelled/pending orders,"
    " NULL amounts, empty window, refund fan-out, refund shares of exactly 1/2, ties,"
    " inactive users)"
)
CODE_METHOD = (
    "hidden unit tests run in a sandbox (time, memory and network limits); the tests are"
    " mutation-checked: AST mutants of every reference solution (operators, comparisons,"
    " constants, off-by-one slices, dropped branches) must all fail them"
)


def sql_judging() -> str:
    scores = "; ".join(f"{engine}: {s.text()}" for engine, s in SQL_MUTATION.items())
    return f"{SQL_METHOD}. Mutation check of the gold queries — {scores}."


def code_judging() -> str:
    return f"{CODE_METHOD}. Mutation score: {CODE_MUTATION.text()}."
