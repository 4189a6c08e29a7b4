"""Attempts: for each (task, model), call the model until the verifier accepts or k attempts.

Two retry policies:

- ``feedback`` (default): a rejected answer is followed by a user message carrying the
  verifier's reason (:func:`ponder.bench.suite.retry_prompt`, or the suite's own
  ``retry_prompt`` hook), in the same conversation; the chain stops at the first accepted
  answer. Time-to-correct is the sum of the attempts' E2E and verification times up to and
  including the accepted one.
- ``independent``: k fresh samples of the same prompt, all of them run, so the unbiased
  pass@k estimator applies.

Concurrency is limited per model (``concurrency``); by default models run one after another
so that one model's load never skews another's timings (``interleave``: still one at a time,
but task by task, so load that drifts during the run weighs on every model alike). Every
attempt is appended to the attempts JSONL as soon as it is judged; a rerun on the same log
skips finished chains and resumes unfinished ones from their last recorded attempt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ponder import __version__
from ponder.bench.progressbar import ProgressBar
from ponder.bench.records import AttemptLog, AttemptRecord, ErrorRecord, VerdictRecord
from ponder.bench.suite import Suite, Task, Verdict, feedback_for
from ponder.config import Price
from ponder.engine import Engine
from ponder.errors import PonderError
from ponder.events import Answer, Failed, Finished, Started, Thinking, Usage
from ponder.meter import Meter
from ponder.pricing import cost_of, price_for
from ponder.request import ChatRequest, Message
from ponder.tokens import estimate_tokens

RetryPolicy = Literal["feedback", "independent"]
RETRY_POLICIES: tuple[RetryPolicy, ...] = ("feedback", "independent")

ChainKey = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class RunSettings:
    models: tuple[str, ...]
    k: int = 3
    retry_policy: RetryPolicy = "feedback"
    concurrency: int = 1
    models_in_parallel: bool = False
    # One model at a time but task by task, so load that drifts over the run skews no model.
    interleave: bool = False


def chain_key(task: Task, model: str) -> ChainKey:
    return (task.suite, task.id, task.seed, model)


def chain_finished(records: Sequence[AttemptRecord], k: int, policy: RetryPolicy) -> bool:
    """Whether a chain's recorded attempts complete it under ``k`` and ``policy``."""
    if policy == "feedback" and any(r.verdict.ok for r in records):
        return True
    return len(records) >= k


def group_chains(records: Sequence[AttemptRecord]) -> dict[ChainKey, list[AttemptRecord]]:
    """Records per chain, in attempt order (a duplicate attempt number keeps the first)."""
    chains: dict[ChainKey, dict[int, AttemptRecord]] = defaultdict(dict)
    for record in records:
        chains[record.key].setdefault(record.attempt, record)
    return {key: [byn[n] for n in sorted(byn)] for key, byn in chains.items()}


class BenchRunner:
    def __init__(
        self,
        engine: Engine,
        suites: Mapping[str, Suite],
        settings: RunSettings,
        log: AttemptLog,
        progress: ProgressBar | None = None,
    ) -> None:
        self.engine = engine
        self.suites = suites
        self.settings = settings
        self.log = log
        self.progress = progress

    async def run(
        self, tasks: Sequence[Task], previous: Sequence[AttemptRecord] = ()
    ) -> list[AttemptRecord]:
        """Run every unfinished chain; return the new records (also appended to the log)."""
        settings = self.settings
        done = group_chains(previous)
        pending: dict[str, list[tuple[Task, list[AttemptRecord]]]] = {
            m: [] for m in settings.models
        }
        skipped = 0
        for model in settings.models:
            for task in tasks:
                prior = done.get(chain_key(task, model), [])
                if chain_finished(prior, settings.k, settings.retry_policy):
                    skipped += 1
                else:
                    pending[model].append((task, prior))
        if self.progress is not None and skipped:
            self.progress.skip(skipped)
        new: list[AttemptRecord] = []

        async def run_model(model: str) -> None:
            gate = asyncio.Semaphore(max(1, settings.concurrency))

            async def one(task: Task, prior: list[AttemptRecord]) -> None:
                async with gate:
                    new.extend(await self.run_chain(task, model, prior))
                if self.progress is not None:
                    self.progress.chain_done()

            await asyncio.gather(*(one(task, prior) for task, prior in pending[model]))

        if settings.interleave and not settings.models_in_parallel:
            todo = {(m, chain_key(t, m)): p for m in settings.models for t, p in pending[m]}
            for task in tasks:
                for model in settings.models:
                    earlier = todo.get((model, chain_key(task, model)))
                    if earlier is None:
                        continue
                    new.extend(await self.run_chain(task, model, earlier))
                    if self.progress is not None:
                        self.progress.chain_done()
        elif settings.models_in_parallel:
            await asyncio.gather(*(run_model(m) for m in settings.models))
        else:
            for model in settings.models:
                await run_model(model)
        return new

    async def run_chain(
        self, task: Task, model: str, prior: Sequence[AttemptRecord] = ()
    ) -> list[AttemptRecord]:
        settings = self.settings
        suite = self.suites[task.suite]
        history: list[Message] = [Message("user", task.prompt)]
        feedback: str | None = None
        if settings.retry_policy == "feedback":
            for record in prior:
                history.append(Message("assistant", record.answer))
                feedback = feedback_for(
                    suite,
                    task,
                    Verdict(record.verdict.ok, record.verdict.reason, record.verdict.extracted),
                )
                history.append(Message("user", feedback))
        records: list[AttemptRecord] = []
        for attempt in range(len(prior) + 1, settings.k + 1):
            if settings.retry_policy == "feedback":
                messages = tuple(history)
            else:
                messages = (Message("user", task.prompt),)
                feedback = None
            record = await self._attempt(task, suite, model, attempt, messages, feedback)
            self.log.append(record)
            records.append(record)
            if self.progress is not None:
                self.progress.attempt(record.verdict.ok)
            if settings.retry_policy == "feedback":
                if record.verdict.ok:
                    break
                history.append(Message("assistant", record.answer))
                feedback = feedback_for(
                    suite,
                    task,
                    Verdict(record.verdict.ok, record.verdict.reason, record.verdict.extracted),
                )
                history.append(Message("user", feedback))
        return records

    async def _attempt(
        self,
        task: Task,
        suite: Suite,
        model: str,
        attempt: int,
        messages: tuple[Message, ...],
        feedback: str | None,
    ) -> AttemptRecord:
        request = ChatRequest(messages=messages, model=model)
        started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        meter = Meter()
        thinking: list[str] = []
        answer: list[str] = []
        mode = "unknown"
        served = model
        route_reason: str | None = None
        error: ErrorRecord | None = None
        extra: dict[str, object] = {}
        try:
            async for event in self.engine.stream(request):
                meter.feed(event)
                if isinstance(event, Finished):
                    extra.update(_served(event))
                elif isinstance(event, Usage) and event.unserved_tokens:
                    extra["unserved_tokens"] = event.unserved_tokens
                if isinstance(event, Started):
                    mode = event.mode
                    served = event.model
                    route_reason = event.reason
                elif isinstance(event, Thinking):
                    thinking.append(event.text)
                elif isinstance(event, Answer):
                    answer.append(event.text)
                elif isinstance(event, Failed):
                    error = ErrorRecord(event.side, event.code, event.message)
        except PonderError as exc:  # raised before anything was sent (e.g. a config error)
            error = ErrorRecord(exc.side, exc.code, exc.message)
        answer_text = "".join(answer)
        t0 = time.perf_counter()
        if error is not None and not answer_text.strip():
            verdict = Verdict(False, f"the model call failed ({error.code}): {error.message}")
        else:
            verdict = await asyncio.to_thread(_safe_verify, suite, task, answer_text)
        verify_ms = (time.perf_counter() - t0) * 1000
        metrics = meter.metrics()
        usage = Usage(
            metrics.input_tokens,
            metrics.thinking_tokens,
            metrics.answer_tokens,
            metrics.tokens_estimated,
        )
        prompt_tokens = estimate_tokens("\n".join(m.content for m in messages))
        cost = cost_of(self._price(served), usage, prompt_tokens)
        return AttemptRecord(
            suite=task.suite,
            task_id=task.id,
            family=task.family,
            level=task.level,
            template=task.template,
            seed=task.seed,
            prompt=task.prompt,
            model=model,
            mode=mode,
            attempt=attempt,
            k=self.settings.k,
            retry_policy=self.settings.retry_policy,
            feedback=feedback,
            verdict=VerdictRecord(verdict.ok, verdict.reason, verdict.extracted),
            thinking="".join(thinking),
            answer=answer_text,
            meter=metrics.as_dict(),
            verify_ms=round(verify_ms, 3),
            started_at=started_at,
            reference=task.reference,
            route_reason=route_reason,
            error=error,
            cost_usd=round(cost.total_usd, 10) if cost is not None else None,
            ponder_version=__version__,
            extra=extra,
        )

    def _price(self, name: str) -> Price | None:
        try:
            return price_for(self.engine.config.model(name))
        except PonderError:
            return None


def _served(event: Finished) -> dict[str, object]:
    """A wrapper's (the hedge's) record: which model answered, what the loser had generated."""
    out: dict[str, object] = {}
    if event.served_by is not None:
        out["served_by"] = event.served_by
    if event.cancelled_tokens:
        out["cancelled_tokens"] = dict(event.cancelled_tokens)
    return out


def _safe_verify(suite: Suite, task: Task, answer: str) -> Verdict:
    try:
        return suite.verify(task, answer)
    except Exception as exc:  # a verifier bug must not stop the run; it is recorded
        return Verdict(False, f"the verifier crashed: {type(exc).__name__}: {exc}")
