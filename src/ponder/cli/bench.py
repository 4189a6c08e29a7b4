"""``ponder bench``: benchmarks. ``ponder bench correct`` measures time-to-correct;
``ponder bench speed`` latency and throughput under load, thinking and answer apart."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any


def _csv(value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _dsn(value: str) -> str:
    from ponder.bench.suites.sql.dsn import DsnError, parse_dsn

    try:
        parse_dsn(value)
    except DsnError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks (time-to-correct on verified tasks; speed under load)",
        description="Benchmarks. See `ponder bench correct --help` and"
        " `ponder bench speed --help`.",
    )
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCH")
    correct = sub.add_parser(
        "correct",
        help="time-to-correct on verified task suites, with retries",
        description="Run verified tasks against each model, up to k attempts per task with the"
        " verifier's reason fed back on a retry; write attempts.jsonl, summary.csv and"
        " report.html under --out and print the headline table. Rerunning with the same --out"
        " resumes.",
    )
    correct.add_argument(
        "--suite",
        type=_csv,
        default=("arith", "ledger"),
        help="comma-separated suites: arith, ledger, sql, code, or a plug-in's (default:"
        " arith,ledger)",
    )
    correct.add_argument(
        "--models", type=_csv, default=("fast", "deep"), help="comma-separated model names"
    )
    correct.add_argument("-k", type=_positive, default=3, help="attempts per task (default 3)")
    correct.add_argument(
        "--n-per-level", type=_positive, default=10, help="tasks per difficulty level (default 10)"
    )
    correct.add_argument("--seed", type=int, default=0, help="task generation seed (default 0)")
    correct.add_argument(
        "--dsn",
        type=_dsn,
        default=None,
        metavar="DSN",
        help="where the sql suite builds and queries its database: sqlite:///PATH or"
        " duckdb:///PATH (four slashes for an absolute path; `duckdb://` alone: in --out;"
        " DuckDB needs `pip install 'ponder[duckdb]'`). Default: SQLite,"
        " --out/sql-<seed>.sqlite",
    )
    correct.add_argument(
        "--out", type=Path, default=None, help="output folder (default runs/bench-<timestamp>)"
    )
    correct.add_argument(
        "--D-minutes",
        dest="d_minutes",
        type=float,
        default=15.0,
        help="human minutes to fix a wrong answer, for expected time-to-correct (default 15)",
    )
    correct.add_argument(
        "--D-dollars",
        dest="d_dollars",
        type=float,
        default=25.0,
        help="USD a person's fix of a wrong answer costs, for expected cost-to-correct and its"
        " break-even (default 25: 15 minutes at $100 an hour)",
    )
    correct.add_argument(
        "--concurrency", type=_positive, default=1, help="requests in flight per model (default 1)"
    )
    correct.add_argument(
        "--models-in-parallel",
        action="store_true",
        help="run the models at the same time (default: one after another, so timings of one"
        " model are not skewed by another's load)",
    )
    correct.add_argument(
        "--interleave",
        action="store_true",
        help="one model at a time, but task by task (each task's chains for every model, then"
        " the next task), so a machine whose load drifts during the run skews no model more"
        " than another",
    )
    correct.add_argument(
        "--retry-policy",
        choices=("feedback", "independent"),
        default="feedback",
        help="feedback: retry in the same conversation with the verifier's reason, stop when"
        " accepted (default); independent: k fresh samples, for the unbiased pass@k",
    )
    correct.add_argument(
        "--report-only",
        action="store_true",
        help="call no model: rebuild summary.csv and report.html from --out's attempts.jsonl",
    )
    correct.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    correct.add_argument(
        "--list-suites", action="store_true", help="list the available suites and exit"
    )
    correct.set_defaults(func=run_correct_command)
    from ponder.cli.bench_speed import register_speed

    register_speed(sub)
    parser.set_defaults(func=lambda args: _help(parser))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _list_suites() -> int:
    from ponder.bench.registry import available_suites, get_suite
    from ponder.errors import PonderError

    for name in available_suites():
        try:
            suite = get_suite(name)
            levels = ",".join(str(level) for level in suite.levels())
            print(f"{name:10} levels {levels:10} {suite.description}")
        except (PonderError, ImportError) as exc:
            print(f"{name:10} unavailable: {exc}")
    return 0


def run_correct_command(args: argparse.Namespace) -> int:
    from ponder.bench.correct import CorrectSettings, run_correct
    from ponder.config import load_config

    if args.list_suites:
        return _list_suites()
    if args.report_only and args.out is None:
        print("ponder: --report-only needs --out (the folder of an earlier run).", file=sys.stderr)
        return 2
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out: Path = args.out or Path("runs") / f"bench-{stamp}"
    settings = CorrectSettings(
        suites=args.suite,
        models=args.models,
        out=out,
        k=args.k,
        n_per_level=args.n_per_level,
        seed=args.seed,
        d_minutes=args.d_minutes,
        d_dollars=args.d_dollars,
        concurrency=args.concurrency,
        models_in_parallel=args.models_in_parallel,
        interleave=args.interleave,
        retry_policy=args.retry_policy,
        run_models=not args.report_only,
        dsn=args.dsn,
    )
    result = run_correct(load_config(args.config), settings, show_progress=not args.no_progress)
    if not result.headline:
        print("ponder: no attempts recorded for this selection.", file=sys.stderr)
        return 1
    print(result.text)
    print(f"\nwrote {out / 'attempts.jsonl'}, {out / 'summary.csv'}, {out / 'report.html'}")
    return 0
