"""The router interface and the provider that wraps it.

A :class:`Router` only decides. :class:`RoutingProvider` is itself a provider (composition,
not flags): it asks the router, then streams from the chosen model with the decision and its
one-line reason on the ``started`` event. With a :class:`Hedger`, it may instead race both
modes behind a verifier (the hedge), and the reason says why it did or did not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from ponder.config import ModelConfig
from ponder.events import Event, Mode
from ponder.providers.base import Provider
from ponder.providers.handover import Rest
from ponder.request import ChatRequest, ThinkingSettings


@dataclass(frozen=True, slots=True)
class Decision:
    mode: Mode
    reason: str
    # Optional figures behind the choice, e.g. {"p_fast": 0.31, "p_deep": 0.97}.
    estimates: dict[str, float] | None = None


class Router(Protocol):
    def decide(self, request: ChatRequest) -> Decision: ...


# (mode, the model it routes to, the request) -> (expected USD or None, where it came from)
CostEstimate = Callable[[Mode, ModelConfig, ChatRequest], tuple[float | None, str]]
@dataclass(frozen=True, slots=True)
class HedgePlan:
    """A hedger's answer: the provider that races both modes (None: route as decided), and
    why, appended to the decision's reason."""

    provider: Provider | None
    reason: str


class Hedger(Protocol):
    """Decides whether racing fast against deep pays for a request (see
    :class:`ponder.policies.hedge.AutoHedge`)."""

    def plan(self, request: ChatRequest, decision: Decision) -> HedgePlan: ...


class RoutingProvider(Provider):
    """``auto``: route to the model named by the mode (``fast``/``deep`` by default)."""

    kind = "router"

    def __init__(
        self,
        config: ModelConfig,
        router: Router,
        resolve: Callable[[str], Provider],
        targets: dict[Mode, str] | None = None,
        cost: CostEstimate | None = None,
        hedger: Hedger | None = None,
    ) -> None:
        super().__init__(config)
        self.router = router
        self.resolve = resolve
        self.targets: dict[Mode, str] = targets or {"fast": "fast", "deep": "deep"}
        self.cost = cost
        self.hedger = hedger

    def _within_budget(self, request: ChatRequest, decision: Decision) -> Decision:
        """The decision, changed to a cheaper mode when it would exceed ``max_cost_usd``."""
        budget = request.max_cost_usd
        if budget is None or self.cost is None:
            return decision
        from ponder.budget import budget_choice  # late: budget imports the providers

        costs = {
            mode: self.cost(mode, self.resolve(name).config, request)
            for mode, name in self.targets.items()
        }
        mode, note = budget_choice(decision.mode, budget, costs)
        if note is None:
            return decision
        estimates = dict(decision.estimates or {})
        for m, (usd, _) in costs.items():
            if usd is not None:
                estimates[f"{m}_cost_usd"] = usd
        estimates["max_cost_usd"] = budget
        return replace(
            decision, mode=mode, reason=f"{decision.reason}; {note}", estimates=estimates
        )

    async def _opening(
        self, request: ChatRequest, reason: str | None, estimates: dict[str, float] | None
    ) -> AsyncGenerator[Event | Rest, None]:
        """The decision, then the chosen stream, handed over."""
        decision = self._within_budget(request, self.router.decide(request))
        if self.hedger is not None:
            plan = self.hedger.plan(request, decision)
            if plan.provider is not None:
                reason = f"{decision.reason}; {plan.reason}"
                yield Rest(
                    plan.provider.stream(request, reason=reason, estimates=decision.estimates)
                )
                return
            if plan.reason:
                decision = replace(decision, reason=f"{decision.reason}; {plan.reason}")
        target = self.resolve(self.targets[decision.mode])
        # The chosen mode wins over the target model's default thinking switch.
        thinking = ThinkingSettings(
            enabled=decision.mode == "deep",
            budget=request.thinking.budget,
            effort=request.thinking.effort,
        )
        yield Rest(
            target.stream(
                request.with_thinking(thinking),
                reason=decision.reason,
                estimates=decision.estimates,
            )
        )

    def generate(self, request: ChatRequest) -> AsyncIterator[Event]:  # pragma: no cover
        raise NotImplementedError("RoutingProvider streams through stream()")
