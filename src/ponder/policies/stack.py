"""The one place policies are composed, per model, from ``ponder.toml``.

Each upstream model ``m`` is wrapped once, innermost first::

    retry(breaker(timeout(provider(m))))

so every attempt gets fresh deadlines, every attempt's outcome (a passed deadline included)
feeds the breaker, and retries happen above it. A model with ``fallbacks`` is served by
``fallback(upstream(m), upstream(f1), upstream(f2), …)``: the fallbacks are the same
wrapped upstreams, so a breaker's state is shared by every route to its model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ponder.config import Config, ModelConfig
from ponder.policies.breaker import BreakerProvider, CircuitBreaker
from ponder.policies.fallback import FallbackProvider
from ponder.policies.retry import RetryProvider
from ponder.policies.timeout import TimeoutProvider
from ponder.providers.base import Provider


@dataclass
class Upstream:
    base: Provider
    served: Provider  # base wrapped in its timeouts, breaker and retries
    breaker: CircuitBreaker | None
    retry: RetryProvider | None


class PolicyStack:
    def __init__(self, config: Config, create: Callable[[ModelConfig], Provider]) -> None:
        self.config = config
        self.create = create
        self.upstreams: dict[str, Upstream] = {}
        self.fallbacks: dict[str, FallbackProvider] = {}

    def upstream(self, name: str) -> Upstream:
        found = self.upstreams.get(name)
        if found is not None:
            return found
        model = self.config.model(name)
        base = self.create(model)
        policies = model.policies
        served: Provider = base
        t = policies.timeouts
        if any(v is not None for v in (t.ttft_ms, t.ttfa_ms, t.idle_ms, t.total_ms)):
            served = TimeoutProvider(served, t)
        breaker = None
        if policies.breaker.enabled:
            breaker = CircuitBreaker(name, policies.breaker)
            served = BreakerProvider(served, breaker)
        retry = None
        if policies.retries.attempts > 1:
            served = retry = RetryProvider(served, policies.retries)
        found = self.upstreams[name] = Upstream(base, served, breaker, retry)
        return found

    def provider(self, name: str) -> Provider:
        """What serves requests for model ``name``: its upstream, or its fallback chain."""
        primary = self.upstream(name)
        names = self.config.model(name).policies.fallbacks
        if not names:
            return primary.served
        chain = self.fallbacks.get(name)
        if chain is None:
            others = [self.upstream(n).served for n in names]
            chain = self.fallbacks[name] = FallbackProvider(primary.served, others)
        return chain

    def breakers(self) -> dict[str, CircuitBreaker]:
        return {n: u.breaker for n, u in sorted(self.upstreams.items()) if u.breaker}

    async def aclose(self) -> None:
        upstreams = list(self.upstreams.values())
        self.upstreams.clear()
        self.fallbacks.clear()
        for upstream in upstreams:
            await upstream.base.aclose()
