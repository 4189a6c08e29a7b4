"""Recent time-to-first-answer per mode, so a router can tell whether deep meets a budget."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from ponder.meter import percentile


class LatencyTracker:
    """Keeps the last ``window`` TTFA observations per mode; estimates by a percentile.

    Until a mode has ``min_samples`` observations, the configured ``defaults`` answer.
    """

    def __init__(
        self,
        defaults: Mapping[str, float] | None = None,
        window: int = 50,
        quantile: float = 75.0,
        min_samples: int = 3,
    ) -> None:
        self._defaults = dict(defaults or {})
        self._window = window
        self._quantile = quantile
        self._min_samples = min_samples
        self._samples: dict[str, deque[float]] = {}

    def observe(self, mode: str, ttfa_ms: float) -> None:
        samples = self._samples.get(mode)
        if samples is None:
            samples = self._samples[mode] = deque(maxlen=self._window)
        samples.append(ttfa_ms)

    def seed(self, observations: Iterable[tuple[str, float]]) -> None:
        for mode, ttfa_ms in observations:
            self.observe(mode, ttfa_ms)

    def estimate(self, mode: str) -> tuple[float | None, str]:
        """The estimated TTFA in ms and where it came from (for the decision's reason)."""
        samples = self._samples.get(mode)
        if samples is not None and len(samples) >= self._min_samples:
            value = percentile(list(samples), self._quantile)
            return value, f"p{self._quantile:g} of {len(samples)} recent requests"
        default = self._defaults.get(mode)
        if default is not None:
            return default, "configured estimate"
        return None, "no estimate"
