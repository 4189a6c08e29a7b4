"""Retries of one model: another attempt after a retryable failure, while nothing was sent.

Retried: a network error (refused, reset, connect timeout), HTTP 408, 409, 429, 500, 502,
503, 504 and 529 (the policy's ``statuses``), a stream that broke or a deadline that passed
before its first output. Never retried: an attempt that already let a thought, answer or
tool-call byte out (see :mod:`ponder.policies.attempt`), the caller's own errors, and an open
circuit breaker (the next attempt would fail the same way; the fallbacks take over).

The wait before retry n is the server's ``retry-after-ms`` / ``Retry-After`` when it sent one,
else a full-jitter draw in [0, min(max_backoff, backoff · 2^(n-1))] — the AWS "full jitter"
scheme openai-python also uses. A server asking for more than ``max_retry_after_ms`` gets
no retry: the request fails over instead of hanging.

The caller sees one ``started`` event: the first attempt's, passed on as soon as it comes (so
the response head is not held back), which makes every timing metric count from when the
user started waiting, retries included. A request that fails after retries says how many
attempts it made; ``ponder_retries_total`` in ``/metrics`` counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import AsyncGenerator, Awaitable, Callable

from ponder.events import Event, Failed, Started
from ponder.policies.attempt import AttemptFailed, attempt
from ponder.policies.settings import RetryPolicy
from ponder.policies.wrapper import Wrapper
from ponder.providers.base import Provider
from ponder.providers.handover import Rest
from ponder.request import ChatRequest

Sleep = Callable[[float], Awaitable[None]]


class RetryProvider(Wrapper):
    kind = "retry"

    def __init__(
        self,
        inner: Provider,
        policy: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(inner)
        self.policy = policy
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.retried = 0  # attempts after the first, over the provider's life (for /metrics)

    def retryable(self, failure: Failed) -> bool:
        if failure.code == "circuit_open" or not failure.retryable:
            return False
        return failure.status is None or failure.status in self.policy.statuses

    def backoff_s(self, retry: int, retry_after_s: float | None) -> float | None:
        """Seconds to wait before retry ``retry`` (1-based); None: do not retry."""
        p = self.policy
        if retry_after_s is not None:
            return None if retry_after_s * 1000 > p.max_retry_after_ms else retry_after_s
        cap = min(p.max_backoff_ms, p.backoff_ms * 2 ** (retry - 1)) / 1000
        return self.rng.uniform(0, cap)

    async def _opening(
        self, request: ChatRequest, reason: str | None, estimates: dict[str, float] | None
    ) -> AsyncGenerator[Event | Rest, None]:
        """Attempts until one commits (its rest is handed over) or none may follow."""
        announced = False
        attempt_no = 0
        while True:
            attempt_no += 1
            try:
                # aclosing: a caller that stops reading closes the upstream request now.
                async with contextlib.aclosing(
                    attempt(self.inner, request, reason, estimates)
                ) as events:
                    async for event in events:
                        if isinstance(event, Started):
                            if not announced:  # the first attempt's: the zero of all timings
                                announced = True
                                yield event
                            continue
                        yield event  # the held events, then the rest (the attempt's source)
                return
            except AttemptFailed as failed:
                wait = None
                if attempt_no < self.policy.attempts and self.retryable(failed.failure):
                    wait = self.backoff_s(attempt_no, failed.retry_after_s)
                if wait is None:
                    if not announced:
                        failed.reraise_unstarted()
                        yield Started(
                            request.request_id, self.name, self.mode_for(request),
                            reason or f"model {self.name!r} requested by name", estimates,
                        )  # fmt: skip
                    yield _with_attempts(failed.failure, attempt_no)
                    return
                self.retried += 1
                await self.sleep(wait)


def _with_attempts(failure: Failed, attempts: int) -> Failed:
    if attempts == 1:
        return failure
    return dataclasses.replace(failure, message=f"{failure.message} (after {attempts} attempts)")
