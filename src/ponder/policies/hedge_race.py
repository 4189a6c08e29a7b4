"""The hedge's race: two lanes, one queue, one decision (what :class:`~.hedge.HedgeProvider`
runs for each hedged request).

Two pump tasks feed each lane's events into one queue; :meth:`LaneRace.run` decides what the
client sees. Deep's thoughts (and steps) stream as usual; fast's answer is held back. When fast
finishes, the verifier judges it (:func:`ponder.verify.judge`, in a thread, with a timeout):

- accepted, and deep has not begun its answer: deep's stream is closed, which really stops it
  (the local engine's worker stops at its next token, an HTTP upstream's connection is
  closed); fast's answer is sent (stamped as it is sent, so TTFA is what the client saw), with
  a notice and a step saying what happened;
- rejected: a step says why, and deep's answer streams when it comes.

Deep's first answer token (or tool call) commits to deep and cancels fast. The client sees one
``started``, one answer, one ``usage`` and one terminal event. ``Finished.served_by`` names the
lane that answered and ``cancelled_tokens`` what the other had generated; usage counts deep's
thinking so far plus the answer lane's tokens (``unserved_tokens``: fast's, when deep answered).

``max_deep_tokens_before_verdict`` caps what deep may spend before fast's verdict: deep's
stream is no longer read (the local engine pauses within a few tokens; an HTTP upstream is
held by TCP backpressure) until the verdict, then resumes only if fast was rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Notice,
    Progress,
    Started,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    now_ns,
)
from ponder.policies.hedge_lanes import lane_failure, lane_request
from ponder.providers.base import Provider
from ponder.providers.handover import EventStream, closable
from ponder.request import ChatRequest
from ponder.tokens import estimate_tokens
from ponder.verify import Judgement, Verifier, judge

if TYPE_CHECKING:
    from ponder.policies.hedge import HedgeProvider

log = logging.getLogger("ponder.hedge")
Lane = Literal["fast", "deep"]
NS_PER_S = 1_000_000_000
QUEUE_SIZE = 64


@dataclass
class _Paused:
    tokens: int


Item = Event | Judgement | _Paused


class LaneRace:
    """One hedged request: two pump tasks feed one queue; :meth:`run` decides what to send."""

    def __init__(
        self,
        hedge: HedgeProvider,
        request: ChatRequest,
        fast: Provider,
        deep: Provider,
        verifier: Verifier,
        options: Mapping[str, Any],
    ) -> None:
        self.hedge = hedge
        self.request = request
        self.names: dict[Lane, str] = {"fast": hedge.settings.fast, "deep": hedge.settings.deep}
        self.providers: dict[Lane, Provider] = {"fast": fast, "deep": deep}
        self.verifier = verifier
        self.options = options
        self.queue: asyncio.Queue[tuple[Lane, Item]] = asyncio.Queue(QUEUE_SIZE)
        self.verdict_known = asyncio.Event()
        self.deep_thoughts: list[str] = []
        self.deep_answer: list[str] = []
        self.fast_text: list[str] = []
        self.t0 = now_ns()
        self.fast_first = False
        # What each lane did, for the stream's extras and the UI's miniature timelines.
        self.lanes: dict[str, dict[str, Any]] = {
            "fast": {"model": self.names["fast"]},
            "deep": {"model": self.names["deep"]},
        }

    def _mark(
        self,
        lane: Lane,
        outcome: str,
        reason: str | None = None,
        tokens: int | None = None,
        at_ns: int | None = None,
    ) -> None:
        entry = self.lanes[lane]
        entry.update(outcome=outcome, end_ms=round(((at_ns or now_ns()) - self.t0) / 1e6, 1))
        if reason is not None:
            entry["reason"] = reason
        if tokens is not None:
            entry["tokens"] = tokens

    # --- the two lanes --------------------------------------------------------------------

    async def _events(self, lane: Lane) -> AsyncGenerator[Event, None]:
        """A lane's events, its exceptions turned into ``failed``, always ending in a terminal."""
        provider = self.providers[lane]
        source: EventStream | None = None
        try:
            source = closable(provider.stream(lane_request(self.request, lane == "deep")))
            async for event in source:
                yield event
                if isinstance(event, Finished | Failed):
                    return
            yield Failed("ponder", "stream_broken", f"{provider.name}: the stream ended early.")
        except Exception as exc:
            yield lane_failure(exc, provider.name)
        finally:
            if source is not None:
                await source.aclose()

    async def _guarded(self, lane: Lane, pump: Callable[[], Awaitable[None]]) -> None:
        """A pump that dies of a bug still ends its lane: its failure (and, for fast, the
        rejection the decision waits for) reach the queue, or the race would wait forever."""
        try:
            await pump()
        except Exception as exc:
            log.exception("hedge: the %s lane's pump failed", lane)
            failed = lane_failure(exc, self.names[lane])
            await self.queue.put((lane, failed))
            if lane == "fast":
                why = f"{self.names['fast']} failed: {failed.message}"
                await self.queue.put(("fast", Judgement(False, why)))

    async def _pump_fast(self) -> None:
        answer: list[str] = []
        terminal: Finished | Failed | None = None
        # aclosing: a cancelled put must close the lane's stream now, not when collected.
        async with contextlib.aclosing(self._events("fast")) as events:
            async for event in events:
                if isinstance(event, Answer):
                    answer.append(event.text)
                if isinstance(event, Finished | Failed):
                    terminal = event
                await self.queue.put(("fast", event))
        if isinstance(terminal, Finished) and terminal.finish_reason in ("stop", "length"):
            verdict = await judge(
                self.verifier,
                self.request,
                "".join(answer),
                self.options,
                self.hedge.settings.verify_timeout_s,
            )
        elif isinstance(terminal, Failed):
            verdict = Judgement(False, f"{self.names['fast']} failed: {terminal.message}")
        else:
            why = terminal.finish_reason if terminal is not None else "no finish"
            verdict = Judgement(False, f"{self.names['fast']} gave no answer ({why})")
        await self.queue.put(("fast", verdict))

    async def _pump_deep(self) -> None:
        cap = self.hedge.settings.max_deep_tokens_before_verdict
        tokens = 0
        async with contextlib.aclosing(self._events("deep")) as events:
            async for event in events:
                if isinstance(event, Thinking):
                    tokens += estimate_tokens(event.text)
                    if cap is not None and tokens >= cap and not self.verdict_known.is_set():
                        # Stop reading: the lane's own backpressure pauses it until the verdict.
                        await self.queue.put(("deep", _Paused(tokens)))
                        await self.verdict_known.wait()
                await self.queue.put(("deep", event))

    # --- the decision ---------------------------------------------------------------------

    def _seconds(self, at_ns: int | None = None) -> float:
        return ((at_ns or now_ns()) - self.t0) / NS_PER_S

    async def run(self) -> AsyncIterator[Event]:
        # On a shared local engine the lane started second waits for the first's prefill:
        # deep first, as its time counts when fast is rejected, unless fast is expected to be
        # right (then fast's answer is the one the client waits for).
        pumps = {"deep": self._pump_deep, "fast": self._pump_fast}
        order: tuple[Lane, Lane] = ("fast", "deep") if self.fast_first else ("deep", "fast")
        tasks: dict[Lane, asyncio.Task[None]] = {
            lane: asyncio.create_task(self._guarded(lane, pumps[lane]), name=f"ponder-hedge-{lane}")
            for lane in order
        }
        try:
            async for event in self._decide(tasks):
                yield event
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _cancel(self, tasks: dict[Lane, asyncio.Task[None]], lane: Lane) -> None:
        tasks[lane].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(tasks[lane], return_exceptions=True)

    async def _decide(self, tasks: dict[Lane, asyncio.Task[None]]) -> AsyncIterator[Event]:
        fast, deep = self.names["fast"], self.names["deep"]
        committed: Lane | None = None
        held: list[Event] = []  # fast's output, sent only if it is accepted
        fast_usage: Usage | None = None
        fast_finish: Finished | None = None
        fast_done_ns: int | None = None
        fast_rejected: str | None = None
        deep_usage: Usage | None = None
        deep_failure: Failed | None = None
        while True:
            lane, item = await self.queue.get()
            if lane == "fast":
                if committed == "deep":
                    continue
                if isinstance(item, Judgement):
                    self.verdict_known.set()
                    self._mark(
                        "fast",
                        "passed" if item.ok else "rejected",
                        item.reason,
                        self._fast_tokens(fast_usage),
                        fast_done_ns,
                    )
                    self.lanes["fast"]["verdict_ms"] = round((now_ns() - self.t0) / 1e6, 1)
                    if item.ok:
                        committed = "fast"
                        await self._cancel(tasks, "deep")
                        async for event in self._serve_fast(
                            item, held, fast_usage, fast_finish, fast_done_ns
                        ):
                            yield event
                        return
                    fast_rejected = item.reason
                    yield Progress(f"{fast}'s answer rejected: {item.reason}", 0)
                    if deep_failure is not None:
                        yield self._deep_usage(deep_usage, fast_usage)
                        yield deep_failure
                        return
                    continue
                if isinstance(item, Started | _Paused):
                    continue
                if isinstance(item, Usage):
                    fast_usage = item
                elif isinstance(item, Finished):
                    fast_finish, fast_done_ns = item, item.at_ns
                elif isinstance(item, Failed):
                    fast_done_ns = item.at_ns
                else:
                    if isinstance(item, Answer):
                        self.fast_text.append(item.text)
                    held.append(item)
                continue
            # deep
            if isinstance(item, Judgement | Started):
                continue
            if isinstance(item, _Paused):
                yield Progress(
                    f"{deep} paused at ~{item.tokens} thought tokens until {fast}'s verdict", 0
                )
                continue
            if isinstance(item, Failed):
                if committed is None and fast_rejected is None:
                    deep_failure = item  # fast may still pass; its verdict decides
                    continue
                yield self._deep_usage(deep_usage, fast_usage)
                yield item
                return
            starts_answer = (isinstance(item, Answer) and item.text) or isinstance(
                item, ToolCallStart
            )
            if committed is None and (starts_answer or isinstance(item, Finished)):
                committed = "deep"
                fast_running = not tasks["fast"].done() and fast_rejected is None
                await self._cancel(tasks, "fast")
                if fast_rejected is None:
                    what = "cancelled" if fast_running else "not needed"
                    tokens = self._fast_tokens(fast_usage)
                    self._mark("fast", "cancelled", f"{deep} answered first", tokens)
                    yield Progress(f"{deep} answered first; {fast} {what}", 0)
            if isinstance(item, Thinking):
                self.deep_thoughts.append(item.text)
            elif isinstance(item, Answer):
                self.deep_answer.append(item.text)
            if isinstance(item, Usage):
                deep_usage = item
                continue
            if isinstance(item, Finished):
                usage = self._deep_usage(deep_usage, fast_usage)
                self._mark("deep", "served", tokens=usage.output_tokens, at_ns=item.at_ns)
                yield usage
                yield dataclasses.replace(
                    item,
                    served_by=deep,
                    cancelled_tokens={fast: self._fast_tokens(fast_usage)},
                    lanes=self.lanes,
                )
                return
            yield item

    def _fast_tokens(self, usage: Usage | None) -> int:
        if usage is not None:
            return usage.output_tokens
        return estimate_tokens("".join(self.fast_text))

    def _deep_usage(self, usage: Usage | None, fast_usage: Usage | None) -> Usage:
        fast_tokens = self._fast_tokens(fast_usage)
        if usage is None:  # deep reported none: count what it sent, as the engine would
            return Usage(
                input_tokens=None,
                thinking_tokens=estimate_tokens("".join(self.deep_thoughts)),
                answer_tokens=estimate_tokens("".join(self.deep_answer)),
                estimated=True,
                unserved_tokens=fast_tokens or None,
            )
        return dataclasses.replace(usage, unserved_tokens=fast_tokens or None)

    async def _serve_fast(
        self,
        verdict: Judgement,
        held: list[Event],
        fast_usage: Usage | None,
        fast_finish: Finished | None,
        fast_done_ns: int | None,
    ) -> AsyncIterator[Event]:
        fast, deep = self.names["fast"], self.names["deep"]
        deep_tokens = estimate_tokens("".join(self.deep_thoughts))
        self._mark("deep", "cancelled", f"{fast}'s answer passed", deep_tokens)
        tokens = f"{deep_tokens} thought token{'' if deep_tokens == 1 else 's'}"
        said = (
            f"{fast} answered in {human_ms(self._seconds(fast_done_ns) * 1000)} and passed:"
            f" {verdict.reason}; {deep} cancelled after"
            f" {human_ms(self._seconds() * 1000)}, {tokens}"
        )
        yield Progress(f"{fast}'s answer passed the {self.verifier.name} check; {deep} stopped", 0)
        yield Notice(said)
        for event in held:
            if isinstance(event, Thinking):
                continue  # the client watched deep's thoughts; fast's are not replayed
            if isinstance(event, Answer | ToolCallStart | ToolCallDelta | ToolCallEnd | Notice):
                yield dataclasses.replace(event, at_ns=now_ns())
            else:
                yield event
        answer_tokens = (
            fast_usage.answer_tokens
            if fast_usage is not None
            else estimate_tokens("".join(self.fast_text))
        )
        fast_thinking = fast_usage.thinking_tokens if fast_usage is not None else 0
        yield Usage(
            input_tokens=fast_usage.input_tokens if fast_usage is not None else None,
            thinking_tokens=deep_tokens,
            answer_tokens=answer_tokens,
            estimated=True,  # deep was stopped before it could report its count
            unserved_tokens=fast_thinking or None,
        )
        reason = fast_finish.finish_reason if fast_finish is not None else "stop"
        yield Finished(
            reason, served_by=fast, cancelled_tokens={deep: deep_tokens}, lanes=self.lanes,
            stop_sequence=fast_finish.stop_sequence if fast_finish is not None else None,
        )  # fmt: skip


# --- auto ---------------------------------------------------------------------------------


def human_ms(ms: float) -> str:
    """A duration for people: "340 ms", "2.5 s", "1.2 min"."""
    if ms < 1_000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"
