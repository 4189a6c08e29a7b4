"""The provider contract: one async generator of events per request."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from ponder.config import ModelConfig, ThinkingConfig
from ponder.errors import ToolsUnsupportedError
from ponder.events import Event, Mode, Started
from ponder.providers.handover import HandOver, Rest
from ponder.request import ChatRequest, ReasoningPart

# The router's estimates for a request (p_fast, p_deep, e2e_fast_ms, ...), or None.
Estimator = Callable[[ChatRequest], Mapping[str, float] | None]


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a model can be used right now, and why not if not."""

    usable: bool
    detail: str


class Provider(ABC):
    """Turns a :class:`ChatRequest` into events.

    Subclasses implement :meth:`generate`, which yields ``thinking``/``answer``/``usage``
    events and ends with exactly one ``finished`` or ``failed``. :meth:`stream` wraps it
    with the ``started`` event. Errors may also be raised as :class:`ponder.errors.PonderError`;
    the engine turns them into ``failed`` events.

    Wrappers that act only while a stream opens (the router saying what it chose and why,
    retry, the breaker, the spend cap) override :meth:`_opening` and end it with the
    committed stream's :class:`Rest`; those that act on the whole stream (timeouts, the
    fallback chain, the hedge) override :meth:`stream`.
    """

    kind: ClassVar[str] = ""
    # Whether the model behind this provider can call tools. A request that forces a call
    # (tool_choice required or a named tool) is refused before it reaches one that cannot.
    supports_tools: ClassVar[bool] = True
    # The model runs in this process (no provider bill): its cost is zero, not unknown.
    runs_in_process: ClassVar[bool] = False
    # A wrapper of other models (the hedge): created by :meth:`with_resolver`, which gets the
    # engine's model-name -> provider lookup.
    needs_resolver: ClassVar[bool] = False

    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    @classmethod
    def with_resolver(
        cls,
        config: ModelConfig,
        resolve: Callable[[str], Provider],
        estimate: Estimator | None = None,
    ) -> Provider:
        """A wrapper provider over the models ``resolve`` finds (``needs_resolver`` kinds);
        ``estimate`` gives the router's figures for a request (P(correct), E2E per mode)."""
        raise NotImplementedError(f"{cls.__name__} does not wrap other models")

    @property
    def name(self) -> str:
        return self.config.name

    def owns(self, part: ReasoningPart) -> bool:
        """Whether ``part`` was produced by this provider kind and upstream model, so its
        opaque state (signatures, encrypted data) may be sent back here."""
        return part.made_by(self.config.provider, self.config.upstream_model)

    def thinking_for(self, request: ChatRequest) -> ThinkingConfig:
        return self.config.thinking.merged(request)

    def mode_for(self, request: ChatRequest) -> Mode:
        return "deep" if self.thinking_for(request).enabled else "fast"

    def stream(
        self,
        request: ChatRequest,
        reason: str | None = None,
        estimates: dict[str, float] | None = None,
    ) -> AsyncIterator[Event]:
        """What :meth:`_opening` yields, then the stream it hands over (see
        :mod:`ponder.providers.handover`); closed with ``aclose()``."""
        return HandOver(self._opening(request, reason, estimates))

    async def _opening(
        self, request: ChatRequest, reason: str | None, estimates: dict[str, float] | None
    ) -> AsyncGenerator[Event | Rest, None]:
        """``started``, then the rest: :meth:`generate`'s events."""
        choice = request.tool_choice
        if choice is not None and choice.forces_call and request.tools and not self.supports_tools:
            raise ToolsUnsupportedError(self.name)
        yield Started(
            request_id=request.request_id,
            model=self.name,
            mode=self.mode_for(request),
            reason=reason or f"the client chose {self.name!r}",
            estimates=estimates,
        )
        yield Rest(self.generate(request))

    @abstractmethod
    def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Yield the events of one request (no ``started``)."""

    async def check(self) -> Availability:
        """Cheap readiness check for ``ponder models``: key present, server reachable."""
        return Availability(True, "ready")

    async def aclose(self) -> None:
        """Release connections or engines."""
        return None
