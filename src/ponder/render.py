"""Terminal rendering of an event stream for ``ponder chat``.

Thoughts stream dim above a status line that ticks ("Thinking… 3.1 s · 120 tokens"); progress
labels appear as their own lines when the thoughts reach them; the answer follows in plain
text, then one metrics line. Without a terminal (a pipe, a file) no ANSI codes are written,
nothing ticks, and the same content appears line by line.
"""

from __future__ import annotations

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


class ChatRenderer:
    def __init__(self, out: TextIO, *, ansi: bool, hide_thoughts: bool = False) -> None:
        self.out = out
        self.ansi = ansi
        self.hide_thoughts = hide_thoughts
        self._start_ns: int | None = None
        self._thought_chars: list[str] = []
        self._partial = ""  # the thought line not yet complete
        self._thinking = False
        self._answering = False
        self._status_shown = False

    def _style(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.ansi else text

    def _elapsed_ms(self, at_ns: int | None = None) -> float:
        if self._start_ns is None:
            return 0.0
        return ((at_ns or now_ns()) - self._start_ns) / 1e6

    def _thought_tokens(self) -> int:
        return estimate_tokens("".join(self._thought_chars))

    def _clear_status(self) -> None:
        if self.ansi and self._status_shown:
            self.out.write(CLEAR_LINE)
            self._status_shown = False

    def _draw_status(self) -> None:
        if not (self.ansi and self._thinking):
            return
        # Live counts are estimates from the text; the metrics line has the provider's figures.
        status = f"Thinking… {self._elapsed_ms() / 1000:.1f} s · ~{self._thought_tokens()} tokens"
        tail = "" if self.hide_thoughts else self._partial[-60:].replace("\t", " ")
        line = self._style(status, BOLD + GRAY) + (self._style("  " + tail, DIM) if tail else "")
        self.out.write(CLEAR_LINE + line)
        self._status_shown = True
        self.out.flush()

    def tick(self) -> None:
        """Called periodically so the status line's clock moves even between deltas."""
        self._draw_status()

    def _print_line(self, text: str, code: str) -> None:
        self._clear_status()
        self.out.write(self._style(text, code) + "\n")

    def handle(self, event: Event) -> None:
        if isinstance(event, Started):
            self._start_ns = event.at_ns
            if self.ansi:
                self._print_line(f"{event.model} · {event.mode} · {event.reason}", GRAY)
        elif isinstance(event, Thinking):
            self._on_thinking(event.text)
        elif isinstance(event, Progress):
            if not self._answering:
                self._flush_partial()
                self._print_line(f"→ {event.label}", CYAN)
        elif isinstance(event, Answer):
            self._on_answer(event)
        elif isinstance(event, ToolCallEnd):
            # A call ends the current run of thoughts; thoughts after it open a new one.
            self._end_thoughts(event.at_ns)
            if self._answering:
                self.out.write("\n")
                self._answering = False
            self._print_line(f"⚙ {event.name}({_clip(event.arguments)})", CYAN)
        elif isinstance(event, Notice):
            self._print_line(f"note: {event.text}", GRAY)
        elif isinstance(event, Finished | Failed):
            self._end_thoughts(event.at_ns)
        self._draw_status()

    def _on_thinking(self, text: str) -> None:
        if not text:
            return
        if not self._thinking:
            self._thinking = True
            if not self.ansi and not self.hide_thoughts:
                self.out.write("Thinking…\n")
        self._thought_chars.append(text)
        if self.hide_thoughts:
            return
        self._partial += text
        if "\n" in self._partial:
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                self._print_line(line, DIM + GRAY)

    def _flush_partial(self) -> None:
        if self._partial and not self.hide_thoughts:
            partial, self._partial = self._partial, ""
            self._print_line(partial, DIM + GRAY)

    def _end_thoughts(self, at_ns: int) -> None:
        if not self._thinking:
            return
        self._flush_partial()
        self._thinking = False
        summary = (
            f"Thought for {self._elapsed_ms(at_ns) / 1000:.1f} s · ~{self._thought_tokens()} tokens"
        )
        self._print_line(summary, GRAY)

    def _on_answer(self, event: Answer) -> None:
        if not self._answering:
            self._end_thoughts(event.at_ns)
            self._answering = True
        self._clear_status()
        self.out.write(event.text)
        self.out.flush()

    def finish(self, metrics: Metrics, failure: Failed | None) -> None:
        self._clear_status()
        if self._answering:
            self.out.write("\n")
        if failure is not None:
            self.out.write(self._style(f"✗ {failure.message}", RED) + "\n")
        self.out.write(self._style(format_metrics(metrics), GRAY) + "\n")
        self.out.flush()
