"""``ponder bench correct`` as a library call: generate tasks, run attempts, write outputs.

Output folder layout (``--out``)::

    attempts.jsonl   every attempt (docs/attempts-schema.md), appended as it is judged
    summary.csv      one row per model overall, then per (model, suite, level)
    report.html      self-contained report with inline-SVG plots
    run.json         the settings of the latest run over this folder
    sql-<seed>.sqlite  (sql suite) the generated database the questions run against
                       (sql-<seed>.duckdb with ``dsn="duckdb://"``; a DSN with a path puts
                       it there instead)

Running again over the same folder resumes: finished (task, model) chains are skipped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ponder.bench.outputs import headline_text, write_csv
from ponder.bench.progressbar import ProgressBar
from ponder.bench.records import ATTEMPTS_FILE, AttemptLog, AttemptRecord, read_attempts
from ponder.bench.registry import get_suite
from ponder.bench.report import render_report
from ponder.bench.runner import BenchRunner, RetryPolicy, RunSettings, chain_key
from ponder.bench.stats import (
    Summary,
    break_evens,
    break_evens_usd,
    by_level,
    headline,
    reduce_chains,
)
from ponder.bench.suite import DatabaseSuite, Suite, Task
from ponder.config import Config
from ponder.engine import Engine
from ponder.errors import ConfigError

SUMMARY_FILE = "summary.csv"
REPORT_FILE = "report.html"
MANIFEST_FILE = "run.json"


@dataclass(frozen=True, slots=True)
class CorrectSettings:
    suites: tuple[str, ...]
    models: tuple[str, ...]
    out: Path
    k: int = 3
    n_per_level: int = 10
    seed: int = 0
    d_minutes: float = 15.0
    # What a person fixing a wrong answer costs, in USD (15 minutes at $100 an hour).
    d_dollars: float = 25.0
    concurrency: int = 1
    models_in_parallel: bool = False
    interleave: bool = False  # task by task across the models (see RunSettings)
    retry_policy: RetryPolicy = "feedback"
    run_models: bool = True  # False: only rebuild the summary and report from the JSONL
    # Where database suites (sql) keep their database: sqlite:///PATH or duckdb:///PATH;
    # None: SQLite in ``out``.
    dsn: str | None = None


@dataclass(frozen=True, slots=True)
class CorrectResult:
    headline: list[Summary]
    levels: list[Summary]
    break_even_s: dict[str, float | None]
    new_attempts: int
    records: list[AttemptRecord] = field(default_factory=list)
    text: str = ""


def build_tasks(suites: Sequence[Suite], n_per_level: int, seed: int, out: Path) -> list[Task]:
    tasks: list[Task] = []
    for suite in suites:
        tasks.extend(suite.generate(n_per_level, seed, out))
    return tasks


def run_correct(
    config: Config,
    settings: CorrectSettings,
    engine: Engine | None = None,
    progress_stream: TextIO | None = None,
    show_progress: bool = True,
) -> CorrectResult:
    for model in settings.models:
        if model not in config.names():  # ``auto`` (the router) included
            config.model(model)  # raises, naming the known models
    suites = load_suites(settings)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    tasks = build_tasks(suites, settings.n_per_level, settings.seed, out)
    log_path = out / ATTEMPTS_FILE
    previous = read_attempts(log_path)
    new: list[AttemptRecord] = []
    if settings.run_models:
        _check_same_database(out, settings, suites, previous)
        _write_manifest(out, settings, len(tasks))
        progress = ProgressBar(
            len(tasks) * len(settings.models), stream=progress_stream, enabled=show_progress
        )
        run_settings = RunSettings(
            models=settings.models,
            k=settings.k,
            retry_policy=settings.retry_policy,
            concurrency=settings.concurrency,
            models_in_parallel=settings.models_in_parallel,
            interleave=settings.interleave,
        )
        new = asyncio.run(
            _run(
                config,
                engine,
                {s.name: s for s in suites},
                run_settings,
                log_path,
                tasks,
                previous,
                progress,
            )
        )
        progress.close()
    wanted = {chain_key(t, m) for t in tasks for m in settings.models}
    records = [r for r in [*previous, *new] if r.key in wanted]
    return summarize_run(records, settings, len(new))


def load_suites(settings: CorrectSettings) -> list[Suite]:
    """The selected suites, the database ones pointed at ``settings.dsn`` when given."""
    suites = [get_suite(name) for name in settings.suites]
    if settings.dsn is not None:
        takers = [s for s in suites if isinstance(s, DatabaseSuite)]
        if not takers:
            raise ConfigError(
                "--dsn applies to suites that run on a database (sql); none is selected."
            )
        for suite in takers:
            suite.use_dsn(settings.dsn)
    return suites


def _dsn_engine(dsn: str | None) -> str:
    return (dsn or "sqlite://").partition("://")[0].lower()


def _check_same_database(
    out: Path, settings: CorrectSettings, suites: Sequence[Suite], previous: list[AttemptRecord]
) -> None:
    """Refuse to resume a folder whose database suites ran on another engine (mixed results)."""
    names = {s.name for s in suites if isinstance(s, DatabaseSuite)}
    if not names or not any(r.suite in names for r in previous):
        return
    try:
        before = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8")).get("dsn")
    except (OSError, ValueError, AttributeError):
        return
    if _dsn_engine(before) != _dsn_engine(settings.dsn):
        raise ConfigError(
            f"{out} holds {', '.join(sorted(names))} attempts run on {_dsn_engine(before)};"
            f" this run asks for {_dsn_engine(settings.dsn)}. Use a fresh --out."
        )


async def _run(
    config: Config,
    engine: Engine | None,
    suites: dict[str, Suite],
    run_settings: RunSettings,
    log_path: Path,
    tasks: list[Task],
    previous: list[AttemptRecord],
    progress: ProgressBar,
) -> list[AttemptRecord]:
    own = engine is None
    engine = engine or Engine(config)
    try:
        for model in run_settings.models:
            engine.provider(model)  # a missing provider kind fails here, before any attempt
        with AttemptLog(log_path) as log:
            runner = BenchRunner(engine, suites, run_settings, log, progress)
            return await runner.run(tasks, previous)
    finally:
        if own:
            await engine.aclose()


def summarize_run(
    records: list[AttemptRecord], settings: CorrectSettings, new_attempts: int
) -> CorrectResult:
    chains = reduce_chains(records)
    top = headline(chains, settings.models)
    levels = by_level(chains, settings.models)
    d_s = settings.d_minutes * 60
    be = break_evens(top)
    be_usd = break_evens_usd(top)
    d_usd = settings.d_dollars
    out = settings.out
    write_csv(out / SUMMARY_FILE, [*top, *levels], d_s, be, d_usd, be_usd)
    manifest = {
        "suites": ", ".join(settings.suites),
        "models": ", ".join(settings.models),
        "k": settings.k,
        "retry policy": settings.retry_policy,
        "tasks per level": settings.n_per_level,
        "seed": settings.seed,
        "D": f"{settings.d_minutes:g} min",
        "D$": f"${settings.d_dollars:g}",
        "concurrency per model": settings.concurrency,
        "attempts recorded": len(records),
    }
    if settings.dsn is not None:
        manifest["database"] = settings.dsn
    judging = {name: _judging(name) for name in settings.suites}
    html = render_report(
        top, levels, chains, d_s, be, manifest, records, d_usd=d_usd, judging=judging
    )
    (out / REPORT_FILE).write_text(html, encoding="utf-8")
    return CorrectResult(
        headline=top,
        levels=levels,
        break_even_s=be,
        new_attempts=new_attempts,
        records=records,
        text=headline_text(top, d_s, be, d_usd, be_usd),
    )


def _judging(name: str) -> str | None:
    """What suite ``name`` says about how it judges (None when it says nothing, or is not
    installed here: a report rebuilt from another machine's attempts still renders)."""
    try:
        suite = get_suite(name)
    except ConfigError:
        return None
    how = getattr(suite, "judging", None)
    return how if isinstance(how, str) else None


def _write_manifest(out: Path, settings: CorrectSettings, tasks: int) -> None:
    data = {
        "suites": list(settings.suites),
        "models": list(settings.models),
        "k": settings.k,
        "n_per_level": settings.n_per_level,
        "seed": settings.seed,
        "d_minutes": settings.d_minutes,
        "d_dollars": settings.d_dollars,
        "retry_policy": settings.retry_policy,
        "concurrency": settings.concurrency,
        "dsn": settings.dsn,
        "tasks": tasks,
    }
    (out / MANIFEST_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
