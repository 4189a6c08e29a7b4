"""Time limits on one attempt, read from the stream's events as they arrive.

- ``ttft_ms``: no thought or answer token yet at the deadline;
- ``ttfa_ms``: no *answer* token yet — the model is still thinking (or silent);
- ``idle_ms``: the gap since the last event, once the first token has arrived (before it,
  ``ttft_ms`` is the limit: a reasoning model may think silently for a long time);
- ``total_ms``: the whole attempt.

``connect_ms`` is not enforced here: the provider's HTTP client gets it as its connect
timeout (:attr:`ponder.config.ModelConfig.connect_timeout_s`). A passed deadline closes the
upstream stream (cancelling its request) and raises :class:`~ponder.errors.DeadlineError`,
which retries and fallbacks treat like any retryable failure while nothing has been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ponder.errors import DeadlineError
from ponder.events import Event
from ponder.policies.attempt import ANSWER_TYPES, OUTPUT_TYPES
from ponder.policies.settings import TimeoutPolicy
from ponder.policies.wrapper import Wrapper
from ponder.providers.base import Provider
from ponder.providers.handover import closable
from ponder.request import ChatRequest

_WHAT = {
    "ttft": "no first token",
    "ttfa": "no answer token (still thinking)",
    "idle": "no data",
    "total": "the stream did not finish",
}


class TimeoutProvider(Wrapper):
    kind = "timeout"

    def __init__(self, inner: Provider, policy: TimeoutPolicy) -> None:
        super().__init__(inner)
        self.policy = policy

    async def stream(
        self,
        request: ChatRequest,
        reason: str | None = None,
        estimates: dict[str, float] | None = None,
    ) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        start = last = loop.time()
        saw_token = saw_answer = False
        source = closable(self.inner.stream(request, reason, estimates))
        async with contextlib.aclosing(source):
            while True:
                which, deadline = self._deadline(start, last, saw_token, saw_answer)
                try:
                    if deadline is None:
                        event = await anext(source)
                    else:
                        async with asyncio.timeout_at(deadline) as scope:
                            event = await anext(source)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    if deadline is None or not scope.expired():
                        raise  # the provider's own timeout, not ours
                    raise self._expired(which, loop.time() - start) from None
                last = loop.time()
                if event.type in OUTPUT_TYPES:
                    saw_token = True
                    saw_answer = saw_answer or event.type in ANSWER_TYPES
                yield event

    def _deadline(
        self, start: float, last: float, saw_token: bool, saw_answer: bool
    ) -> tuple[str, float | None]:
        p = self.policy
        candidates: list[tuple[float, str]] = []
        if p.ttft_ms is not None and not saw_token:
            candidates.append((start + p.ttft_ms / 1000, "ttft"))
        if p.ttfa_ms is not None and not saw_answer:
            candidates.append((start + p.ttfa_ms / 1000, "ttfa"))
        if p.idle_ms is not None and saw_token:
            candidates.append((last + p.idle_ms / 1000, "idle"))
        if p.total_ms is not None:
            candidates.append((start + p.total_ms / 1000, "total"))
        if not candidates:
            return "", None
        at, which = min(candidates)
        return which, at

    def _expired(self, which: str, elapsed_s: float) -> DeadlineError:
        limit_ms = getattr(self.policy, f"{which}_ms")
        return DeadlineError(
            which,
            f"model {self.name!r}: {_WHAT[which]} within {limit_ms / 1000:g} s"
            f" (timeouts.{which}_ms = {limit_ms:g}).",
        )
