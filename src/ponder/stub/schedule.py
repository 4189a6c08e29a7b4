"""When a stub request's tokens are sent: reasoning first, then the answer.

All offsets are milliseconds from the moment the stub has read the whole request:

- token 0 (a thought, or the answer's first token when ``thought_tokens`` is 0) at ``ttft_ms``;
- token k at ``ttft_ms + k · itl_ms``, thoughts first, then answer tokens;
- with ``jitter_ms`` each offset moves by a uniform draw in ±``jitter_ms`` (seeded per
  request, offsets kept in order and never before 0).

So without jitter the first answer token is due at ``ttft_ms + thought_tokens · itl_ms``
(TTFA), and the stream ends at ``ttft_ms + (thought_tokens + answer_tokens − 1) · itl_ms``.
Each token is one short word followed by a space, which :func:`ponder.tokens.estimate_tokens`
counts as exactly one token, so estimated and reported counts agree.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

TokenKind = Literal["thinking", "answer"]

THOUGHT_WORDS = ("let", "me", "think", "about", "this", "step", "by", "step", "first", "then")
ANSWER_WORDS = ("the", "answer", "is", "here", "and", "it", "is", "done")


class ScheduleError(ValueError):
    """A schedule value is out of range; the message names the field and the range."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Schedule:
    ttft_ms: float = 400.0
    thought_tokens: int = 64
    answer_tokens: int = 32
    itl_ms: float = 20.0
    jitter_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("ttft_ms", "itl_ms", "jitter_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ScheduleError(f"{name} must be a number >= 0, got {value!r}.")
        for name in ("thought_tokens", "answer_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ScheduleError(f"{name} must be a whole number >= 0, got {value!r}.")
        if self.thought_tokens + self.answer_tokens == 0:
            raise ScheduleError("thought_tokens + answer_tokens must be at least 1.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ScheduleError(f"seed must be a whole number, got {self.seed!r}.")

    @property
    def ttfa_ms(self) -> float | None:
        """When the first answer token is due (no jitter); None when there is no answer."""
        if not self.answer_tokens:
            return None
        return self.ttft_ms + self.thought_tokens * self.itl_ms

    @property
    def e2e_ms(self) -> float:
        """When the last token is due (no jitter)."""
        return self.ttft_ms + (self.thought_tokens + self.answer_tokens - 1) * self.itl_ms

    def with_overrides(self, overrides: Mapping[str, object]) -> Schedule:
        """This schedule with some fields replaced (a request's ``stub`` object)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ScheduleError(
                f"unknown schedule field(s) {', '.join(unknown)};"
                f" known: {', '.join(sorted(known))}."
            )
        return replace(self, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Token:
    at_ms: float
    kind: TokenKind
    text: str


@dataclass(frozen=True, slots=True)
class Plan:
    tokens: tuple[Token, ...]
    finish_reason: Literal["stop", "length"]

    @property
    def thought_tokens(self) -> int:
        return sum(1 for t in self.tokens if t.kind == "thinking")

    @property
    def answer_tokens(self) -> int:
        return sum(1 for t in self.tokens if t.kind == "answer")


def plan(schedule: Schedule, max_tokens: int | None = None, request_index: int = 0) -> Plan:
    """The tokens of one request, in order. ``max_tokens`` caps thoughts and answer together
    (as reasoning models count them) and then the finish reason is ``length``."""
    kinds: list[TokenKind] = ["thinking"] * schedule.thought_tokens
    kinds += ["answer"] * schedule.answer_tokens
    finish: Literal["stop", "length"] = "stop"
    if max_tokens is not None and max_tokens < len(kinds):
        kinds, finish = kinds[:max_tokens], "length"
    rng = random.Random(schedule.seed * 1_000_003 + request_index) if schedule.jitter_ms else None
    tokens: list[Token] = []
    last = 0.0
    for k, kind in enumerate(kinds):
        at = schedule.ttft_ms + k * schedule.itl_ms
        if rng is not None:
            at = max(last, at + rng.uniform(-schedule.jitter_ms, schedule.jitter_ms))
        last = at
        if kind == "thinking":
            text = THOUGHT_WORDS[k % len(THOUGHT_WORDS)]
        else:
            text = ANSWER_WORDS[(k - schedule.thought_tokens) % len(ANSWER_WORDS)]
        tokens.append(Token(at, kind, text + " "))
    return Plan(tuple(tokens), finish)
