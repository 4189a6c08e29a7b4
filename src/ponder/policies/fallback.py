"""Fallbacks: the next model in line serves when one fails before any output.

``fallbacks = ["deep-backup", "fast"]`` on a model: its own chain (retries, timeouts and
breaker included) is tried first; after a retryable failure, a passed deadline or an open
breaker — with nothing sent to the client yet — the next model is tried, in order. A
failure the caller caused (a bad request) is not fallen back from: another model would fail
the same way. Fallbacks do not chain: a fallback model's own ``fallbacks`` are not followed.

One exception to "before any output": a ``ttfa_ms`` deadline (no answer token yet, still
thinking) falls back even though thoughts were streamed — the thoughts are not the answer
the user waits for. The ``started`` event already named the first model then, so the switch
is announced as a ``progress`` step ("model 'deep': no answer token (still thinking) within
20 s (timeouts.ttfa_ms = 20000) → fast", index -1), which the trace's steps keep; the
trace's model stays the one that thought.

A fallback model runs the request with its own thinking switch (a ``deep`` that falls back
to ``fast`` answers fast); a budget or effort the request set is kept.

What happened is said once, on the ``started`` event the caller gets — held back until the
serving model's first output, so a model with fallbacks sends its response head with its first
token — (and so in the stream's
``ponder`` extras and the trace's route reason): it names the model that served and why each
one before it did not, e.g. ``model 'deep' requested by name; deep: model 'deep': no first
token within 20 s (timeouts.ttft_ms = 20000) → fast``. Its ``at_ns`` is the first attempt's:
time to first token counts from when the user started waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence

from ponder.errors import DeadlineError
from ponder.events import Event, Failed, Progress, Started
from ponder.policies.attempt import ANSWER_TYPES, AttemptFailed, attempt, describe
from ponder.policies.wrapper import Wrapper
from ponder.providers.base import Provider
from ponder.providers.handover import HandOver
from ponder.request import ChatRequest, ThinkingSettings

# The index of the progress step that announces a switch after thoughts: not one of the
# narrator's thought steps (those count from 0).
SWITCH_INDEX = -1


class FallbackProvider(Wrapper):
    kind = "fallback"

    def __init__(self, primary: Provider, fallbacks: Sequence[Provider]) -> None:
        super().__init__(primary)
        self.chain = [primary, *fallbacks]
        self.served: dict[str, int] = {}  # model -> requests it served as a fallback

    async def stream(
        self,
        request: ChatRequest,
        reason: str | None = None,
        estimates: dict[str, float] | None = None,
    ) -> AsyncIterator[Event]:
        # Every candidate states the caller's reason, not "model '<fallback>' requested".
        reason = reason or f"model {self.name!r} requested by name"
        first: Started | None = None
        notes: list[str] = []
        last: Failed | None = None
        announced = answered = False
        unstarted: AttemptFailed | None = None
        for index, candidate in enumerate(self.chain):
            attempt_request = request if index == 0 else _own_thinking(request)
            started: Started | None = None
            try:
                # Read through the hand-over: this layer still acts after the commit.
                events = HandOver(attempt(candidate, attempt_request, reason, estimates))
                async with contextlib.aclosing(events):
                    async for event in events:
                        if isinstance(event, Started):
                            started = event  # held: it must name the model that serves
                            first = first or event
                            continue
                        if not announced:  # committed: say who serves, once
                            assert started is not None
                            announced = True
                            yield self._started(started, first, notes, candidate.name)
                        if index and started is not None:
                            started = None
                            self.served[candidate.name] = self.served.get(candidate.name, 0) + 1
                        answered = answered or event.type in ANSWER_TYPES
                        yield event
                return
            except AttemptFailed as failed:
                first = first or failed.started
                last = failed.failure
                unstarted = failed
                notes.append(f"{candidate.name}: {describe(failed.failure)}")
                if not failed.failure.retryable:
                    break
            except DeadlineError as late:
                # Thoughts went out, no answer came by ttfa_ms: the next model answers. The
                # started event already named this one, so a progress step says so.
                if late.deadline != "ttfa" or answered or index + 1 == len(self.chain):
                    raise
                following = self.chain[index + 1].name
                notes.append(f"{candidate.name}: {late.message}")
                last = late.to_event()
                yield Progress(f"{late.message} → {following}", SWITCH_INDEX)
        assert last is not None
        if not announced and first is None and unstarted is not None:
            unstarted.reraise_unstarted()  # nothing started anywhere: fail as a bare provider
        if not announced:
            base = first or Started(
                request.request_id, self.name, self.mode_for(request), reason, estimates
            )
            yield self._started(base, first, notes, None)
        who = "; ".join(notes)
        yield dataclasses.replace(last, message=f"Every model in line failed: {who}.")

    @staticmethod
    def _started(
        served: Started, first: Started | None, notes: list[str], name: str | None
    ) -> Started:
        reason = served.reason if first is None else first.reason
        if notes:
            reason += "; " + "; ".join(notes) + (f" → {name}" if name else " → no model left")
        at_ns = first.at_ns if first is not None else served.at_ns
        return dataclasses.replace(served, reason=reason, at_ns=at_ns)


def _own_thinking(request: ChatRequest) -> ChatRequest:
    t = request.thinking
    return request.with_thinking(ThinkingSettings(enabled=None, budget=t.budget, effort=t.effort))
