"""One attempt at a stream, opened up to its first output: what retry and fallback share.

An attempt is *committed* once a thought, an answer delta or a tool call has come out of it:
from then on those bytes may be on their way to the client, so no policy may try again. Up to
that point the attempt's events are held back (all but ``started``, which the caller decides
what to do with), and a failure — a ``failed`` event or a raised error — is an
:class:`AttemptFailed` the caller may retry or fall back from.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx

from ponder.errors import PonderError, UpstreamUnreachableError
from ponder.events import Event, Failed, Finished, Started
from ponder.providers.base import Provider
from ponder.providers.handover import Rest, aclose_stream
from ponder.request import ChatRequest

# Event types of the answer itself: answer text and tool calls.
ANSWER_TYPES = frozenset({"answer", "tool_call_start", "tool_call_delta", "tool_call_end"})
# Event types that carry bytes a client shows: once one passed, the attempt is committed.
OUTPUT_TYPES = ANSWER_TYPES | {"thinking"}


class AttemptFailed(Exception):
    """An attempt failed before it committed. ``started`` is its own started event, if any."""

    def __init__(
        self,
        failure: Failed,
        started: Started | None,
        retry_after_s: float | None = None,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.started = started
        self.retry_after_s = retry_after_s
        self.error = error  # what was raised, when the failure was an exception

    def reraise_unstarted(self) -> None:
        """Raise the original error of an attempt that failed before its ``started``: the
        caller then fails the same way a bare provider would (the engine turns it into a
        ``failed`` event without ``started``, which the server answers with an HTTP error)."""
        if self.started is None and self.error is not None:
            raise self.error


def failure_of(exc: BaseException, who: str) -> tuple[Failed, float | None] | None:
    """The failed event (and the server's Retry-After) for an error an attempt raised."""
    if isinstance(exc, PonderError):
        wait = getattr(exc, "retry_after_s", None)
        return exc.to_event(), wait if isinstance(wait, int | float) else None
    if isinstance(exc, httpx.TransportError):
        error = UpstreamUnreachableError(f"{who}: connection failed: {type(exc).__name__}")
        return error.to_event(), None
    return None


async def attempt(
    provider: Provider,
    request: ChatRequest,
    reason: str | None,
    estimates: dict[str, float] | None,
) -> AsyncGenerator[Event | Rest, None]:
    """``provider``'s stream, with the events before its first output held back.

    The ``started`` event passes at once; the others wait until the first output (or the
    finish) comes, then all pass, followed by ``Rest(source)``: the rest of the stream,
    which is the caller's to read and close (:mod:`ponder.providers.handover`), and in which
    a failure passes through unchanged. A failure before that raises
    :class:`AttemptFailed` (the held events are dropped).
    """
    source = provider.stream(request, reason, estimates)
    started: Started | None = None
    held: list[Event] = []
    handed = False
    try:
        async for event in source:
            if isinstance(event, Started):
                started = event
                yield event
            elif isinstance(event, Failed):
                raise AttemptFailed(event, started)
            else:
                held.append(event)
                if event.type in OUTPUT_TYPES or isinstance(event, Finished):
                    for waiting in held:
                        yield waiting
                    handed = True
                    yield Rest(source)
                    return
    except (AttemptFailed, GeneratorExit):
        raise
    except Exception as exc:
        found = failure_of(exc, provider.name)
        if found is None:
            raise
        raise AttemptFailed(found[0], started, found[1], exc) from exc
    finally:
        if not handed:
            await aclose_stream(source)
    failure = Failed("upstream", "stream_broken", f"{provider.name}: the stream ended empty.")
    raise AttemptFailed(failure, started)


def describe(failure: Failed) -> str:
    """A short account of why an attempt failed, for reasons and messages."""
    if failure.code.endswith("_timeout") or failure.code == "circuit_open":
        return failure.message
    if failure.status is not None:
        return f"HTTP {failure.status}"
    return failure.code.replace("_", " ")
