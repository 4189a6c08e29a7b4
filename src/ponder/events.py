"""The event union: the one stream every producer makes and every consumer reads.

Each event is a frozen dataclass with a ``type`` literal and ``at_ns``, the monotonic
``time.perf_counter_ns()`` reading taken when the event entered this process. Consumers
(meter, progress, store, sinks) never see a provider's wire format, only these.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["fast", "deep"]


def now_ns() -> int:
    """The clock every event is stamped with."""
    return time.perf_counter_ns()


@dataclass(frozen=True, slots=True)
class Started:
    """The request was sent upstream. ``at_ns`` is the zero of every timing metric."""

    request_id: str
    model: str
    mode: Mode
    reason: str
    estimates: dict[str, float] | None = None
    at_ns: int = field(default_factory=now_ns)
    type: Literal["started"] = "started"


@dataclass(frozen=True, slots=True)
class Thinking:
    """A delta of thought text, and the provider state needed to send the thoughts back.

    ``block`` names the reasoning segment the delta belongs to when a provider has several
    in one turn (Anthropic's content block index); ``None`` continues the current segment, or
    opens a new one after a tool call or answer text. ``signature`` and ``state`` (merged
    into the segment's, later keys winning) are opaque to everyone but the producer;
    ``redacted`` marks thoughts whose text is hidden (the data is in ``state``).
    """

    text: str
    signature: str | None = None
    redacted: bool = False
    state: dict[str, Any] | None = None
    block: int | None = None
    at_ns: int = field(default_factory=now_ns)
    type: Literal["thinking"] = "thinking"


@dataclass(frozen=True, slots=True)
class Answer:
    """A delta of answer text."""

    text: str
    at_ns: int = field(default_factory=now_ns)
    type: Literal["answer"] = "answer"


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    """The model began a tool call. ``index`` counts the turn's calls from 0 (ponder's count,
    whatever the upstream numbered them); ``id`` is the upstream's, or one ponder made."""

    index: int
    id: str
    name: str
    at_ns: int = field(default_factory=now_ns)
    type: Literal["tool_call_start"] = "tool_call_start"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call's JSON arguments, in order."""

    index: int
    arguments: str
    at_ns: int = field(default_factory=now_ns)
    type: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(frozen=True, slots=True)
class ToolCallEnd:
    """A tool call is complete; ``arguments`` is the whole JSON text (the deltas joined)."""

    index: int
    id: str
    name: str
    arguments: str
    at_ns: int = field(default_factory=now_ns)
    type: Literal["tool_call_end"] = "tool_call_end"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something ponder did with the request that its caller should know, in plain words
    ("the embedded model cannot call tools: answered without the 3 offered"). Kept in the
    trace and sent in the stream's ``ponder`` extras; not model output."""

    text: str
    at_ns: int = field(default_factory=now_ns)
    type: Literal["notice"] = "notice"


@dataclass(frozen=True, slots=True)
class Progress:
    """A short step label derived from the thoughts, with its 0-based index."""

    label: str
    index: int
    at_ns: int = field(default_factory=now_ns)
    type: Literal["progress"] = "progress"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. ``estimated`` is True when ponder counted rather than the provider.

    ``unserved_tokens``: tokens generated for this request that are in neither count because
    the client never saw them (a hedge's losing answer); spent = output + unserved.
    """

    input_tokens: int | None
    thinking_tokens: int
    answer_tokens: int
    estimated: bool = False
    # Input tokens served from the provider's prompt cache (billed at the cached rate).
    cached_input_tokens: int | None = None
    unserved_tokens: int | None = None
    at_ns: int = field(default_factory=now_ns)
    type: Literal["usage"] = "usage"

    @property
    def output_tokens(self) -> int:
        return self.thinking_tokens + self.answer_tokens


FinishReason = Literal[
    "stop",  # the model finished its answer
    "length",  # max tokens reached while answering
    "thinking_length",  # the stream ended inside the thoughts (no answer)
    "cancelled",  # the caller cancelled (client disconnected, Stop pressed)
    "declined",  # a canned reply: the model was not trained for the question and did not run
    "content_filter",
    "tool_calls",
    "error",
]


@dataclass(frozen=True, slots=True)
class Finished:
    """The stream ended normally. ``timings`` holds the meter's figures when known.

    ``stop_sequence`` is the client's stop sequence the model stopped at, when the provider
    says which (Anthropic does; an OpenAI-compatible server's ``stop`` finish does not tell a
    stop sequence from a natural end).

    A wrapper that ran several models (the hedge) names the one whose answer was served in
    ``served_by``, in ``cancelled_tokens`` the tokens each losing model had generated, and in
    ``lanes`` what each lane did (``{"fast": {"model", "outcome", "end_ms", "reason",
    "tokens"}, "deep": {...}}``, ms since the request started) for the UI's timelines.
    """

    finish_reason: FinishReason
    timings: dict[str, float | None] | None = None
    served_by: str | None = None
    cancelled_tokens: dict[str, int] | None = None
    lanes: dict[str, dict[str, Any]] | None = None
    at_ns: int = field(default_factory=now_ns)
    type: Literal["finished"] = "finished"
    stop_sequence: str | None = field(default=None, kw_only=True)


FailureSide = Literal["client", "config", "upstream", "network", "ponder"]


@dataclass(frozen=True, slots=True)
class Failed:
    """The stream ended with an error a person can act on. Earlier deltas stay valid."""

    side: FailureSide
    code: str
    message: str
    retryable: bool = False
    status: int | None = None
    param: str | None = None  # the request field at fault, for client-side failures
    at_ns: int = field(default_factory=now_ns)
    type: Literal["failed"] = "failed"


ToolCallEvent = ToolCallStart | ToolCallDelta | ToolCallEnd
Event = (
    Started
    | Thinking
    | Answer
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | Notice
    | Progress
    | Usage
    | Finished
    | Failed
)
TERMINAL_TYPES = frozenset({"finished", "failed"})


def to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of an event, ``type`` first; ``None`` fields dropped."""
    data = {"type": event.type}
    for f in dataclasses.fields(event):
        if f.name == "type":
            continue
        value = getattr(event, f.name)
        if value is not None:
            data[f.name] = value
    return data
