"""The hedge: race a fast model against a deep one, and let a verifier accept the fast answer.

:class:`HedgeProvider` starts both lanes at once. Deep's thoughts (and steps) stream to the
client as usual; fast's answer is held back. When fast finishes, the verifier judges it
(:func:`ponder.verify.judge`, in a thread, with a timeout):

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

:class:`AutoHedge` is what ``auto`` consults: hedge when a verifier applies and the router's
estimates say hedging lowers the expected time-to-correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from ponder.config import Config, ModelConfig
from ponder.errors import (
    ConfigError,
    InvalidRequestError,
    PonderError,
    ToolsUnsupportedError,
    UpstreamUnreachableError,
)
from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Mode,
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
from ponder.providers.base import Availability, Estimator, Provider
from ponder.request import ChatRequest, ThinkingSettings
from ponder.router.base import Decision, HedgePlan
from ponder.tokens import estimate_tokens
from ponder.verify import Judgement, Verifier, get_verifier, judge
from ponder.verify.base import VerifierOptionError
from ponder.verify.registry import DEFAULT_TIMEOUT_S

Lane = Literal["fast", "deep"]
NS_PER_S = 1_000_000_000
QUEUE_SIZE = 64
_HEDGE_KEYS = frozenset(
    {"fast", "deep", "verifier", "verifier_options", "max_deep_tokens_before_verdict",
     "verify_timeout_s", "race", "race_slowdown", "race_min_saving"}
)
Race = Literal["always", "when_it_pays"]
RACES: tuple[Race, ...] = ("always", "when_it_pays")
DEFAULT_SLOWDOWN = 1.2
DEFAULT_MIN_SAVING = 0.1


@dataclass(frozen=True, slots=True)
class Costs:
    """Expected time-to-correct of each way to answer, from a router's estimates (ms)."""

    fast: float
    deep: float
    hedge: float
    p_fast: float

    @classmethod
    def of(
        cls, estimates: Mapping[str, float] | None, d_ms: float, slowdown: float
    ) -> Costs | None:
        """None when the estimates lack a figure. A static mode costs E2E + (1 − p)·D. The
        hedge costs fast's E2E when the verifier passes fast (probability p_fast), else
        deep's, both ``slowdown`` times slower for sharing the machine, plus deep's (1 − p)·D:
        it never serves an answer the verifier rejected."""
        e = estimates or {}
        needed = ("p_fast", "p_deep", "e2e_fast_ms", "e2e_deep_ms")
        if not all(isinstance(e.get(k), int | float) for k in needed):
            return None
        p_f, p_d = float(e["p_fast"]), float(e["p_deep"])
        e_f, e_d = float(e["e2e_fast_ms"]), float(e["e2e_deep_ms"])
        return cls(
            fast=e_f + (1 - p_f) * d_ms,
            deep=e_d + (1 - p_d) * d_ms,
            hedge=slowdown * (p_f * e_f + (1 - p_f) * e_d) + (1 - p_d) * d_ms,
            p_fast=p_f,
        )

    def hedge_pays(self, against: float, e2e_ms: float, min_saving: float) -> bool:
        """Whether hedging saves at least ``min_saving`` of the alternative's E2E."""
        return against - self.hedge >= min_saving * e2e_ms

    def figures(self, against: str, cost: float) -> str:
        # D's term often dwarfs the difference: say the difference itself too.
        saving = cost - self.hedge
        delta = f"saves {_human(saving)}" if saving >= 0 else f"costs {_human(-saving)} more"
        return (
            f"expected time-to-correct {_human(self.hedge)} hedged vs {_human(cost)} {against},"
            f" hedging {delta}; P(fast correct) {self.p_fast:.2f}"
        )


@dataclass(frozen=True, slots=True)
class HedgeSettings:
    fast: str = "fast"
    deep: str = "deep"
    verifier: str | None = "embedded"
    verifier_options: Mapping[str, Any] = field(default_factory=dict)
    max_deep_tokens_before_verdict: int | None = None
    verify_timeout_s: float = DEFAULT_TIMEOUT_S
    # "always" races both lanes; "when_it_pays" asks the router's estimates first and runs
    # deep alone when racing would not lower the expected time-to-correct (see Costs).
    race: Race = "always"
    race_slowdown: float = DEFAULT_SLOWDOWN
    race_min_saving: float = DEFAULT_MIN_SAVING

    @classmethod
    def from_config(cls, config: ModelConfig) -> HedgeSettings:
        where = f"[models.{config.name}]"
        options = config.options
        unknown = set(options) - _HEDGE_KEYS
        if unknown:
            raise ConfigError(
                f"{where} has keys a hedge does not take: {', '.join(sorted(unknown))}."
                f" A hedge takes {', '.join(sorted(_HEDGE_KEYS))}."
            )
        fast, deep = options.get("fast", "fast"), options.get("deep", "deep")
        if not (isinstance(fast, str) and isinstance(deep, str)) or fast == deep:
            raise ConfigError(f'{where} needs two different models: fast = "...", deep = "...".')
        if config.name in (fast, deep):
            raise ConfigError(f"{where} cannot race itself: fast and deep name other models.")
        verifier = options.get("verifier", "embedded")
        if verifier is not None and not isinstance(verifier, str):
            raise ConfigError(f'{where} verifier must be a verifier name, e.g. "embedded".')
        verifier_options = options.get("verifier_options", {})
        if not isinstance(verifier_options, Mapping):
            raise ConfigError(f"{where} verifier_options must be a table.")
        cap = options.get("max_deep_tokens_before_verdict")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            raise ConfigError(f"{where} max_deep_tokens_before_verdict must be a positive integer.")
        timeout = options.get("verify_timeout_s", DEFAULT_TIMEOUT_S)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"{where} verify_timeout_s must be a positive number of seconds.")
        race = options.get("race", "always")
        if race not in RACES:
            raise ConfigError(f"{where} race must be one of {', '.join(RACES)}.")
        slowdown = options.get("race_slowdown", DEFAULT_SLOWDOWN)
        saving = options.get("race_min_saving", DEFAULT_MIN_SAVING)
        if not isinstance(slowdown, int | float) or slowdown < 1:
            raise ConfigError(f"{where} race_slowdown must be a number >= 1.")
        if not isinstance(saving, int | float) or not 0 <= saving < 1:
            raise ConfigError(f"{where} race_min_saving must be a share between 0 and 1.")
        if verifier is not None:
            get_verifier(verifier)  # an unknown name fails at startup, naming the choices
        return cls(
            fast, deep, verifier, dict(verifier_options), cap, float(timeout),
            race, float(slowdown), float(saving),
        )  # fmt: skip


class HedgeProvider(Provider):
    """``provider = "hedge"``: race ``fast`` against ``deep``; see the module docstring."""

    kind = "hedge"
    needs_resolver = True
    # Its verifiers judge answer text: a forced tool call would go round them.
    supports_tools = False

    def __init__(
        self,
        config: ModelConfig,
        resolve: Callable[[str], Provider],
        settings: HedgeSettings | None = None,
        estimate: Estimator | None = None,
    ) -> None:
        super().__init__(config)
        self.resolve = resolve
        self.settings = settings or HedgeSettings.from_config(config)
        self.estimate = estimate

    @classmethod
    def with_resolver(
        cls,
        config: ModelConfig,
        resolve: Callable[[str], Provider],
        estimate: Estimator | None = None,
    ) -> Provider:
        return cls(config, resolve, estimate=estimate)

    def race_plan(
        self, request: ChatRequest, estimates: Mapping[str, float] | None
    ) -> str | None:
        """None to race; else why deep runs alone: the request opted out, or (``race =
        "when_it_pays"``) the router's figures say racing would not pay."""
        s = self.settings
        if request.hedge is False:
            return "the request opted out of hedging (ponder.hedge=false)"
        if s.race == "always":
            return None
        if estimates is None and self.estimate is not None:
            estimates = self.estimate(request)
        costs = Costs.of(estimates, 0.0, s.race_slowdown)  # D weighs hedge and deep alike
        if costs is None:
            return None  # nothing to judge by: race, as a hedge does
        e2e_deep = costs.deep  # with D = 0, deep's cost is its E2E
        if costs.hedge_pays(costs.deep, e2e_deep, s.race_min_saving):
            return None
        figures = costs.figures(s.deep, costs.deep)
        return f"racing {s.fast} would not pay ({figures})"

    def fast_likely(self, request: ChatRequest, estimates: Mapping[str, float] | None) -> bool:
        """Whether the router expects fast to be right (P(fast correct) ≥ 0.5): then fast's lane
        starts first, so on a shared local engine it is not queued behind deep's prefill."""
        if estimates is None and self.estimate is not None:
            estimates = self.estimate(request)
        p_fast = (estimates or {}).get("p_fast")
        return isinstance(p_fast, int | float) and p_fast >= 0.5

    async def check(self) -> Availability:
        s = self.settings
        for name in (s.fast, s.deep):
            try:
                lane = await self.resolve(name).check()
            except PonderError as exc:
                return Availability(False, f"{name}: {exc.message}")
            if not lane.usable:
                return Availability(False, f"{name} is unusable: {lane.detail}")
        verifier = s.verifier or "the request's"
        return Availability(True, f"races {s.fast} against {s.deep} ({verifier} verifier)")

    def mode_for(self, request: ChatRequest) -> Mode:
        return "deep"  # deep's thoughts are what the client watches

    def verifier_for(self, request: ChatRequest) -> tuple[Verifier, dict[str, Any]]:
        """The request's verifier (``ponder.verify``) else the alias's, with its options;
        :class:`InvalidRequestError` when neither applies."""
        s = self.settings
        name = request.verify.name if request.verify is not None else s.verifier
        if name is None:
            raise InvalidRequestError(
                f"Model {self.name!r} hedges behind a verifier but has none configured:"
                ' name one in the request ({"ponder": {"verify": "..."}}) or set verifier ='
                f" in [models.{self.name}]."
            )
        options: dict[str, Any] = dict(s.verifier_options) if name == s.verifier else {}
        if request.verify is not None:
            options.update(request.verify.options)
        verifier = get_verifier(name)
        try:
            verifier.check_options(request, options)
        except VerifierOptionError as exc:
            raise InvalidRequestError(exc.message) from exc
        return verifier, options

    async def stream(
        self,
        request: ChatRequest,
        reason: str | None = None,
        estimates: dict[str, float] | None = None,
    ) -> AsyncIterator[Event]:
        s = self.settings
        choice = request.tool_choice
        if choice is not None and choice.forces_call and request.tools:
            raise ToolsUnsupportedError(self.name)
        verifier, options = self.verifier_for(request)
        fast, deep = self.resolve(s.fast), self.resolve(s.deep)
        yield Started(
            request_id=request.request_id,
            model=self.name,
            mode="deep",
            reason=reason
            or f"hedge: {s.fast} races {s.deep}; the {verifier.name} verifier judges"
            f" {s.fast}'s answer",
            estimates=estimates,
        )
        alone = self.race_plan(request, estimates)
        if alone is not None:
            async for event in _deep_alone(deep, request, s.deep, s.fast, alone):
                yield event
            return
        race = _Race(self, request, fast, deep, verifier, options)
        race.fast_first = self.fast_likely(request, estimates)
        async for event in race.run():
            yield event

    def generate(self, request: ChatRequest) -> AsyncIterator[Event]:  # pragma: no cover
        raise NotImplementedError("HedgeProvider streams through stream()")


async def _deep_alone(
    deep: Provider, request: ChatRequest, name: str, fast: str, why: str
) -> AsyncIterator[Event]:
    """Deep's stream as the hedge's (its ``started`` replaced by the hedge's), saying why."""
    t0 = now_ns()
    yield Progress(f"{name} alone: {why}", 0)
    source = _generator(deep.stream(_lane_request(request, True)))
    async with contextlib.aclosing(source):
        async for event in source:
            if isinstance(event, Started):
                continue
            if isinstance(event, Finished):
                end_ms = round((event.at_ns - t0) / 1e6, 1)
                lanes: dict[str, dict[str, Any]] = {
                    "fast": {"model": fast, "outcome": "not run", "reason": why},
                    "deep": {"model": name, "outcome": "served", "end_ms": end_ms},
                }
                event = dataclasses.replace(event, served_by=name, lanes=lanes)
            yield event


def _lane_request(request: ChatRequest, deep: bool) -> ChatRequest:
    # Each lane runs in its own mode, whatever the wrapped model's default switch says.
    thinking = ThinkingSettings(
        enabled=deep, budget=request.thinking.budget, effort=request.thinking.effort
    )
    return request.with_thinking(thinking)


def _failure(exc: Exception, name: str) -> Failed:
    """A lane's exception as the event the engine would have made of it."""
    if isinstance(exc, PonderError):
        return exc.to_event()
    if isinstance(exc, httpx.TransportError):
        return UpstreamUnreachableError(
            f"{name}: connection failed: {type(exc).__name__}"
        ).to_event()
    return Failed(
        side="ponder",
        code="internal_error",
        message=f"{name}: internal error ({type(exc).__name__}); see server log.",
    )


@dataclass
class _Paused:
    tokens: int


Item = Event | Judgement | _Paused


class _Race:
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
        source = _generator(provider.stream(_lane_request(self.request, lane == "deep")))
        try:
            async for event in source:
                yield event
                if isinstance(event, Finished | Failed):
                    return
            yield Failed("ponder", "stream_broken", f"{provider.name}: the stream ended early.")
        except Exception as exc:
            yield _failure(exc, provider.name)
        finally:
            await source.aclose()

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
            lane: asyncio.create_task(pumps[lane](), name=f"ponder-hedge-{lane}") for lane in order
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
            f"{fast} answered in {_human(self._seconds(fast_done_ns) * 1000)} and passed:"
            f" {verdict.reason}; {deep} cancelled after {_human(self._seconds() * 1000)}, {tokens}"
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
            reason, served_by=fast, cancelled_tokens={deep: deep_tokens}, lanes=self.lanes
        )


def _generator(stream: AsyncIterator[Event]) -> AsyncGenerator[Event, None]:
    """Provider streams are async generators (``aclose`` closes the upstream)."""
    assert isinstance(stream, AsyncGenerator)
    return stream


# --- auto ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutoHedgeSettings:
    enabled: bool = True
    verifier: str = "embedded"
    d_minutes: float = 15.0
    # Both lanes share the machine (always so on the local engine): each runs this much slower.
    slowdown: float = DEFAULT_SLOWDOWN
    # Hedge only when it saves at least this share of the chosen mode's E2E.
    min_saving: float = DEFAULT_MIN_SAVING

    @classmethod
    def from_config(cls, config: Config) -> AutoHedgeSettings:
        raw = config.router
        try:
            return cls(
                enabled=bool(raw.get("hedge", True)),
                verifier=str(raw.get("hedge_verifier", "embedded")),
                d_minutes=float(raw.get("D_minutes", 15.0)),
                slowdown=float(raw.get("hedge_slowdown", DEFAULT_SLOWDOWN)),
                min_saving=float(raw.get("hedge_min_saving", DEFAULT_MIN_SAVING)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[router] hedge settings: {exc}") from exc


class AutoHedge:
    """Whether ``auto`` should hedge a request, and the hedge that does it."""

    def __init__(
        self,
        resolve: Callable[[str], Provider],
        targets: Mapping[Mode, str] | None = None,
        settings: AutoHedgeSettings | None = None,
    ) -> None:
        self.settings = settings or AutoHedgeSettings()
        names: dict[Mode, str] = dict(targets or {"fast": "fast", "deep": "deep"})
        self.provider = HedgeProvider(
            ModelConfig("hedge", "hedge"),
            resolve,
            HedgeSettings(fast=names["fast"], deep=names["deep"], verifier=self.settings.verifier),
        )

    @classmethod
    def from_config(cls, config: Config, resolve: Callable[[str], Provider]) -> AutoHedge | None:
        settings = AutoHedgeSettings.from_config(config)
        return cls(resolve, settings=settings) if settings.enabled else None

    def plan(self, request: ChatRequest, decision: Decision) -> HedgePlan:
        s = self.settings
        if request.hedge is False:
            return HedgePlan(None, "not hedged: the request opted out (ponder.hedge=false)")
        if request.thinking.enabled is not None or request.offers_tools:
            return HedgePlan(None, "")  # the client chose a mode, or the answer may be a call
        if request.max_cost_usd is not None:
            return HedgePlan(None, "not hedged: a cost budget is set (a hedge pays for both)")
        try:
            verifier, options = self.provider.verifier_for(request)
        except InvalidRequestError as exc:
            return HedgePlan(None, f"not hedged: no verifier applies ({exc.message})")
        if not verifier.applies(request, options):
            return HedgePlan(None, f"not hedged: the {verifier.name} verifier does not apply")
        costs = Costs.of(decision.estimates, s.d_minutes * 60_000.0, s.slowdown)
        if costs is None:
            return HedgePlan(None, "not hedged: the router gave no estimates")
        chosen = costs.fast if decision.mode == "fast" else costs.deep
        e = decision.estimates or {}
        e2e = float(e["e2e_fast_ms"] if decision.mode == "fast" else e["e2e_deep_ms"])
        figures = costs.figures(decision.mode, chosen)
        if costs.hedge_pays(chosen, e2e, s.min_saving):
            return HedgePlan(
                self.provider,
                f"hedge: the {verifier.name} verifier applies and hedging pays ({figures})",
            )
        return HedgePlan(None, f"not hedged: it would not pay ({figures})")


def _human(ms: float) -> str:
    if ms < 1_000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"
