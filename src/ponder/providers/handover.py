"""A stream that a layer opens and then hands over: :class:`HandOver` and :class:`Rest`.

Every wrapper between the engine and a provider (retry, the breaker, the spend cap, the
router, :meth:`Provider.stream <ponder.providers.base.Provider.stream>` itself) acts on a
stream only while it opens: it may retry, judge the upstream's health, announce
``started``. Once the stream commits (its first thought, answer or tool call: see
:mod:`ponder.policies.attempt`) it only forwards. Written as an async generator, such a
layer would still resume its frame for every event of the answer, and a stream passes
through five of them.

So a layer writes its opening as an async generator that yields events and, when it has
nothing more to do, one last item, ``Rest(source)``: the rest of the stream. The
:class:`HandOver` that wraps the opening closes it there and from then on answers each
``__anext__`` with ``source.__anext__()`` itself: one Python call per layer per event, no
frame. What the layer did on the way out (``finally``, ``aclose`` of its source) must
therefore not apply to a handed-over source: the source now belongs to the
:class:`HandOver`, which closes it in :meth:`HandOver.aclose`. Errors the rest raises reach
the caller directly, which is what these layers did with them after the commit anyway.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, Protocol, cast

from ponder.events import Event


class EventStream(Protocol):
    """What a provider's ``stream()`` returns: events, and ``aclose()`` (which closes the
    upstream request)."""

    def __aiter__(self) -> AsyncIterator[Event]: ...
    def __anext__(self) -> Awaitable[Event]: ...
    async def aclose(self) -> None: ...


def closable(stream: AsyncIterator[Event]) -> EventStream:
    """A provider's stream as what it is: an async generator or a :class:`HandOver`."""
    assert callable(getattr(stream, "aclose", None))
    return cast(EventStream, stream)


class Rest:
    """The last item of an opening: the rest of the stream, for the caller to read."""

    __slots__ = ("source",)

    def __init__(self, source: AsyncIterator[Event]) -> None:
        self.source = source


class HandOver(AsyncIterator[Event]):
    """The events of ``opening`` up to its :class:`Rest`, then those of the rest itself.

    An opening that ends without a :class:`Rest` ends the stream.
    """

    __slots__ = ("_opening", "_rest")

    def __init__(self, opening: AsyncGenerator[Event | Rest, None]) -> None:
        self._opening: AsyncGenerator[Event | Rest, None] | None = opening
        self._rest: AsyncIterator[Event] | None = None

    def __aiter__(self) -> HandOver:
        return self

    def __anext__(self) -> Awaitable[Event]:
        rest = self._rest
        if rest is not None:
            return rest.__anext__()
        return self._opening_next()

    async def _opening_next(self) -> Event:
        opening = self._opening
        if opening is None:  # closed, or the opening ended without a rest
            raise StopAsyncIteration
        try:
            item = await opening.__anext__()
        except StopAsyncIteration:
            self._opening = None
            raise
        if not isinstance(item, Rest):
            return item
        self._opening = None
        await opening.aclose()  # suspended at its hand-over: nothing of it runs but cleanup
        rest = item.source
        if isinstance(rest, HandOver) and rest._rest is not None:
            rest = rest._rest  # already handed over: skip that layer too
        self._rest = rest
        return await rest.__anext__()

    async def aclose(self) -> None:
        """Close the opening (its cleanup runs) or, once handed over, the rest."""
        opening, self._opening = self._opening, None
        if opening is not None:
            await opening.aclose()
        rest, self._rest = self._rest, None
        if rest is not None:
            await aclose_stream(rest)


async def aclose_stream(stream: AsyncIterator[Event]) -> None:
    """Close a stream (a generator or a :class:`HandOver`): its upstream request with it."""
    close: Any = getattr(stream, "aclose", None)
    if close is not None:
        await close()
