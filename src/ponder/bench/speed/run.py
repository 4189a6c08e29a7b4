"""One ``ponder bench speed`` run: its steps in order, each metered, summarised and written.

Files under ``out``: ``requests.jsonl`` (appended as each step ends), ``steps.csv``,
``report.html`` and ``run.json`` (the settings).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ponder.bench.speed.outputs import append_jsonl, headline_text, write_csv
from ponder.bench.speed.profiles import Step, fixed_steps, sweep_rates
from ponder.bench.speed.progress import SpeedProgress
from ponder.bench.speed.report import render_report
from ponder.bench.speed.runner import Limits, RequestRecord, run_step
from ponder.bench.speed.stats import TPOT_DEFINITION, StepSummary, summarise
from ponder.bench.speed.targets import Target


@dataclass(frozen=True, slots=True)
class SpeedSettings:
    profile: str = "sweep"
    concurrencies: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    sweep_rates: int = 4
    limits: Limits = field(default_factory=Limits)
    slo: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    out: Path = Path("runs/speed")


@dataclass(frozen=True, slots=True)
class SpeedResult:
    rows: list[StepSummary]
    records: list[RequestRecord]
    text: str


def planned_steps(settings: SpeedSettings) -> int:
    steps = fixed_steps(settings.profile, settings.concurrencies, settings.rates,
                        settings.limits.max_concurrency)
    return len(steps) + (settings.sweep_rates if settings.profile == "sweep" else 0)


async def run_speed_async(target: Target, settings: SpeedSettings, prompts: Sequence[str],
                          progress: SpeedProgress | None = None) -> SpeedResult:
    limits = settings.limits
    steps: list[Step] = fixed_steps(settings.profile, settings.concurrencies, settings.rates,
                                    limits.max_concurrency)
    settings.out.mkdir(parents=True, exist_ok=True)
    rows: list[StepSummary] = []
    records: list[RequestRecord] = []
    total = planned_steps(settings)

    def done(record: RequestRecord) -> None:
        if progress is not None:
            progress.request(record.outcome.error is None)

    with (settings.out / "requests.jsonl").open("w", encoding="utf-8") as jsonl:
        index = 0
        while index < len(steps):
            step = steps[index]
            if progress is not None:
                progress.steps = total
                progress.begin_step(index, step.name)
            run = await run_step(target, step, index, prompts, limits, done, settings.seed)
            if progress is not None:
                progress.end_step(run.elapsed_s if progress.by_time else 0)
            append_jsonl(jsonl, run.records)
            jsonl.flush()
            records.extend(run.records)
            rows.append(summarise(index, step.name, step.kind, step.value, run.records,
                                  settings.slo))
            if settings.profile == "sweep" and index == 1:
                steps += sweep_rates(rows[0].req_per_s, rows[1].req_per_s, settings.sweep_rates)
            index += 1
    await target.aclose()
    write_csv(settings.out / "steps.csv", rows)
    run_settings = {"target": target.label, **_plain(asdict(settings))}
    (settings.out / "run.json").write_text(json.dumps(run_settings, indent=2) + "\n",
                                           encoding="utf-8")
    (settings.out / "report.html").write_text(render_report(rows, settings.slo, run_settings),
                                              encoding="utf-8")
    text = headline_text(rows, bool(settings.slo)) + "\n" + TPOT_DEFINITION + "."
    return SpeedResult(rows, records, text)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    limits = data.pop("limits")
    data["out"] = str(data["out"])
    return {**data, **limits}


def run_speed(target_factory: Callable[[], Target], settings: SpeedSettings,
              prompts: Sequence[str], progress_stream: TextIO | None = None,
              show_progress: bool = True) -> SpeedResult:
    """Run in a fresh event loop (uvloop when installed: less CPU per chunk, so more
    streams per bench process before the bench itself skews the figures)."""
    limits = settings.limits
    by_time = limits.duration_s is not None
    total = planned_steps(settings)
    units = (limits.duration_s or 0) + limits.warmup_s if by_time else (limits.max_requests or 0)
    progress = SpeedProgress(int(total * units), total, by_time, stream=progress_stream,
                             enabled=show_progress)

    async def main() -> SpeedResult:
        return await run_speed_async(target_factory(), settings, prompts, progress)

    try:
        return _run(main())
    finally:
        progress.close()


def _run(coro: Coroutine[Any, Any, SpeedResult]) -> SpeedResult:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
