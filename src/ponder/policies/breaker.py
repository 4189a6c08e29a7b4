"""A circuit breaker per upstream model.

:class:`CircuitBreaker` keeps the outcomes of the attempts of the last ``window_s`` seconds.
*closed*: everything passes; once at least ``min_requests`` outcomes are in the window and
at least ``failure_rate`` of them are failures, it *opens*: attempts fail at once with
:class:`~ponder.errors.CircuitOpenError` (so a fallback serves without waiting) until
``cooldown_s`` has passed. Then it is *half-open*: exactly one probe goes through while the
others keep failing fast; the probe's success closes the breaker (and clears the window),
its failure opens it for another cooldown.

Each attempt gives one verdict, as early as it can be known: a success at its first output
(a thought, an answer, a tool call) or a clean finish, a failure when it fails before that.
A failure is what says the upstream is unwell: a network error, an HTTP 408/409/429/5xx, a
broken stream or a passed deadline. The caller's own errors (a bad request, a missing key)
and cancellations count neither way. Judging at the first output, not at the end of the
stream, matters under load: fast failures (a 429 comes back in a millisecond) would
otherwise fill the window before the successes, still streaming, could count, and open the
breaker on a healthy upstream. A stream that breaks after its first token counted as
answered — the breaker guards against upstreams that do not answer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Literal

from ponder.errors import CircuitOpenError
from ponder.events import Event, Failed, Finished
from ponder.policies.attempt import OUTPUT_TYPES, failure_of
from ponder.policies.settings import BreakerPolicy
from ponder.policies.wrapper import Wrapper
from ponder.providers.base import Provider
from ponder.providers.handover import Rest, aclose_stream
from ponder.request import ChatRequest

State = Literal["closed", "open", "half_open"]
STATE_VALUES: dict[State, int] = {"closed": 0, "open": 1, "half_open": 2}


class CircuitBreaker:
    def __init__(
        self, name: str, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.policy = policy
        self.clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque()  # (when, failed)
        # Failures among _outcomes, kept as they come and go: summing the window on every
        # outcome costs O(requests per window) each time, which grows with the load.
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.opened = 0  # how many times it opened (for /metrics)

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.policy.cooldown_s:
            return "half_open"
        return "open"

    def admit(self) -> bool:
        """Take a slot for one attempt, or raise CircuitOpenError. True: this is the probe."""
        state = self.state
        if state == "closed":
            return False
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        assert self._opened_at is not None
        wait = max(0.0, self._opened_at + self.policy.cooldown_s - self.clock())
        raise CircuitOpenError(
            f"model {self.name!r}: circuit breaker open after repeated upstream failures"
            f" ({'a probe is in flight' if state == 'half_open' else f'retry in {wait:.0f} s'}).",
            retry_after_s=max(wait, 1.0),
        )

    def record(self, probe: bool, failed: bool | None) -> None:
        """An attempt's outcome; ``None``: it said nothing about the upstream's health."""
        now = self.clock()
        if probe:
            self._probing = False
            if failed is None:
                return
            if failed:
                self._opened_at = now
                self.opened += 1
            else:
                self._opened_at = None
                self._outcomes.clear()
                self._failures = 0
            return
        if failed is None or self._opened_at is not None:
            return
        outcomes = self._outcomes
        outcomes.append((now, failed))
        self._failures += failed
        horizon = now - self.policy.window_s
        while outcomes[0][0] < horizon:
            self._failures -= outcomes.popleft()[1]
        failures = self._failures
        if (
            len(outcomes) >= self.policy.min_requests
            and failures >= self.policy.failure_rate * len(outcomes)
        ):
            self._opened_at = now
            self.opened += 1


def _is_health_failure(failure: Failed) -> bool:
    return failure.retryable or failure.side == "network"


class BreakerProvider(Wrapper):
    kind = "breaker"

    def __init__(self, inner: Provider, breaker: CircuitBreaker) -> None:
        super().__init__(inner)
        self.breaker = breaker

    async def _opening(
        self, request: ChatRequest, reason: str | None, estimates: dict[str, float] | None
    ) -> AsyncGenerator[Event | Rest, None]:
        """Up to the verdict: the first output (healthy: the rest is handed over) or a
        failure (judged by its kind)."""
        probe = self.breaker.admit()
        judged = False  # one verdict per attempt, at its first output or its failure
        handed = False  # the source is the caller's from the hand-over on
        source = self.inner.stream(request, reason, estimates)
        try:
            async for event in source:
                if not judged:
                    if event.type in OUTPUT_TYPES or isinstance(event, Finished):
                        judged = True
                        self.breaker.record(probe, False)
                        yield event
                        handed = True
                        yield Rest(source)
                        return  # not reached: the hand-over closes this opening
                    if isinstance(event, Failed):
                        judged = True
                        self.breaker.record(probe, _is_health_failure(event))
                yield event
        except BaseException as exc:
            found = failure_of(exc, self.name)
            if not judged and found is not None:
                judged = True
                self.breaker.record(probe, _is_health_failure(found[0]))
            raise
        finally:
            if not handed:
                await aclose_stream(source)
            if not judged:
                self.breaker.record(probe, None)
