"""Is the model stuck? Stall and loop detection for a stream as it arrives.

Two signals, shared by the gateway (recorded in the trace as notes), ``ponder chat`` (printed
and recorded) and the web UI (whose ``estimate.js`` applies the same thresholds, sent by
``POST /api/estimate``):

- a **stall**: no token for far longer than the model's usual longest gap between tokens
  (:func:`stall_after_ms`: twenty times that gap, never under a floor of a few seconds; twice
  the floor when the model has no history to judge by);
- a **loop**: the thoughts repeating themselves, the same run of words many times among the
  latest ones (:class:`LoopDetector`).
"""

from __future__ import annotations

import re
from collections import Counter, deque

from ponder.config import Config
from ponder.errors import ConfigError
from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Thinking,
    ToolCallDelta,
    ToolCallStart,
    now_ns,
)

STALL_FLOOR_MS = 5_000.0
GAP_FACTOR = 20.0
NO_HISTORY_FACTOR = 2.0  # with no usual gap known, wait twice the floor
LOOP_WORDS = 6  # the length of the run of words that repeats
LOOP_REPEATS = 5  # how many times within the window counts as a loop
LOOP_WINDOW = 300  # the latest this many words are looked at
LOOP_NOTE = "The model is repeating itself"

_WORD = re.compile(r"\S+")


def stall_after_ms(gap_ms: float | None, floor_ms: float = STALL_FLOOR_MS) -> float:
    """How long without a token counts as a stall, given the model's usual longest gap."""
    if gap_ms is None or gap_ms <= 0:
        return floor_ms * NO_HISTORY_FACTOR
    return max(floor_ms, GAP_FACTOR * gap_ms)


def stall_floor_ms(config: Config) -> float:
    """``[server] stall_floor_s``: the shortest quiet spell that counts as a stall."""
    raw = config.server.get("stall_floor_s", STALL_FLOOR_MS / 1000)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise ConfigError(
            f"[server] stall_floor_s must be a positive number of seconds, not {raw!r}."
        )
    return float(raw) * 1000


def stall_note(silent_ms: float) -> str:
    return f"No tokens for {silent_ms / 1000:.0f} s — the model may be stuck"


def repeated_phrase(text: str) -> str | None:
    """The run of words ``text``'s latest words repeat :data:`LOOP_REPEATS` times or more."""
    detector = LoopDetector()
    detector.feed(text)
    return detector.phrase


class LoopDetector:
    """Fed the thoughts as they stream; :attr:`phrase` is set once they loop."""

    def __init__(
        self, words: int = LOOP_WORDS, repeats: int = LOOP_REPEATS, window: int = LOOP_WINDOW
    ) -> None:
        self._n = words
        self._repeats = repeats
        self._recent: deque[str] = deque(maxlen=words)
        self._grams: deque[tuple[str, ...]] = deque(maxlen=window)
        self._counts: Counter[tuple[str, ...]] = Counter()
        self._partial = ""
        self.phrase: str | None = None

    def feed(self, text: str) -> bool:
        """Add a delta; True when this delta made the thoughts a loop (once)."""
        if self.phrase is not None:
            return False
        self._partial += text
        words = _WORD.findall(self._partial)
        # The last word may continue in the next delta, unless the text ended in a space.
        self._partial = "" if self._partial[-1:].isspace() or not words else words.pop()
        return any(self._step(word.lower()) for word in words)

    def _step(self, word: str) -> bool:
        self._recent.append(word)
        if len(self._recent) < self._n:
            return False
        gram = tuple(self._recent)
        if len(self._grams) == self._grams.maxlen:  # the oldest run leaves the window
            self._counts[self._grams[0]] -= 1
        self._grams.append(gram)
        self._counts[gram] += 1
        if self._counts[gram] >= self._repeats:
            self.phrase = " ".join(gram)
            return True
        return False


class StallWatch:
    """Tells, when asked, whether the stream has gone quiet for longer than ``after_ms``.
    Each quiet spell is reported once; a new token starts the clock again."""

    def __init__(self, after_ms: float, now_ms: float) -> None:
        self.after_ms = after_ms
        self._last_ms = now_ms
        self._reported = False

    def token(self, now_ms: float) -> None:
        self._last_ms = now_ms
        self._reported = False

    def check(self, now_ms: float) -> str | None:
        """The stall note the first time the quiet spell passes the threshold, else None."""
        silent = now_ms - self._last_ms
        if self._reported or silent < self.after_ms:
            return None
        self._reported = True
        return stall_note(silent)


LOOP_TAIL_CHARS = 4_000  # the thoughts' tail a finished stream is checked on (bounded work)


def stream_notes(thinking: str, longest_gap_ms: float, after_ms: float) -> list[str]:
    """Notes for a finished stream's trace: a quiet spell past ``after_ms`` (between tokens,
    or at the end of a stream the client left), and thoughts that looped."""
    notes = []
    if longest_gap_ms >= after_ms:
        notes.append(f"stall: {stall_note(longest_gap_ms)} (limit {after_ms / 1000:.1f} s)")
    phrase = repeated_phrase(thinking[-LOOP_TAIL_CHARS:])
    if phrase is not None:
        notes.append(f"loop: {LOOP_NOTE} (“{phrase}”)")
    return notes


class StreamWatch:
    """Both signals over a live event stream (``ponder chat``): :meth:`feed` each event and
    call :meth:`check` now and then; each returns a note to show, or None."""

    def __init__(self, after_ms: float) -> None:
        self.stall = StallWatch(after_ms, _now_ms())
        self.loop = LoopDetector()
        self.over = False

    def feed(self, event: Event) -> str | None:
        if isinstance(event, Finished | Failed):
            self.over = True
        elif isinstance(event, Thinking | Answer | ToolCallStart | ToolCallDelta):
            self.stall.token(_now_ms())
            if isinstance(event, Thinking) and self.loop.feed(event.text):
                return LOOP_NOTE
        return None

    def check(self) -> str | None:
        return None if self.over else self.stall.check(_now_ms())


def _now_ms() -> float:
    return now_ns() / 1e6
