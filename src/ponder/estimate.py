"""How long a request will take, from how long similar past requests took.

An :class:`Estimator` keeps recent finished requests per model (their prompt's profile and
their TTFA, thought tokens, E2E and token gap). Asked about a prompt, it answers with ranges
(p10/p50/p90) from the past requests most like it — same rule category, nearest by length
and operand sizes — falling back to the model's whole recent history, and to nothing at all
when the model has too little: it never invents a number, and every estimate says how many
past requests it rests on.

It is fed by the gateway (recent traces at start-up, then each trace it closes) and may be
seeded from the bench's attempts (``benchmarks/data/router_attempts.jsonl.gz``).
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ponder.meter import percentile
from ponder.router.features import structure_profile
from ponder.store.record import TraceRecord

Basis = Literal["similar", "model"]

# Each model keeps its last WINDOW requests; a prompt's neighbours are the NEIGHBOURS
# nearest of them in its category, when at least MIN_SIMILAR are close enough.
WINDOW = 2_000
NEIGHBOURS = 80
MIN_SIMILAR = 8
MIN_MODEL = 5
MAX_DISTANCE = 1.5
GAP_WINDOW = 200
# Once a model's gap window is full, its usual gap is recomputed every GAP_REFRESH requests
# rather than on every one (a percentile over GAP_WINDOW values per request, on the hot path).
GAP_REFRESH = 20
_STALE = object()


@dataclass(frozen=True, slots=True)
class Range:
    p10: float
    p50: float
    p90: float

    @classmethod
    def of(cls, values: list[float]) -> Range | None:
        if not values:
            return None
        p10, p50, p90 = (percentile(values, q) for q in (10, 50, 90))
        assert p10 is not None and p50 is not None and p90 is not None
        return cls(p10, p50, p90)

    def contains(self, value: float) -> bool:
        return self.p10 <= value <= self.p90

    def as_dict(self, digits: int = 1) -> dict[str, float]:
        return {
            "p10": round(self.p10, digits),
            "p50": round(self.p50, digits),
            "p90": round(self.p90, digits),
        }


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a model will probably take for a prompt. ``basis`` says which past requests:
    ``similar`` ones (same kind of prompt, close in size) or the model's whole history."""

    model: str
    basis: Basis
    samples: int
    ttfa_ms: Range
    e2e_ms: Range
    thinking_tokens: Range | None  # None when none of the samples thought
    gap_ms: float | None  # a usual longest gap between tokens (p90 of the samples' p99 ITL)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "basis": self.basis,
            "samples": self.samples,
            "ttfa_ms": self.ttfa_ms.as_dict(),
            "e2e_ms": self.e2e_ms.as_dict(),
            "thinking_tokens": (
                self.thinking_tokens.as_dict(0) if self.thinking_tokens is not None else None
            ),
            "gap_ms": round(self.gap_ms, 1) if self.gap_ms is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Profile:
    """What makes two prompts alike for timing: rule category and a few size figures."""

    category: str
    sizes: tuple[float, ...]

    @classmethod
    def of(cls, prompt: str) -> Profile:
        from ponder.router.rules import RuleRouter

        return cls(RuleRouter.categorise(prompt), structure_profile(prompt))

    def distance(self, other: Profile) -> float:
        return math.dist(self.sizes, other.sizes)


class Observation:
    """One finished request. Its prompt's profile is computed when an estimate first needs
    it, not when the request finishes: profiling costs about as much as the rest of a
    request's bookkeeping, and most observations are pushed out of the window unread."""

    __slots__ = ("_profile", "e2e_ms", "gap_ms", "prompt", "thinking_tokens", "ttfa_ms")

    def __init__(
        self,
        prompt: str,
        ttfa_ms: float,
        e2e_ms: float,
        thinking_tokens: int | None,
        gap_ms: float | None,
    ) -> None:
        self.prompt, self.ttfa_ms, self.e2e_ms = prompt, ttfa_ms, e2e_ms
        self.thinking_tokens, self.gap_ms = thinking_tokens, gap_ms
        self._profile: Profile | None = None

    @property
    def profile(self) -> Profile:
        # Two threads may both compute it; they get equal values, so no lock is needed.
        if self._profile is None:
            self._profile = Profile.of(self.prompt)
        return self._profile


class Estimator:
    """Thread-safe: the gateway observes from its loop, a benchmark from anywhere."""

    def __init__(
        self,
        window: int = WINDOW,
        neighbours: int = NEIGHBOURS,
        min_similar: int = MIN_SIMILAR,
        min_model: int = MIN_MODEL,
        max_distance: float = MAX_DISTANCE,
    ) -> None:
        self._window = window
        self._neighbours = neighbours
        self._min_similar = min_similar
        self._min_model = min_model
        self._max_distance = max_distance
        self._by_model: dict[str, deque[Observation]] = {}
        self._gaps: dict[str, float | None] = {}  # usual_gap_ms per model, until it learns
        self._gap_age: dict[str, int] = {}  # observations since the model's gap was computed
        self._lock = threading.Lock()

    def observe(
        self,
        model: str,
        prompt: str,
        ttfa_ms: float,
        e2e_ms: float,
        thinking_tokens: int | None = None,
        gap_ms: float | None = None,
    ) -> None:
        obs = Observation(prompt, ttfa_ms, e2e_ms, thinking_tokens, gap_ms)
        with self._lock:
            samples = self._by_model.get(model)
            if samples is None:
                samples = self._by_model[model] = deque(maxlen=self._window)
            samples.append(obs)
            age = self._gap_age.get(model, 0) + 1
            if len(samples) <= GAP_WINDOW or age >= GAP_REFRESH:
                self._gaps.pop(model, None)
                age = 0
            self._gap_age[model] = age

    def observe_trace(self, record: TraceRecord) -> bool:
        """Learn from a finished trace; False when it says nothing about timing (failed,
        cancelled, a canned ``declined`` reply, no model)."""
        if not record.timed or record.model is None or record.ttfa_ms is None:
            return False
        if record.e2e_ms is None or not record.prompt:
            return False
        self.observe(
            record.model, record.prompt, record.ttfa_ms, record.e2e_ms,
            record.thinking_tokens, record.itl_p99_ms,
        )  # fmt: skip
        return True

    def observe_traces(self, records: Iterable[TraceRecord]) -> int:
        return sum(self.observe_trace(r) for r in records)

    def usual_gap_ms(self, model: str) -> float | None:
        """The model's usual longest gap between tokens (p90 of its recent requests' p99
        inter-token latency); None with fewer than ``min_model`` requests that had one."""
        with self._lock:
            cached = self._gaps.get(model, _STALE)
            if cached is not _STALE:
                return cached  # type: ignore[return-value]
            recent = list(itertools.islice(reversed(self._by_model.get(model, ())), GAP_WINDOW))
        gaps = [o.gap_ms for o in recent if o.gap_ms is not None]
        value = percentile(gaps, 90) if len(gaps) >= self._min_model else None
        with self._lock:
            self._gaps[model] = value
        return value

    def samples(self, model: str) -> int:
        with self._lock:
            return len(self._by_model.get(model, ()))

    def estimate(self, model: str, prompt: str) -> Estimate | None:
        """The model's likely timings for ``prompt``; None when its history is too thin."""
        with self._lock:
            history = list(self._by_model.get(model, ()))
        if not history:
            return None
        profile = Profile.of(prompt)
        alike = [o for o in history if o.profile.category == profile.category]
        near = sorted(
            (d, i) for i, o in enumerate(alike)
            if (d := profile.distance(o.profile)) <= self._max_distance
        )  # fmt: skip
        if len(near) >= self._min_similar:
            return _summarise(
                model, "similar", [alike[i] for _, i in near[: self._neighbours]]
            )
        if len(history) >= self._min_model:
            return _summarise(model, "model", history)
        return None

    def seed_attempts(self, path: Path | str) -> int:
        """Learn from a bench attempts file (JSON lines, gzip when it ends ``.gz``)."""
        count = 0
        for model, prompt, ttfa, e2e, thinking, gap in read_attempts(path):
            self.observe(model, prompt, ttfa, e2e, thinking, gap)
            count += 1
        return count


def _summarise(model: str, basis: Basis, observations: list[Observation]) -> Estimate:
    ttfa = Range.of([o.ttfa_ms for o in observations])
    e2e = Range.of([o.e2e_ms for o in observations])
    assert ttfa is not None and e2e is not None
    thoughts = [float(o.thinking_tokens) for o in observations if o.thinking_tokens]
    gaps = [o.gap_ms for o in observations if o.gap_ms is not None]
    return Estimate(
        model=model,
        basis=basis,
        samples=len(observations),
        ttfa_ms=ttfa,
        e2e_ms=e2e,
        # Thought tokens only when most of the samples thought (deep), not from a stray few.
        thinking_tokens=Range.of(thoughts) if len(thoughts) * 2 > len(observations) else None,
        gap_ms=percentile(gaps, 90),
    )


AttemptRow = tuple[str, str, float, float, int | None, float | None]


def read_attempts(path: Path | str) -> Iterator[AttemptRow]:
    """``(model, prompt, ttfa_ms, e2e_ms, thinking_tokens, gap_ms)`` of each timed attempt."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = attempt_timing(json.loads(line))
            if row is not None:
                yield row


def attempt_timing(data: dict[str, Any]) -> AttemptRow | None:
    meter = data.get("meter")
    if not meter or data.get("error") or meter.get("finish_reason") in (None, "declined"):
        return None
    ttfa, e2e = meter.get("ttfa_ms"), meter.get("e2e_ms")
    if ttfa is None or e2e is None:
        return None
    return (
        str(data["model"]), str(data["prompt"]), float(ttfa), float(e2e),
        meter.get("thinking_tokens"), meter.get("itl_p99_ms"),
    )  # fmt: skip
