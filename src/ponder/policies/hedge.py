"""The hedge: race a fast model against a deep one, and let a verifier accept the fast answer.

:class:`HedgeProvider` is the configured ``hedge`` model: its settings (lanes, verifier,
when a race pays), the refusals and the plan per request; the race itself is
:class:`~.hedge_race.LaneRace`. :class:`AutoHedge` is what ``auto`` consults: hedge when a
verifier applies and the router's estimates say hedging lowers the expected time-to-correct.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.config import Config, ModelConfig
from ponder.errors import (
    ConfigError,
    InvalidRequestError,
    PonderError,
    ToolsUnsupportedError,
)
from ponder.events import (
    Event,
    Mode,
    Started,
)
from ponder.policies.hedge_lanes import deep_alone
from ponder.policies.hedge_race import LaneRace, human_ms
from ponder.providers.base import Availability, Estimator, Provider
from ponder.request import ChatRequest
from ponder.router.base import Decision, HedgePlan
from ponder.verify import Verifier, get_verifier
from ponder.verify.base import VerifierOptionError
from ponder.verify.registry import DEFAULT_TIMEOUT_S

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
        delta = f"saves {human_ms(saving)}" if saving >= 0 else f"costs {human_ms(-saving)} more"
        return (
            f"expected time-to-correct {human_ms(self.hedge)} hedged vs {human_ms(cost)} {against},"
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
            async for event in deep_alone(deep, request, s.deep, s.fast, alone):
                yield event
            return
        race = LaneRace(self, request, fast, deep, verifier, options)
        race.fast_first = self.fast_likely(request, estimates)
        async for event in race.run():
            yield event

    def generate(self, request: ChatRequest) -> AsyncIterator[Event]:  # pragma: no cover
        raise NotImplementedError("HedgeProvider streams through stream()")


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


