"""Run one load step against a target; every request becomes a :class:`RequestRecord`.

A step lasts ``duration_s`` (requests start until then; those in flight are waited for) or
until ``max_requests`` measured requests have started, whichever comes first. Requests that
start in the first ``warmup_s`` seconds of a step are warm-up: recorded, marked, and kept out
of the step's statistics (they open connections and fill caches).

A closed-loop step's workers start spread evenly over the warm-up rather than all at once:
N workers started in the same millisecond stay in lockstep against a server with steady
latency (all finish together, all send again together), so every request would meet a burst
of N arrivals; spread out, they arrive as N independent users would.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ponder.bench.speed.profiles import Step
from ponder.bench.speed.targets import Outcome, Target


@dataclass(frozen=True, slots=True)
class RequestRecord:
    step: int
    step_name: str
    index: int
    started_s: float  # since the step began
    warmup: bool
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Limits:
    duration_s: float | None = 30.0
    max_requests: int | None = None
    warmup_s: float = 0.0
    max_concurrency: int = 256


@dataclass
class StepRun:
    step: Step
    index: int
    records: list[RequestRecord]
    elapsed_s: float


async def run_step(
    target: Target,
    step: Step,
    index: int,
    prompts: Sequence[str],
    limits: Limits,
    on_done: Callable[[RequestRecord], None] = lambda record: None,
    seed: int = 0,
) -> StepRun:
    if limits.duration_s is None and limits.max_requests is None:
        raise ValueError("a step needs a duration or a request cap")
    records: list[RequestRecord] = []
    begin = time.perf_counter()
    end = begin + limits.warmup_s + (limits.duration_s if limits.duration_s is not None else 1e12)
    started = 0  # every request, warm-up included
    measured = 0

    def claim() -> tuple[int, bool] | None:
        """The next request's number and whether it is warm-up; None: start no more.
        Counted here, when the request is decided, so an open loop never overshoots."""
        nonlocal started, measured
        now = time.perf_counter()
        if now >= end:
            return None
        warm = now - begin < limits.warmup_s
        if not warm and limits.max_requests is not None and measured >= limits.max_requests:
            return None
        started += 1
        measured += 0 if warm else 1
        return started - 1, warm

    async def one(number: int, warm: bool) -> None:
        offset = time.perf_counter() - begin
        outcome = await target.send(prompts[number % len(prompts)])
        record = RequestRecord(index, step.name, number, offset, warm, outcome)
        records.append(record)
        on_done(record)

    if not step.open_loop:
        workers = int(step.value)

        async def worker(k: int) -> None:
            if k and limits.warmup_s:
                await asyncio.sleep(limits.warmup_s * k / workers)
            while (claimed := claim()) is not None:
                await one(*claimed)

        await asyncio.gather(*(worker(k) for k in range(workers)))
    else:
        rng = random.Random(seed * 7919 + index)
        slots = asyncio.Semaphore(limits.max_concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def held(number: int, warm: bool) -> None:
            try:
                await one(number, warm)
            finally:
                slots.release()

        due = begin
        while True:
            gap = rng.expovariate(step.value) if step.kind == "poisson" else 1 / step.value
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            claimed = claim()
            if claimed is None:
                slots.release()
                break
            task = asyncio.create_task(held(*claimed))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            due += gap
        if tasks:
            await asyncio.gather(*tasks)
    records.sort(key=lambda r: r.index)
    return StepRun(step, index, records, time.perf_counter() - begin)
