"""The base of every policy: a provider that wraps one provider and streams through it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ponder.events import Event
from ponder.providers.base import Availability, Provider
from ponder.request import ChatRequest


class Wrapper(Provider):
    """Named and configured like the provider it wraps; overrides :meth:`stream`.

    :meth:`aclose` does nothing: the wrapped providers belong to the
    :class:`~ponder.policies.stack.PolicyStack` that built them, which closes each once.
    """

    def __init__(self, inner: Provider) -> None:
        super().__init__(inner.config)
        self.inner = inner

    def generate(self, request: ChatRequest) -> AsyncIterator[Event]:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} streams through stream()")

    async def check(self) -> Availability:
        return await self.inner.check()
