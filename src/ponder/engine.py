"""The request path: resolve a model name to a provider, stream its events, add what every
consumer needs.

The engine guarantees every stream it hands out:
- starts with exactly one ``started`` event (stamped when the request was sent);
- carries ``progress`` events derived from the thoughts as they arrive;
- carries a ``progress`` step "Calling <tool>" as each tool call starts;
- carries exactly one ``usage`` event (estimated and marked so when the provider sent none);
- ends with exactly one ``finished`` or ``failed`` event, ``finished`` carrying the meter's
  timings. Errors raised anywhere below become ``failed`` events; deltas already sent stay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import httpx

from ponder.budget import CostModel, SpendCapProvider, SpendLedger
from ponder.config import AUTO, Config, ModelConfig
from ponder.errors import (
    PonderError,
    StreamBrokenError,
    ToolsUnsupportedError,
    UpstreamUnreachableError,
)
from ponder.events import (
    Event,
    Failed,
    Finished,
    Progress,
    Started,
    Thinking,
    ToolCallStart,
    Usage,
)
from ponder.meter import Meter
from ponder.policies.hedge import AutoHedge
from ponder.policies.stack import PolicyStack
from ponder.progress import KeywordNarrator, Narrator
from ponder.providers.base import Provider
from ponder.providers.handover import closable
from ponder.registry import create_provider, provider_class
from ponder.request import ChatRequest
from ponder.router.base import Router, RoutingProvider
from ponder.tokens import estimate_tokens


def default_router(config: Config) -> Router:
    """The router ``auto`` uses unless one is passed in (imported late: it may load a model)."""
    from ponder.router.default import load_default_router

    return load_default_router(config)


class Engine:
    def __init__(
        self,
        config: Config,
        router: Router | None = None,
        narrator_factory: Callable[[], Narrator] = KeywordNarrator,
        spend: SpendLedger | None = None,
    ) -> None:
        self.config = config
        self.spend = spend
        self.costs = CostModel()  # the gateway feeds it each finished request's tokens
        self._router = router
        self._narrator_factory = narrator_factory
        self._providers: dict[str, Provider] = {}
        # Every model's provider, wrapped in its retries, timeouts, breaker and fallbacks.
        self.policies = PolicyStack(config, self._create)

    @property
    def router(self) -> Router:
        if self._router is None:
            self._router = default_router(self.config)
        return self._router

    def provider(self, name: str) -> Provider:
        """The provider for a model name (``auto`` included), created once and cached."""
        cached = self._providers.get(name)
        if cached is not None:
            return cached
        if name == AUTO:
            provider: Provider = RoutingProvider(
                ModelConfig(AUTO, "router"),
                self.router,
                self.provider,
                cost=lambda mode, model, request: self.costs.expected_usd(mode, model, request),
                hedger=AutoHedge.from_config(self.config, self.provider),
            )
        else:
            model = self.config.model(name)
            provider = self.policies.provider(name)
            if model.daily_cap_usd is not None and self.spend is not None:
                provider = SpendCapProvider(provider, self.spend)
        self._providers[name] = provider
        return provider

    def _create(self, model: ModelConfig) -> Provider:
        """A model's bare provider; a wrapper kind (the hedge) also gets the model lookup
        (its lanes come back wrapped in their own policies) and the router's figures."""
        return create_provider(model, resolve=self.provider, estimate=self._estimate)

    def _estimate(self, request: ChatRequest) -> dict[str, float] | None:
        """The router's figures for a request (for wrappers that weigh the modes)."""
        return self.router.decide(request).estimates

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Events of one request. Raises only for an unknown model (before anything is sent)."""
        provider = self.provider(request.model)
        meter = Meter()
        narrator = self._narrator_factory()
        steps = 0
        saw_usage = False
        answering = False

        def finish(event: Finished | Failed) -> Event:
            nonlocal saw_usage
            meter.feed(event)
            if isinstance(event, Finished):
                return dataclasses.replace(event, timings=_timings(meter))
            return event

        source = closable(provider.stream(request))
        try:
            async for event in source:
                kind = event.type
                if kind == "answer":  # the common case first: it runs for every chunk
                    meter.feed(event)
                    if not answering and event.text:  # type: ignore[union-attr]
                        # The thoughts are over: name their last step before the answer.
                        answering = True
                        for label in narrator.close():
                            yield Progress(label, steps)
                            steps += 1
                    yield event
                    continue
                if kind == "finished" or kind == "failed":
                    assert isinstance(event, Finished | Failed)
                    if not saw_usage:
                        usage = _estimated_usage(meter)
                        meter.feed(usage)
                        yield usage
                    for label in narrator.close():
                        yield Progress(label, steps)
                        steps += 1
                    yield finish(event)
                    return
                meter.feed(event)
                if isinstance(event, Progress) and event.index >= 0:
                    # A wrapper's own steps (the hedge's verdicts) share the narrator's count;
                    # a negative index (a fallback's switch) is a marker and passes as it is.
                    yield dataclasses.replace(event, index=steps)
                    steps += 1
                    continue
                if isinstance(event, Usage):
                    saw_usage = True
                elif isinstance(event, ToolCallStart):
                    for label in narrator.close():
                        yield Progress(label, steps)
                        steps += 1
                    narrator = self._narrator_factory()  # thoughts after the call: new steps
                    yield event
                    yield Progress(f"Calling {event.name}", steps)
                    steps += 1
                    continue
                yield event
                if isinstance(event, Thinking) and event.text:
                    for label in narrator.feed(event.text):
                        yield Progress(label, steps)
                        steps += 1
            failure: Failed = StreamBrokenError(
                f"{provider.name}: the stream ended without a finish signal."
            ).to_event()
        except ToolsUnsupportedError as exc:
            failure = exc.with_capable(self.tool_capable_models()).to_event()
        except PonderError as exc:
            failure = exc.to_event()
        except httpx.TransportError as exc:
            failure = UpstreamUnreachableError(
                f"{provider.name}: connection failed: {type(exc).__name__}"
            ).to_event()
        except Exception as exc:  # a bug below must still end the stream with a clear error
            failure = Failed(
                side="ponder",
                code="internal_error",
                message=f"{provider.name}: internal error ({type(exc).__name__}); see server log.",
            )
        finally:
            await source.aclose()
        if not saw_usage:
            usage = _estimated_usage(meter)
            meter.feed(usage)
            yield usage
        yield finish(failure)

    def tool_capable_models(self) -> list[str]:
        """Configured models whose provider can call tools (named in refusals)."""
        capable = []
        for name, model in self.config.models.items():
            try:
                if provider_class(model.provider).supports_tools:
                    capable.append(name)
            except PonderError:
                continue
        return capable

    async def collect(self, request: ChatRequest) -> list[Event]:
        return [event async for event in self.stream(request)]

    async def aclose(self) -> None:
        self._providers.clear()
        await self.policies.aclose()


def _estimated_usage(meter: Meter) -> Usage:
    return Usage(
        input_tokens=None,
        thinking_tokens=estimate_tokens(meter.thinking_text),
        answer_tokens=estimate_tokens(meter.output_text),
        estimated=True,
    )


def _timings(meter: Meter) -> dict[str, float | None]:
    m = meter.metrics()
    return {
        "ttft_ms": m.ttft_ms,
        "ttfa_ms": m.ttfa_ms,
        "thinking_ms": m.thinking_ms,
        "e2e_ms": m.e2e_ms,
        "decode_tps": m.decode_tps,
        "effective_tps": m.effective_tps,
        "itl_p50_ms": m.itl_p50_ms,
        "itl_p95_ms": m.itl_p95_ms,
        "itl_p99_ms": m.itl_p99_ms,
    }


__all__ = ["Engine", "Started"]
