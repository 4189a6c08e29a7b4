"""One request as the gateway sees it: the events so far, turned into a trace at the end.

Both sinks (SSE and the JSON body) feed an :class:`Exchange`; its per-delta methods only
append, and :meth:`Exchange.record` builds the :class:`TraceRecord` once the stream is over,
however it ended (finished, failed, client gone, server shutting down).
"""

from __future__ import annotations

import time

from ponder.config import Price
from ponder.errors import redact
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
    Usage,
    now_ns,
)
from ponder.meter import NS_PER_MS
from ponder.pricing import cost_of
from ponder.request import ChatRequest, Message
from ponder.server.otel import ChildSpan
from ponder.store.record import TraceRecord, TraceStatus, clip
from ponder.tokens import estimate_tokens
from ponder.turn import TurnAssembler

ARGUMENTS_LIMIT = 4_000  # characters of a tool call's arguments kept in the trace


class Exchange:
    __slots__ = (
        "answer_parts",
        "child_spans",
        "conversation_id",
        "created_at",
        "door",
        "first_answer_ns",
        "first_token_ns",
        "last_token_ns",
        "longest_gap_ns",
        "notes",
        "progress",
        "prompt_token_count",
        "request",
        "started",
        "stream",
        "terminal",
        "thinking_parts",
        "tool_calls",
        "trace_context",
        "turn",
        "turn_index",
        "usage",
    )

    def __init__(self, request: ChatRequest, stream: bool, door: str = "chat_completions") -> None:
        self.request = request
        self.stream = stream
        self.door = door  # the front door the request came in by (see TraceRecord.door)
        self.created_at = time.time()
        self.started: Started | None = None
        self.usage: Usage | None = None
        self.terminal: Finished | Failed | None = None
        self.thinking_parts: list[str] = []
        self.answer_parts: list[str] = []
        self.progress: list[str] = []
        self.first_token_ns: int | None = None
        self.first_answer_ns: int | None = None
        # The latest token and the longest quiet spell so far (from the start to the first
        # token, or between two tokens): what stall detection looks at.
        self.last_token_ns: int | None = None
        self.longest_gap_ns = 0
        self.tool_calls: list[ToolCallEnd] = []
        self.notes: list[str] = []
        # The assistant turn in order (reasoning with its provider state, text, calls), for
        # the reasoning memory.
        self.turn = TurnAssembler()
        # Spans inside this request (a retry, a fallback, a hedge's losing leg): the sink
        # appends one per such event and the OpenTelemetry span gets them as children.
        self.child_spans: list[ChildSpan] = []
        self.conversation_id: str | None = None  # the client's x-ponder-conversation
        self.turn_index: int | None = None  # and its x-ponder-turn
        self.trace_context: dict[str, str] = {}  # the caller's traceparent/tracestate headers
        self.prompt_token_count: int | None = None  # prompt_tokens(), once computed

    def token(self, at_ns: int) -> None:
        previous = self.last_token_ns or (self.started.at_ns if self.started else at_ns)
        self.longest_gap_ns = max(self.longest_gap_ns, at_ns - previous)
        self.last_token_ns = at_ns

    def thought(self, event: Thinking) -> None:
        if event.text:
            self.token(event.at_ns)
            if self.first_token_ns is None:
                self.first_token_ns = event.at_ns
            self.thinking_parts.append(event.text)
        self.turn.feed(event)

    def answered(self, text: str, at_ns: int) -> None:
        self.token(at_ns)
        if self.first_answer_ns is None:
            self.first_answer_ns = at_ns
            if self.first_token_ns is None:
                self.first_token_ns = at_ns
        self.answer_parts.append(text)
        self.turn.add_text(text)

    def called(self, event: ToolCallEnd) -> None:
        self.token(event.at_ns)
        if self.first_answer_ns is None:  # a tool call is the turn's answer (see meter.py)
            self.first_answer_ns = event.at_ns
            if self.first_token_ns is None:
                self.first_token_ns = event.at_ns
        self.tool_calls.append(event)
        self.turn.feed(event)

    def observe(self, event: Event) -> None:
        """Take one event of the stream into account (for sinks that need no fast path)."""
        if isinstance(event, Answer):
            self.answered(event.text, event.at_ns)
        elif isinstance(event, Thinking):
            self.thought(event)
        elif isinstance(event, ToolCallEnd):
            self.called(event)
        elif isinstance(event, Notice):
            self.notes.append(event.text)
        elif isinstance(event, Progress):
            self.progress.append(event.label)
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Finished | Failed):
            self.terminal = event

    @property
    def thinking_text(self) -> str:
        return "".join(self.thinking_parts)

    @property
    def answer_text(self) -> str:
        return "".join(self.answer_parts)

    def prompt_tokens(self) -> int:
        """The prompt's estimated tokens (the request does not change: computed once; a door
        asks for it in its last frame, the cost and the trace ask again)."""
        if self.prompt_token_count is None:
            text = "\n".join([message_text(m) for m in self.request.messages])
            self.prompt_token_count = estimate_tokens(text)
        return self.prompt_token_count

    def status(self) -> TraceStatus:
        return "ok" if isinstance(self.terminal, Finished) else "error"

    def record(
        self, status: TraceStatus, secrets: tuple[str, ...] = (), price: Price | None = None
    ) -> TraceRecord:
        """The trace; ``status`` says how the stream ended (``client_disconnected`` ...)."""
        started, terminal, usage = self.started, self.terminal, self.usage
        timings = _partial_timings(self) if not isinstance(terminal, Finished) else terminal.timings
        timings = timings or {}
        thinking, answer = self.thinking_text, self.answer_text
        if usage is None:  # the stream was cut before the engine's usage: estimate as it does
            output = answer + "".join(call.name + call.arguments for call in self.tool_calls)
            usage = Usage(None, estimate_tokens(thinking), estimate_tokens(output), estimated=True)
        cost = cost_of(price, usage, self.prompt_tokens())
        if isinstance(terminal, Finished):
            finish_reason: str | None = terminal.finish_reason
        elif isinstance(terminal, Failed):
            finish_reason = "error"
        else:
            finish_reason = "cancelled"
        error_side = error_code = error_message = None
        if isinstance(terminal, Failed):
            error_side, error_code = terminal.side, terminal.code
            error_message = redact(terminal.message, secrets)
        elif status == "client_disconnected":
            error_side, error_code, error_message = (
                "client",
                "client_disconnected",
                "client disconnected",
            )
        elif status == "interrupted":
            error_side, error_code = "ponder", "interrupted"
            error_message = "server shut down before the stream finished"
        return TraceRecord(
            request_id=self.request.request_id,
            created_at=self.created_at,
            requested_model=self.request.model,
            model=started.model if started else None,
            mode=started.mode if started else None,
            route_reason=started.reason if started else None,
            route_estimates=started.estimates if started else None,
            stream=self.stream,
            status=status,
            finish_reason=finish_reason,
            error_side=error_side,
            error_code=error_code,
            error_message=error_message,
            ttft_ms=timings.get("ttft_ms"),
            ttfa_ms=timings.get("ttfa_ms"),
            thinking_ms=timings.get("thinking_ms"),
            e2e_ms=timings.get("e2e_ms"),
            decode_tps=timings.get("decode_tps"),
            effective_tps=timings.get("effective_tps"),
            itl_p50_ms=timings.get("itl_p50_ms"),
            itl_p95_ms=timings.get("itl_p95_ms"),
            itl_p99_ms=timings.get("itl_p99_ms"),
            input_tokens=usage.input_tokens,
            thinking_tokens=usage.thinking_tokens,
            answer_tokens=usage.answer_tokens,
            tokens_estimated=usage.estimated,
            max_ttfa_ms=self.request.max_ttfa_ms,
            prompt=clip(redact(self.request.last_user_text, secrets)),
            thinking=clip(redact(thinking, secrets)),
            answer=clip(redact(answer, secrets)),
            progress=list(self.progress),
            tool_calls=[
                {
                    "id": call.id,
                    "name": call.name,
                    "arguments": clip(redact(call.arguments, secrets), ARGUMENTS_LIMIT),
                }
                for call in self.tool_calls
            ],
            notes=list(self.notes),
            cost_usd=cost.total_usd if cost else None,
            cost_input_usd=cost.input_usd if cost else None,
            cost_thinking_usd=cost.thinking_usd if cost else None,
            cost_answer_usd=cost.answer_usd if cost else None,
            cost_estimated=cost.estimated if cost else False,
            conversation_id=self.conversation_id,
            door=self.door,
            turn_index=self.turn_index,
        )


def message_text(message: Message) -> str:
    """Everything in a message that counts as input tokens (text, results, calls)."""
    pieces = [message.content]
    pieces.extend(r.content for r in message.tool_results)
    pieces.extend(c.name + c.arguments for c in message.tool_calls)
    return "".join(pieces)


def _partial_timings(x: Exchange) -> dict[str, float | None]:
    """Timings of a stream that never finished: measured up to now (or its failure)."""
    if x.started is None:
        return {}
    start = x.started.at_ns
    end = x.terminal.at_ns if x.terminal is not None else now_ns()

    def since(at: int | None) -> float | None:
        return None if at is None else (at - start) / NS_PER_MS

    ttft, ttfa = since(x.first_token_ns), since(x.first_answer_ns)
    thinking = (ttfa - ttft) if (ttfa is not None and ttft is not None) else None
    if thinking is None and x.thinking_parts and ttft is not None:
        thinking = (end - start) / NS_PER_MS - ttft
    return {"ttft_ms": ttft, "ttfa_ms": ttfa, "thinking_ms": thinking, "e2e_ms": since(end)}
