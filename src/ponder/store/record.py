"""One request's trace: what was asked, how it was routed, its timings and how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TraceStatus = Literal["ok", "error", "client_disconnected", "interrupted"]
STATUSES: tuple[TraceStatus, ...] = ("ok", "error", "client_disconnected", "interrupted")

# Text kept per trace (prompt, thoughts, answer) is capped so a trace stays small.
TEXT_LIMIT = 32_000


@dataclass(frozen=True, slots=True)
class TraceRecord:
    request_id: str
    created_at: float  # unix seconds when the request arrived
    requested_model: str  # what the client asked for: auto, fast, deep or an alias
    model: str | None  # the model that answered (None when it failed before routing)
    mode: str | None
    route_reason: str | None
    route_estimates: dict[str, float] | None
    stream: bool
    status: TraceStatus
    finish_reason: str | None
    error_side: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    ttft_ms: float | None = None
    ttfa_ms: float | None = None
    thinking_ms: float | None = None
    e2e_ms: float | None = None
    decode_tps: float | None = None
    effective_tps: float | None = None
    itl_p50_ms: float | None = None
    itl_p95_ms: float | None = None
    itl_p99_ms: float | None = None
    input_tokens: int | None = None
    thinking_tokens: int | None = None
    answer_tokens: int | None = None
    tokens_estimated: bool = False
    max_ttfa_ms: float | None = None
    prompt: str = ""
    thinking: str = ""
    answer: str = ""
    progress: list[str] = field(default_factory=list)
    # The turn's tool calls ({id, name, arguments}) and what ponder did with the request
    # that the caller should know (notices: tools not offered, reasoning restored, …).
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What the request cost in USD, by part (None: the model has no price, so unknown);
    # estimated when a token count behind it was.
    cost_usd: float | None = None
    cost_input_usd: float | None = None
    cost_thinking_usd: float | None = None
    cost_answer_usd: float | None = None
    cost_estimated: bool = False
    # The chat this request is a turn of (the web UI sends one per conversation), or None.
    conversation_id: str | None = None
    # The front door the request came in by: chat_completions, messages (Anthropic), …
    door: str = "chat_completions"
    # The turn of the conversation this request answers (0 = the first), when the client
    # says (x-ponder-turn): a later request at turn k replaces turn k and every turn after
    # it (regenerate, edit-and-resend); None appends.
    turn_index: int | None = None

    @property
    def timed(self) -> bool:
        """Whether this request's timings say how fast its model is: it finished, and the
        reply was the model's (not a canned ``declined`` one, which takes no time)."""
        return (
            self.status == "ok"
            and self.finish_reason != "declined"
            and self.mode is not None
            and self.ttfa_ms is not None
        )

    def to_dict(self, *, with_text: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_text:
            data.pop("thinking")
        return data


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One conversation as a list shows it: its title is its first turn's prompt."""

    id: str
    title: str
    created_at: float  # its first request
    updated_at: float  # its latest request
    requests: int  # traces in it, replaced turns included


@dataclass(frozen=True, slots=True)
class ReasoningRecord:
    """A tool-call turn's parts (reasoning included), stored once per call id."""

    call_id: str
    request_id: str
    created_at: float
    parts: str  # ponder.parts_json encoding


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """A stored Responses API response: the conversation up to and including its output, so
    a later request's ``previous_response_id`` can continue it."""

    response_id: str
    request_id: str
    created_at: float
    messages: str  # ponder.parts_json.dumps_messages encoding
