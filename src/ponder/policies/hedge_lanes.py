"""One lane of the hedge: the request it runs, its failures as events, and deep alone.

Shared by the race (:mod:`.hedge_race`, two lanes) and :class:`~.hedge.HedgeProvider` when it
sends a request to deep alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ponder.errors import PonderError, UpstreamUnreachableError
from ponder.events import Event, Failed, Finished, Progress, Started, now_ns
from ponder.providers.base import Provider
from ponder.providers.handover import closable
from ponder.request import ChatRequest, ThinkingSettings


async def deep_alone(
    deep: Provider, request: ChatRequest, name: str, fast: str, why: str
) -> AsyncIterator[Event]:
    """Deep's stream as the hedge's (its ``started`` replaced by the hedge's), saying why."""
    t0 = now_ns()
    yield Progress(f"{name} alone: {why}", 0)
    source = closable(deep.stream(lane_request(request, True)))
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


def lane_request(request: ChatRequest, deep: bool) -> ChatRequest:
    # Each lane runs in its own mode, whatever the wrapped model's default switch says.
    thinking = ThinkingSettings(
        enabled=deep, budget=request.thinking.budget, effort=request.thinking.effort
    )
    return request.with_thinking(thinking)


def lane_failure(exc: Exception, name: str) -> Failed:
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
