"""Terminal rendering of an event stream for ``ponder chat``.

Two streams, as a Unix tool should: the answer alone goes to ``out`` (stdout), so
``A=$(ponder chat …)`` captures it; everything about the answer — the route line, thoughts,
progress, the status line and the metrics — goes to ``info`` (stderr), or nowhere when
``info`` is None (``--answer-only``).

On a terminal (``ansi``) thoughts stream dim, a whole line at a time, above a status line
that is redrawn in place ("Thinking… 3.1 s · ~120 tokens est.") and never shares its line
with thought text; a progress label that arrives in the middle of a thought line waits until
that line is complete, so it never splits a token. The live count is an estimate from the
text (marked so); the metrics line at the end has the provider's counts. Without a terminal
no ANSI codes are written, nothing ticks, and the same content appears line by line.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from ponder.events import (
    Answer,
    Event,
    Failed,
    Finished,
    Notice,
    Progress,
    Started,
    Thinking,
    ToolCallEnd,
    now_ns,
)
from ponder.meter import Metrics
from ponder.tokens import estimate_tokens

DIM = "\x1b[2m"
GRAY = "\x1b[90m"
CYAN = "\x1b[36m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
RESET = "\x1b[0m"
CLEAR_LINE = "\r\x1b[2K"
BRIEFLY_MS = 100  # under this, "Thought briefly" rather than "Thought for 0.0 s"


def format_seconds(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} tok/s"


def _clip(text: str, limit: int = 200) -> str:
    """One line of a tool call's arguments: control characters shown, long ones cut."""
    flat = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_metrics(m: Metrics) -> str:
    est = " (estimated)" if m.tokens_estimated else ""
    return (
        f"TTFT {format_seconds(m.ttft_ms)} · TTFA {format_seconds(m.ttfa_ms)}"
        f" · thinking {format_seconds(m.thinking_ms)}"
        f" · {m.thinking_tokens} thought / {m.answer_tokens} answer tokens{est}"
        f" · decode {_rate(m.decode_tps)} · effective {_rate(m.effective_tps)}"
    )


def thought_for(ms: float) -> str:
    return "Thought briefly" if ms < BRIEFLY_MS else f"Thought for {ms / 1000:.1f} s"


def route_line(requested: str, event: Started) -> str:
    """What was asked for and what answered: "auto → deep · <why>", or just "deep"."""
    if requested == "auto":
        target = event.mode if event.model == event.mode else f"{event.mode} ({event.model})"
        return f"auto → {target} · {event.reason}" if event.reason else f"auto → {target}"
    return requested if requested == event.mode else f"{requested} · {event.mode}"


class ChatRenderer:
    def __init__(
        self,
        out: TextIO,
        info: TextIO | None = None,
        *,
        ansi: bool,
        hide_thoughts: bool = False,
        show_progress: bool | None = None,
        requested: str = "auto",
        width: int | None = None,
    ) -> None:
        self.out = out
        self.info = info
        self.ansi = ansi and info is not None
        self.hide_thoughts = hide_thoughts
        self.show_progress = (not hide_thoughts) if show_progress is None else show_progress
        self.requested = requested
        self.width = width or shutil.get_terminal_size((100, 24)).columns
        self.declined = False
        self._start_ns: int | None = None
        self._thought_chars: list[str] = []
        self._partial = ""  # the thought line not yet complete
        self._pending: list[str] = []  # progress labels waiting for the thought line to end
        self._thinking = False
        self._answering = False
        self._answered = False
        self._status_shown = False

    # --- output helpers ----------------------------------------------------------------------

    def _style(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.ansi else text

    def _elapsed_ms(self, at_ns: int | None = None) -> float:
        if self._start_ns is None:
            return 0.0
        return ((at_ns or now_ns()) - self._start_ns) / 1e6

    def _clear_status(self) -> None:
        if self.info is not None and self.ansi and self._status_shown:
            self.info.write(CLEAR_LINE)
            self.info.flush()
            self._status_shown = False

    def _draw_status(self) -> None:
        if self.info is None or not (self.ansi and self._thinking):
            return
        tokens = estimate_tokens("".join(self._thought_chars))
        status = f"Thinking… {self._elapsed_ms() / 1000:.1f} s · ~{tokens} tokens est."
        self.info.write(CLEAR_LINE + self._style(status[: self.width - 1], BOLD + GRAY))
        self.info.flush()
        self._status_shown = True

    def _line(self, text: str, code: str) -> None:
        """One whole line of information, above the status line."""
        if self.info is None:
            return
        self._clear_status()
        self.info.write(self._style(text, code) + "\n")
        self.info.flush()

    def tick(self) -> None:
        """Called periodically so the status line's clock moves even between deltas."""
        self._draw_status()

    # --- events ------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        if isinstance(event, Started):
            self._start_ns = event.at_ns
            self._line(route_line(self.requested, event), GRAY)
        elif isinstance(event, Thinking):
            self._on_thinking(event.text)
        elif isinstance(event, Progress):
            self._on_progress(event.label)
        elif isinstance(event, Answer):
            self._on_answer(event)
        elif isinstance(event, ToolCallEnd):
            # A call ends the current run of thoughts; thoughts after it open a new one.
            self._end_thoughts(event.at_ns)
            if self._answering:
                self.out.write("\n")
                self._answering = False
            self._line(f"⚙ {event.name}({_clip(event.arguments)})", CYAN)
        elif isinstance(event, Notice):
            self._line(f"note: {event.text}", GRAY)
        elif isinstance(event, Finished | Failed):
            if isinstance(event, Finished) and event.finish_reason == "declined":
                self.declined = True
            self._end_thoughts(event.at_ns)
        self._draw_status()

    def _on_thinking(self, text: str) -> None:
        if not text:
            return
        if not self._thinking:
            self._thinking = True
            if not self.ansi and not self.hide_thoughts:
                self._line("Thinking…", GRAY)
        self._thought_chars.append(text)
        if self.hide_thoughts:
            return
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self._line(line, DIM + GRAY)
            self._release_progress()
        self._wrap_partial()

    def _wrap_partial(self) -> None:
        """A long thought line is printed in pieces the width of the terminal, each cut at a
        space, so it never waits for its newline and never wraps under the status line."""
        limit = max(20, self.width - 1)
        while len(self._partial) > limit:
            cut = self._partial.rfind(" ", 0, limit + 1)
            if cut <= 0:
                return  # no space yet: wait for one rather than split a token
            line, self._partial = self._partial[:cut], self._partial[cut + 1 :]
            self._line(line, DIM + GRAY)
            self._release_progress()

    def _on_progress(self, label: str) -> None:
        if self._answering or not self.show_progress:
            return
        self._pending.append(label)
        if not self._partial or self.hide_thoughts:
            self._release_progress()

    def _release_progress(self) -> None:
        for label in self._pending:
            self._line(f"→ {label}", CYAN)
        self._pending.clear()

    def _end_thoughts(self, at_ns: int) -> None:
        if self._partial and not self.hide_thoughts:
            partial, self._partial = self._partial, ""
            self._line(partial, DIM + GRAY)
        self._release_progress()
        if not self._thinking:
            return
        self._thinking = False
        self._line(thought_for(self._elapsed_ms(at_ns)), GRAY)

    def _on_answer(self, event: Answer) -> None:
        if not self._answering:
            self._end_thoughts(event.at_ns)
            self._answering = True
        self._clear_status()
        if event.text:
            self._answered = True
        self.out.write(event.text)
        self.out.flush()

    def finish(self, metrics: Metrics, failure: Failed | None) -> None:
        self._clear_status()
        if self._answered:
            self.out.write("\n")
            self.out.flush()
        if failure is not None:
            self._line(f"✗ {failure.message}", RED)
        elif self.declined:
            self._line("(a canned reply: the model was not run, so there are no metrics)", GRAY)
        else:
            self._line(format_metrics(metrics), GRAY)
