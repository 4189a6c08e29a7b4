"""The speed bench's progress line: the step, requests so far, and an ETA."""

from __future__ import annotations

import time
from typing import TextIO

from ponder.bench.progressbar import ProgressBar, _clock


class SpeedProgress(ProgressBar):
    """``total`` is the run's planned units: seconds of steps when steps have a duration
    (ETA: the planned seconds left), else requests (ETA: the requests left at the rate they
    have gone so far)."""

    def __init__(self, total: int, steps: int, by_time: bool, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        super().__init__(total, stream=stream, enabled=enabled)
        self.steps = steps
        self.by_time = by_time
        self.step_index = 0
        self.step_name = ""
        self.requests = 0
        self.errors = 0
        self._units_before = 0.0  # units of the steps already finished
        self._step_started = time.monotonic()

    def begin_step(self, index: int, name: str) -> None:
        self.step_index, self.step_name = index, name
        self._step_started = time.monotonic()
        self.draw(force=True)

    def end_step(self, units: float) -> None:
        self._units_before += units
        self.done = min(self.total, round(self._units_before))

    def request(self, ok: bool) -> None:
        self.requests += 1
        self.errors += int(not ok)
        if not self.by_time:
            self.done = min(self.total, self.done + 1)
        self.draw()

    def units(self) -> float:
        if self.by_time:
            return min(self.total, self._units_before + time.monotonic() - self._step_started)
        return float(self.done)

    def line(self) -> str:
        done = self.units()
        fraction = done / self.total if self.total else 1.0
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self._started
        if done >= self.total:
            eta = "ETA 0:00"
        elif self.by_time:  # the plan is in seconds: what is left of it is the ETA
            eta = "ETA " + _clock(self.total - done)
        elif done > 0:
            eta = "ETA " + _clock(elapsed / done * (self.total - done))
        else:
            eta = "ETA --:--"
        return (
            f"[{bar}] step {self.step_index + 1}/{self.steps} {self.step_name} ·"
            f" {self.requests} requests, {self.errors} errors · {_clock(elapsed)} · {eta}"
        )
