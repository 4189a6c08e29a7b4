"""Every metric in DESIGN.md's table, computed from events alone.

| metric          | definition                                                        |
|-----------------|-------------------------------------------------------------------|
| TTFT            | started → first token of any kind (thought or answer)             |
| TTFA            | started → first answer token (text, or the start of a tool call)  |
| thinking time   | TTFA − TTFT when the model thought, else 0                        |
| E2E             | started → stream end (finished/failed)                            |
| decode speed    | (output tokens − 1) / (E2E − TTFT)                                |
| effective speed | answer tokens / E2E                                               |
| ITL             | gaps between successive content chunks, p50/p95/p99               |

Token counts come from the provider's ``usage`` event when it sent one; otherwise they are
estimated from the text (:mod:`ponder.tokens`) and ``tokens_estimated`` says so.

A tool call is answer output: on a tool-call turn the call is what the caller waits for, so
its start counts for TTFT and TTFA, its argument fragments are chunks (ITL), and its name and
arguments count as answer tokens when the tokens are estimated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ponder.events import (
    Event,
    Failed,
    Finished,
    Started,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from ponder.tokens import estimate_tokens

NS_PER_MS = 1_000_000


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Metrics:
    ttft_ms: float | None
    ttfa_ms: float | None
    thinking_ms: float
    e2e_ms: float | None
    input_tokens: int | None
    thinking_tokens: int
    answer_tokens: int
    tokens_estimated: bool
    decode_tps: float | None
    effective_tps: float | None
    itl_p50_ms: float | None
    itl_p95_ms: float | None
    itl_p99_ms: float | None
    finish_reason: str | None

    @property
    def output_tokens(self) -> int:
        return self.thinking_tokens + self.answer_tokens

    def as_dict(self) -> dict[str, float | int | bool | str | None]:
        return asdict(self)


class Meter:
    """Feed it every event of one request; read :meth:`metrics` at any time."""

    __slots__ = (
        "_answer_text",
        "_end_ns",
        "_finish_reason",
        "_first_answer_ns",
        "_first_token_ns",
        "_gaps_ns",
        "_last_chunk_ns",
        "_start_ns",
        "_thinking_text",
        "_tool_text",
        "_usage",
    )

    def __init__(self, start_ns: int | None = None) -> None:
        self._start_ns = start_ns
        self._first_token_ns: int | None = None
        self._first_answer_ns: int | None = None
        self._last_chunk_ns: int | None = None
        self._end_ns: int | None = None
        self._gaps_ns: list[int] = []
        self._thinking_text: list[str] = []
        self._answer_text: list[str] = []
        self._tool_text: list[str] = []
        self._usage: Usage | None = None
        self._finish_reason: str | None = None

    @property
    def thinking_text(self) -> str:
        return "".join(self._thinking_text)

    @property
    def answer_text(self) -> str:
        return "".join(self._answer_text)

    @property
    def output_text(self) -> str:
        """Everything but the thoughts: answer text and tool calls' names and arguments."""
        return self.answer_text + "".join(self._tool_text)

    @property
    def itl_ms(self) -> list[float]:
        """Every gap between successive content chunks (the ITL samples), in ms."""
        return [g / NS_PER_MS for g in self._gaps_ns]

    def feed(self, event: Event) -> None:
        # Dispatched on the type tag, the per-chunk kinds first: this runs for every chunk.
        kind = event.type
        if kind == "answer" or kind == "thinking":
            text = event.text  # type: ignore[union-attr]
            if not text:
                return
            self._chunk(event.at_ns)
            if kind == "answer":
                if self._first_answer_ns is None:
                    self._first_answer_ns = event.at_ns
                self._answer_text.append(text)
            else:
                self._thinking_text.append(text)
        elif isinstance(event, Started):
            if self._start_ns is None:
                self._start_ns = event.at_ns
        elif isinstance(event, ToolCallStart | ToolCallDelta):
            text = event.name if isinstance(event, ToolCallStart) else event.arguments
            if not text:
                return
            self._chunk(event.at_ns)
            if self._first_answer_ns is None:
                self._first_answer_ns = event.at_ns
            self._tool_text.append(text)
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Finished):
            self._end_ns = event.at_ns
            self._finish_reason = event.finish_reason
        elif isinstance(event, Failed):
            self._end_ns = event.at_ns
            self._finish_reason = "error"

    def _chunk(self, at_ns: int) -> None:
        if self._first_token_ns is None:
            self._first_token_ns = at_ns
        elif self._last_chunk_ns is not None:
            self._gaps_ns.append(at_ns - self._last_chunk_ns)
        self._last_chunk_ns = at_ns

    def _since_start(self, at_ns: int | None) -> float | None:
        if at_ns is None or self._start_ns is None:
            return None
        return (at_ns - self._start_ns) / NS_PER_MS

    def metrics(self) -> Metrics:
        ttft = self._since_start(self._first_token_ns)
        ttfa = self._since_start(self._first_answer_ns)
        e2e = self._since_start(self._end_ns)
        thought = bool(self._thinking_text)
        thinking_ms = (ttfa - ttft) if (thought and ttfa is not None and ttft is not None) else 0.0
        if thought and ttfa is None and ttft is not None and e2e is not None:
            thinking_ms = e2e - ttft  # thought until the end and never answered
        if self._usage is not None:
            input_tokens = self._usage.input_tokens
            thinking_tokens = self._usage.thinking_tokens
            answer_tokens = self._usage.answer_tokens
            estimated = self._usage.estimated
        else:
            input_tokens = None
            thinking_tokens = estimate_tokens(self.thinking_text)
            answer_tokens = estimate_tokens(self.output_text)
            estimated = True
        output = thinking_tokens + answer_tokens
        decode = None
        if e2e is not None and ttft is not None and e2e > ttft and output > 1:
            decode = (output - 1) / ((e2e - ttft) / 1000)
        effective = answer_tokens / (e2e / 1000) if e2e else None
        gaps = self.itl_ms
        return Metrics(
            ttft_ms=ttft,
            ttfa_ms=ttfa,
            thinking_ms=thinking_ms,
            e2e_ms=e2e,
            input_tokens=input_tokens,
            thinking_tokens=thinking_tokens,
            answer_tokens=answer_tokens,
            tokens_estimated=estimated,
            decode_tps=decode,
            effective_tps=effective,
            itl_p50_ms=percentile(gaps, 50),
            itl_p95_ms=percentile(gaps, 95),
            itl_p99_ms=percentile(gaps, 99),
            finish_reason=self._finish_reason,
        )
