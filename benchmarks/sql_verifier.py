"""How strong and how fast the sql suite's verifier is.

1. The mutation check: every mechanical mutant of every gold query (ponder.bench.suites.sql.
   mutants) judged on the main database and the question's variant databases. Prints, per
   question, the mutants, how many the main database alone would reject, how many the full
   verifier rejects, and the equivalent ones (with why); then the totals per engine.
2. Time per verdict through the suite (``SqlSuite.verify``, what the bench runs): the gold
   answer (right: it runs on every database) and its first mutant (wrong: it stops at the first
   database that differs), cold (gold results not cached yet) and warm; medians over questions.

    python benchmarks/sql_verifier.py                      # both engines, seed 0
    python benchmarks/sql_verifier.py --engines sqlite --seeds 0,1,2 --quiet
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ponder.bench.suites.sql.dsn import Engine
from ponder.bench.suites.sql.judge import SqlJudge
from ponder.bench.suites.sql.mutants import mutants
from ponder.bench.suites.sql.mutation import Outcome, check, judges, kill_rate
from ponder.bench.suites.sql.questions import all_questions
from ponder.bench.suites.sql.suite import SqlSuite


def _main_only_kills(engine: Engine, workdir: Path, seed: int) -> dict[str, int]:
    """Per question: mutants the main database alone rejects (one generated database)."""
    out: dict[str, int] = {}
    for qid, judge in judges(engine, workdir, seed, all_questions()).items():
        main = SqlJudge(engine, judge.databases[:1], judge.gold, judge.ordered)
        out[qid] = sum(not main.judge_sql(m.sql).ok for m in mutants(judge.gold))
    return out


def mutation_table(engine: Engine, seed: int, quiet: bool) -> tuple[int, int, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        outcomes = check(engine, Path(tmp), seed)
        took = time.perf_counter() - started
        main_kills = _main_only_kills(engine, Path(tmp), seed)
    by_question: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_question[o.question].append(o)
    if not quiet:
        print(f"\n{engine}, seed {seed}: mutants per question")
        print(f"{'question':<44} {'mutants':>7} {'main':>5} {'killed':>6} {'equiv':>5}  rate")
        for qid, _ in all_questions():
            mine = by_question.get(qid, [])
            killed, relevant = kill_rate(mine)
            rate = f"{killed / relevant:.0%}" if relevant else "n/a (no mutant)"
            equivalent = sum(o.equivalent is not None and not o.killed for o in mine)
            print(
                f"{qid:<44} {len(mine):>7} {main_kills.get(qid, 0):>5} {killed:>6}"
                f" {equivalent:>5}  {rate}"
            )
        for o in outcomes:
            if o.survived:
                print(f"  SURVIVED {o.question}: {o.mutant.id}")
            elif o.equivalent is not None and not o.killed:
                print(f"  equivalent {o.question}: {o.mutant.id} — {o.reason}")
    killed, relevant = kill_rate(outcomes)
    main_total = sum(main_kills.values())
    equivalent = sum(o.equivalent is not None and not o.killed for o in outcomes)
    print(
        f"{engine} seed {seed}: {len(outcomes)} mutants, {equivalent} equivalent;"
        f" killed {killed}/{relevant} non-equivalent ({killed / relevant:.1%});"
        f" the main database alone kills {main_total}/{len(outcomes)}"
        f" ({main_total / len(outcomes):.1%}); check took {took:.1f} s"
    )
    return killed, relevant, equivalent, main_total


def verdict_times(engine: Engine, seed: int) -> None:
    suite = SqlSuite(dsn=f"{engine}://")
    with tempfile.TemporaryDirectory() as tmp:
        tasks = suite.generate(100, seed, Path(tmp))
        timings: dict[str, list[float]] = defaultdict(list)
        for task in tasks:
            gold = str(task.data["gold"])
            wrong = mutants(gold)[0].sql if mutants(gold) else None
            for label in ("cold right", "warm right"):
                started = time.perf_counter()
                verdict = suite.verify(task, f"```sql\n{gold}\n```")
                timings[label].append(time.perf_counter() - started)
                assert verdict.ok, (task.id, verdict.reason)
            if wrong is not None:
                started = time.perf_counter()
                verdict = suite.verify(task, f"```sql\n{wrong}\n```")
                timings["warm wrong"].append(time.perf_counter() - started)
    parts = ", ".join(
        f"{label} {statistics.median(ts) * 1000:.1f} ms" for label, ts in timings.items()
    )
    n_db = 1 + len(tasks[0].data["variants"])
    print(f"{engine}: time per verdict over {len(tasks)} questions, {n_db} databases: {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,duckdb")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--quiet", action="store_true", help="totals only, no table")
    args = parser.parse_args()
    engines: list[Engine] = [
        "duckdb" if e == "duckdb" else "sqlite" for e in args.engines.split(",")
    ]
    print("(figures from a shared machine: compare within one run)")
    for engine in engines:
        for seed in (int(s) for s in args.seeds.split(",")):
            mutation_table(engine, seed, args.quiet)
        verdict_times(engine, 0)


if __name__ == "__main__":
    main()
