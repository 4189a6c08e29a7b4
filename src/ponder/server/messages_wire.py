"""Anthropic Messages wire encoding of ponder events: the SSE event sequence, the
non-streaming ``message`` body and the error shape.

Blocks are numbered 0, 1, … in the order they open, as the API does. A run of ``thinking``
events is one ``thinking`` block (a new one when the provider names another segment), answer
text one ``text`` block, each tool call one ``tool_use`` block. A thinking block closes with
its signature: the provider's own when it signed the thoughts (Anthropic), passed through
unmodified, else ponder's token (:mod:`ponder.server.signing`), which restores the reasoning
part exactly when the client sends the block back. Redacted reasoning becomes a
``redacted_thinking`` block whose ``data`` is ponder's token. A tool call goes out whole when
it ends (start, its full ``input_json_delta``, stop), so calls of parallel streams never
interleave.

ponder's extras (route, timings, notes) ride in a ``ponder`` field of ``message_start``,
``message_delta`` and the body, which the SDKs keep as unknown fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.events import (
    Failed,
    Finished,
    Started,
    Thinking,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from ponder.pricing import Cost
from ponder.request import Part, ReasoningPart, TextPart, ToolCallPart
from ponder.server.signing import ThoughtSigner

# ponder's finish reasons -> ``stop_reason``.
_STOP_REASON: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "thinking_length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "cancelled": "end_turn",
    "declined": "end_turn",  # a canned reply from the embedded model: a normal answer
    "error": "end_turn",
}

# HTTP status -> Anthropic's error ``type``.
_ERROR_TYPE: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def stop_reason(reason: str) -> str:
    return _STOP_REASON.get(reason, "end_turn")


def stop_fields(finished: Finished) -> dict[str, str | None]:
    """``stop_reason`` and ``stop_sequence``: the client's stop sequence when the upstream
    said it stopped at one (else null, as Anthropic sends it)."""
    if finished.stop_sequence is not None:
        return {"stop_reason": "stop_sequence", "stop_sequence": finished.stop_sequence}
    return {"stop_reason": stop_reason(finished.finish_reason), "stop_sequence": None}


def error_type_for(status: int) -> str:
    if status in _ERROR_TYPE:
        return _ERROR_TYPE[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type_for(status), "message": message}}


def usage_json(usage: Usage | None, prompt_tokens: int) -> dict[str, Any]:
    """Anthropic's usage; ``output_tokens`` counts thoughts and answer, as the API does."""
    output = usage.output_tokens if usage is not None else 0
    prompt = usage.input_tokens if usage and usage.input_tokens is not None else prompt_tokens
    return {"input_tokens": prompt, "output_tokens": output}


def ponder_extra(
    started: Started,
    usage: Usage | None,
    finished: Finished | None,
    notes: Sequence[str],
    cost: Cost | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "request_id": started.request_id,
        "model": started.model,
        "mode": started.mode,
        "reason": started.reason,
    }
    if finished is not None:
        extra["finish_reason"] = finished.finish_reason
        extra["timings"] = finished.timings
    if usage is not None:
        extra["usage"] = {
            "input_tokens": usage.input_tokens,
            "thinking_tokens": usage.thinking_tokens,
            "answer_tokens": usage.answer_tokens,
            "estimated": usage.estimated,
        }
    if notes:
        extra["notes"] = list(notes)
    if cost is not None:
        extra["cost"] = cost.as_dict()
    return extra


def thinking_block(part: ReasoningPart, signer: ThoughtSigner, show: bool) -> dict[str, Any]:
    """The block a client gets for one reasoning part (and sends back to restore it)."""
    if part.redacted:
        return {"type": "redacted_thinking", "data": signer.sign(part, text_shown=False)}
    if part.signature and show and not part.state:
        # The provider's own signature over exactly this text: passed through unmodified.
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    return {
        "type": "thinking",
        "thinking": part.text if show else "",
        "signature": signer.sign(part, text_shown=show),
    }


def content_blocks(
    parts: Sequence[Part], signer: ThoughtSigner, show: bool
) -> list[dict[str, Any]]:
    """A finished turn's parts as the body's ``content``."""
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ReasoningPart):
            blocks.append(thinking_block(part, signer, show))
        elif isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCallPart):
            blocks.append(
                {"type": "tool_use", "id": part.id, "name": part.name, "input": _input(part)}
            )
    return blocks


def _input(call: ToolCallPart) -> Any:
    """A call's arguments as the object Anthropic clients expect (``{}`` when empty)."""
    if not call.arguments.strip():
        return {}
    try:
        value = json.loads(call.arguments)
    except ValueError:
        # A model wrote invalid JSON: hand it over as the one string it is rather than drop it.
        return {"_raw_arguments": call.arguments}
    return value if isinstance(value, dict) else {"_value": value}


def message_body(
    *,
    message_id: str,
    started: Started,
    content: list[dict[str, Any]],
    finished: Finished,
    usage: Usage | None,
    prompt_tokens: int,
    notes: Sequence[str],
    cost: Cost | None = None,
) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": started.model,
        "content": content,
        **stop_fields(finished),
        "usage": usage_json(usage, prompt_tokens),
        "ponder": ponder_extra(started, usage, finished, notes, cost),
    }


def sse(kind: str, data: Mapping[str, Any]) -> bytes:
    payload = json.dumps({"type": kind, **data}, separators=(",", ":"))
    return f"event: {kind}\ndata: {payload}\n\n".encode()


@dataclass(slots=True)
class _Thoughts:
    """The thinking block being streamed."""

    block: int | None  # the provider's segment id
    index: int | None = None  # our block index, once the block has opened
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    redacted: bool = False
    state: dict[str, Any] = field(default_factory=dict)


class MessageStreamEncoder:
    """Encodes one request's events as Messages SSE events."""

    def __init__(
        self,
        message_id: str,
        signer: ThoughtSigner,
        show_thinking: bool,
        producer: tuple[str | None, str | None],
    ) -> None:
        self.message_id = message_id
        self.signer = signer
        self.show = show_thinking
        self.provider, self.model = producer
        self._next = 0  # the next block index
        self._open: str | None = None  # "thinking", "text" or "tool": the block open now
        self._thoughts: _Thoughts | None = None
        self._text_index = 0
        # Tool calls stream as the model writes them while theirs is the open block: a
        # block opens at the call's start, its argument fragments are input_json_delta, it
        # stops at the call's end. A call that starts while another's block is open (an
        # upstream interleaving parallel calls) is sent whole once that block stops.
        self._tool_call: int | None = None  # the call (ponder's index) whose block is open
        self._tool_index = 0  # its block index
        self._streamed: set[int] = set()  # calls whose block was opened here
        self._held: set[int] = set()  # calls started while another's block was open
        self._ready: list[ToolCallEnd] = []  # held calls complete, waiting to be sent

    def _take_index(self) -> int:
        index = self._next
        self._next += 1
        return index

    def start(self, started: Started, prompt_tokens: int) -> bytes:
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": started.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 0},
            "ponder": ponder_extra(started, None, None, ()),
        }
        return sse("message_start", {"message": message})

    def thinking(self, event: Thinking) -> bytes:
        out = b""
        current = self._thoughts
        if current is None or (event.block is not None and event.block != current.block):
            out += self.close()
            current = self._thoughts = _Thoughts(event.block)
            self._open = "thinking"
        if event.signature:
            current.signature = event.signature
        if event.redacted:
            current.redacted = True
        if event.state:
            current.state.update(event.state)
        if event.text:
            current.text.append(event.text)
            if self.show and not current.redacted:
                if current.index is None:
                    current.index = self._take_index()
                    block = {"type": "thinking", "thinking": "", "signature": ""}
                    out += sse("content_block_start",
                               {"index": current.index, "content_block": block})  # fmt: skip
                delta = {"type": "thinking_delta", "thinking": event.text}
                out += sse("content_block_delta", {"index": current.index, "delta": delta})
        return out

    def answer(self, text: str) -> bytes:
        out = b""
        if self._open != "text":
            out += self.close()
            self._open = "text"
            self._text_index = self._take_index()
            block = {"type": "text", "text": ""}
            out += sse("content_block_start",
                       {"index": self._text_index, "content_block": block})  # fmt: skip
        delta = {"type": "text_delta", "text": text}
        return out + sse("content_block_delta", {"index": self._text_index, "delta": delta})

    def tool_call_start(self, event: ToolCallStart) -> bytes:
        if self._open == "tool":
            self._held.add(event.index)
            return b""
        out = self.close()
        self._open, self._tool_call = "tool", event.index
        self._tool_index = self._take_index()
        self._streamed.add(event.index)
        block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
        return out + sse("content_block_start",
                         {"index": self._tool_index, "content_block": block})  # fmt: skip

    def tool_call_delta(self, event: ToolCallDelta) -> bytes:
        if self._open != "tool" or event.index != self._tool_call or not event.arguments:
            return b""  # a held call's arguments come whole with its end
        delta = {"type": "input_json_delta", "partial_json": event.arguments}
        return sse("content_block_delta", {"index": self._tool_index, "delta": delta})

    def tool_call_end(self, event: ToolCallEnd) -> bytes:
        if event.index in self._streamed:
            return self.close() if self._open == "tool" and event.index == self._tool_call else b""
        self._held.discard(event.index)
        if self._open == "tool":
            self._ready.append(event)
            return b""
        return self.close() + self._whole_call(event)

    def tool_call(self, event: ToolCallEnd) -> bytes:
        """A whole call at once (its arguments normalised to an object, as in a body)."""
        return self.close() + self._whole_call(event)

    def _whole_call(self, event: ToolCallEnd) -> bytes:
        index = self._take_index()
        block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
        arguments = json.dumps(_input(ToolCallPart(event.id, event.name, event.arguments)))
        delta = {"type": "input_json_delta", "partial_json": arguments}
        return (
            sse("content_block_start", {"index": index, "content_block": block})
            + sse("content_block_delta", {"index": index, "delta": delta})
            + sse("content_block_stop", {"index": index})
        )

    def close(self) -> bytes:
        """Close the open block (a thinking block gets its signature first)."""
        kind, self._open = self._open, None
        if kind == "text":
            return sse("content_block_stop", {"index": self._text_index})
        if kind == "tool":
            self._tool_call = None
            out = sse("content_block_stop", {"index": self._tool_index})
            ready, self._ready = self._ready, []
            return out + b"".join(self._whole_call(call) for call in ready)
        thoughts, self._thoughts = self._thoughts, None
        if kind != "thinking" or thoughts is None:
            return b""
        part = ReasoningPart(
            "".join(thoughts.text),
            provider=self.provider,
            model=self.model,
            signature=thoughts.signature,
            redacted=thoughts.redacted,
            state=dict(thoughts.state) or None,
        )
        block = thinking_block(part, self.signer, self.show)
        out = b""
        if thoughts.index is None:  # nothing streamed yet: the whole block now
            thoughts.index = self._take_index()
            opening = dict(block)
            if opening["type"] == "thinking":
                opening["signature"] = ""
            out += sse("content_block_start",
                       {"index": thoughts.index, "content_block": opening})  # fmt: skip
        if block["type"] == "thinking":
            delta = {"type": "signature_delta", "signature": block["signature"]}
            out += sse("content_block_delta", {"index": thoughts.index, "delta": delta})
        return out + sse("content_block_stop", {"index": thoughts.index})

    def finished(
        self,
        started: Started,
        event: Finished,
        usage: Usage | None,
        prompt_tokens: int,
        notes: Sequence[str],
        cost: Cost | None = None,
    ) -> bytes:
        delta = stop_fields(event)
        data = {
            "delta": delta,
            "usage": usage_json(usage, prompt_tokens),
            "ponder": ponder_extra(started, usage, event, notes, cost),
        }
        return self.close() + sse("message_delta", data) + sse("message_stop", {})

    def failed(self, event: Failed, status: int) -> bytes:
        return self.close() + sse("error", error_body(status, event.message))
