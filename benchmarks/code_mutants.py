"""Mutation score of the code suite's hidden tests, per task.

Every AST mutant of each task's reference solution (ponder.bench.suites.code.mutants) runs
against the task's hidden tests in one sandbox batch per task; a mutant is killed when a test
fails, raises or times out. Prints per task: mutants, killed, equivalent (listed with why),
score; then the total and the wall time.

    python benchmarks/code_mutants.py
"""

from __future__ import annotations

import time

from ponder.bench.suites.code.mutation import check_task, score
from ponder.bench.suites.code.tasks import TASKS


def main() -> None:
    print("(figures from a shared machine: compare within one run)")
    print(f"{'task':<24} {'mutants':>7} {'killed':>6} {'equiv':>5}  score")
    started = time.perf_counter()
    everything = []
    notes: list[str] = []
    for task in TASKS:
        outcomes = check_task(task)
        everything.extend(outcomes)
        killed, relevant = score(outcomes)
        equivalent = sum(o.equivalent is not None and not o.killed for o in outcomes)
        rate = f"{killed / relevant:.0%}" if relevant else "n/a (no mutant)"
        print(f"{task.name:<24} {len(outcomes):>7} {killed:>6} {equivalent:>5}  {rate}")
        for o in outcomes:
            if o.survived:
                notes.append(f"  SURVIVED {o.task}: {o.mutant.id}")
            elif o.equivalent is not None and not o.killed:
                notes.append(f"  equivalent {o.task}: {o.mutant.id} — {o.reason}")
    took = time.perf_counter() - started
    print("\n".join(notes))
    killed, relevant = score(everything)
    equivalent = len(everything) - relevant
    print(
        f"code: {len(everything)} mutants of {len(TASKS)} references, {equivalent} equivalent;"
        f" killed {killed}/{relevant} non-equivalent ({killed / relevant:.1%}); {took:.1f} s"
    )


if __name__ == "__main__":
    main()
