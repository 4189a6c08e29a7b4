"""A one-line progress bar with ETA on stderr (plain periodic lines when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Counts finished (task, model) chains; ETA = elapsed / done x remaining."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        width: int = 24,
        enabled: bool = True,
        min_interval_s: float = 0.2,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.enabled = enabled and total > 0
        self.done = 0
        self.attempts = 0
        self.correct = 0
        self.skipped = 0
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._plain_every = 10.0
        self._last_line = ""

    def skip(self, n: int) -> None:
        """Chains already finished by an earlier run: counted done, kept out of the ETA rate."""
        self.skipped += n
        self.done += n
        self.draw(force=True)

    def attempt(self, ok: bool) -> None:
        self.attempts += 1
        self.correct += int(ok)
        self.draw()

    def chain_done(self) -> None:
        self.done += 1
        self.draw(force=self.done == self.total)

    def line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self._started
        fresh = self.done - self.skipped
        if self.done >= self.total:
            eta = "done"
        elif fresh > 0:
            eta = "ETA " + _clock(elapsed / fresh * (self.total - self.done))
        else:
            eta = "ETA --:--"
        return (
            f"[{bar}] {self.done}/{self.total} tasks x models · {self.attempts} attempts,"
            f" {self.correct} correct · {_clock(elapsed)} · {eta}"
        )

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        interval = self._plain_every if not self._tty else 0.2
        if not force and now - self._last_draw < interval:
            return
        self._last_draw = now
        line = self.line()
        if self._tty:
            self.stream.write("\r" + line)
        elif line != self._last_line:
            self.stream.write(line + "\n")
        self._last_line = line
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.draw(force=True)
            if self._tty:
                self.stream.write("\n")
                self.stream.flush()
