"""Mutation score of the code suite's hidden tests: each task's reference solution mutated
(:mod:`.mutants`) and every mutant run against the hidden tests, one sandbox batch per task.

Used by the test suite (every non-equivalent mutant must be killed) and by
``benchmarks/code_mutants.py`` (the score per task).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ponder.bench.suites.code.mutants import CodeEquivalence, CodeMutant, equivalence, mutants
from ponder.bench.suites.code.sandbox import run_batch
from ponder.bench.suites.code.tasks import TASKS, CodeTask


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    task: str
    mutant: CodeMutant
    killed: bool
    reason: str  # the failing test (killed), or why it is equivalent
    equivalent: CodeEquivalence | None = None

    @property
    def survived(self) -> bool:
        """A non-equivalent mutant every hidden test passes: a hole in the tests."""
        return not self.killed and self.equivalent is None


def check_task(task: CodeTask) -> list[CodeOutcome]:
    """Every mutant of ``task``'s reference, judged by its hidden tests."""
    found = mutants(task.reference)
    results = run_batch(
        [task.reference, *(m.source for m in found)], task.function, list(task.tests)
    )
    if not results[0].ok:
        raise AssertionError(f"{task.name}: the reference fails its tests: {results[0].reason}")
    out: list[CodeOutcome] = []
    for mutant, result in zip(found, results[1:], strict=True):
        same = equivalence(task.name, mutant)
        reason = same.reason if same is not None and result.ok else result.reason
        out.append(CodeOutcome(task.name, mutant, not result.ok, reason, same))
    return out


def check(tasks: Sequence[CodeTask] = TASKS) -> list[CodeOutcome]:
    return [o for task in tasks for o in check_task(task)]


def score(outcomes: Sequence[CodeOutcome]) -> tuple[int, int]:
    """``(killed, non-equivalent)``; a killed mutant marked equivalent counts as both."""
    relevant = [o for o in outcomes if o.equivalent is None or o.killed]
    return sum(o.killed for o in relevant), len(relevant)
