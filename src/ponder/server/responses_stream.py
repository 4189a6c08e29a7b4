"""The OpenAI Responses streaming event sequence: one request's ponder events as SSE events
that open, fill and close output items (shapes in :mod:`ponder.server.responses_wire`).

A run of thoughts opens one ``reasoning`` item, answer text one ``message`` item, each tool call
one ``function_call`` item whose arguments stream as deltas; an item closes when the next one
opens, and the stream ends with ``response.completed``, ``response.incomplete`` or
``response.failed`` carrying the whole response object. Every event carries
``sequence_number``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
from ponder.request import ReasoningPart
from ponder.server.responses_wire import (
    Shell,
    call_item,
    incomplete_reason,
    message_item,
    ponder_extra,
    reasoning_item,
    response_object,
    text_part,
    usage_json,
)
from ponder.turn import TurnAssembler


@dataclass(slots=True)
class _Open:
    kind: str  # "reasoning" or "message"
    index: int
    item_id: str
    block: int | None = None
    thoughts: TurnAssembler | None = None
    text: list[str] = field(default_factory=list)
    started_part: bool = False


@dataclass(slots=True)
class _Call:
    index: int
    call_id: str
    name: str


class ResponseStreamEncoder:
    """Encodes one request's events as Responses SSE events."""

    def __init__(self, shell: Shell) -> None:
        self.shell = shell
        self._seq = 0
        self._next = 0
        self._open: _Open | None = None
        self._calls: dict[int, _Call] = {}
        self._done: dict[int, dict[str, Any]] = {}

    def _event(self, kind: str, **data: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **data}
        self._seq += 1
        return f"event: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()

    def _take(self) -> int:
        index = self._next
        self._next += 1
        return index

    def start(self, started: Started) -> bytes:
        response = response_object(
            self.shell,
            model=started.model,
            status="in_progress",
            output=[],
            ponder=ponder_extra(started, None, None, ()),
        )
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    # -- reasoning and text

    def thinking(self, event: Thinking) -> bytes:
        out = b""
        current = self._open
        if (
            current is None
            or current.kind != "reasoning"
            or (event.block is not None and event.block != current.block)
        ):
            out += self._close()
            index = self._take()
            thoughts = TurnAssembler(*self.shell.producer)
            current = self._open = _Open(
                "reasoning", index, self.shell.item_id("rs", index), event.block, thoughts
            )
            item = {"id": current.item_id, "type": "reasoning", "summary": []}
            out += self._event("response.output_item.added", output_index=index, item=item)
        assert current.thoughts is not None
        current.thoughts.feed(event)
        if not event.text:
            return out
        ids = {"item_id": current.item_id, "output_index": current.index}
        if self.shell.summary:
            if not current.started_part:
                current.started_part = True
                part = {"type": "summary_text", "text": ""}
                out += self._event(
                    "response.reasoning_summary_part.added", **ids, summary_index=0, part=part
                )
            return out + self._event(
                "response.reasoning_summary_text.delta", **ids, summary_index=0, delta=event.text
            )
        if not current.started_part:
            current.started_part = True
            part = {"type": "reasoning_text", "text": ""}
            out += self._event("response.content_part.added", **ids, content_index=0, part=part)
        return out + self._event(
            "response.reasoning_text.delta", **ids, content_index=0, delta=event.text
        )

    def answer(self, text: str) -> bytes:
        out = b""
        current = self._open
        if current is None or current.kind != "message":
            out += self._close()
            index = self._take()
            current = self._open = _Open("message", index, self.shell.item_id("msg", index))
            item = message_item(current.item_id, "", "in_progress")
            out += self._event("response.output_item.added", output_index=index, item=item)
            out += self._event(
                "response.content_part.added", item_id=current.item_id, output_index=index,
                content_index=0, part=text_part(""),
            )  # fmt: skip
        current.text.append(text)
        return out + self._event(
            "response.output_text.delta", item_id=current.item_id, output_index=current.index,
            content_index=0, delta=text, logprobs=[],
        )  # fmt: skip

    def _close(self) -> bytes:
        current, self._open = self._open, None
        if current is None:
            return b""
        ids = {"item_id": current.item_id, "output_index": current.index}
        out = b""
        if current.kind == "message":
            text = "".join(current.text)
            out += self._event(
                "response.output_text.done", **ids, content_index=0, text=text, logprobs=[]
            )
            out += self._event(
                "response.content_part.done", **ids, content_index=0, part=text_part(text)
            )
            item = message_item(current.item_id, text)
        else:
            assert current.thoughts is not None
            (part,) = [p for p in current.thoughts.parts if isinstance(p, ReasoningPart)]
            if current.started_part and self.shell.summary:
                done = {"type": "summary_text", "text": part.text}
                out += self._event(
                    "response.reasoning_summary_text.done", **ids, summary_index=0, text=part.text
                )
                out += self._event(
                    "response.reasoning_summary_part.done", **ids, summary_index=0, part=done
                )
            elif current.started_part:
                done = {"type": "reasoning_text", "text": part.text}
                out += self._event(
                    "response.reasoning_text.done", **ids, content_index=0, text=part.text
                )
                out += self._event("response.content_part.done", **ids, content_index=0, part=done)
            item = reasoning_item(self.shell, current.item_id, part)
        self._done[current.index] = item
        return out + self._event(
            "response.output_item.done", output_index=current.index, item=item
        )

    # -- tool calls

    def tool_call_start(self, event: ToolCallStart) -> bytes:
        out = self._close()
        call = self._calls[event.index] = _Call(self._take(), event.id, event.name)
        item = call_item(call.call_id, call.name, "", "in_progress")
        return out + self._event("response.output_item.added", output_index=call.index, item=item)

    def tool_call_delta(self, event: ToolCallDelta) -> bytes:
        call = self._calls.get(event.index)
        if call is None:
            return b""
        return self._event(
            "response.function_call_arguments.delta", item_id="fc_" + call.call_id,
            output_index=call.index, delta=event.arguments,
        )  # fmt: skip

    def tool_call_end(self, event: ToolCallEnd) -> bytes:
        out = b""
        call = self._calls.get(event.index)
        if call is None:  # an end without a start: open it now
            out += self.tool_call_start(ToolCallStart(event.index, event.id, event.name))
            call = self._calls[event.index]
        del self._calls[event.index]
        item = call_item(call.call_id, call.name, event.arguments, "completed")
        self._done[call.index] = item
        return (
            out
            + self._event(
                "response.function_call_arguments.done", item_id=item["id"],
                output_index=call.index, arguments=event.arguments, name=call.name,
            )
            + self._event("response.output_item.done", output_index=call.index, item=item)
        )

    # -- the end

    def output(self) -> list[dict[str, Any]]:
        return [self._done[i] for i in sorted(self._done)]

    def finished(
        self,
        started: Started,
        event: Finished,
        usage: Usage | None,
        prompt_tokens: int,
        notes: Sequence[str],
        cost: Cost | None = None,
    ) -> bytes:
        out = self._close()
        incomplete = incomplete_reason(event)
        response = response_object(
            self.shell,
            model=started.model,
            status="incomplete" if incomplete else "completed",
            output=self.output(),
            usage=usage_json(usage, prompt_tokens),
            incomplete=incomplete,
            ponder=ponder_extra(started, event, usage, notes, cost),
        )
        kind = "response.incomplete" if incomplete else "response.completed"
        return out + self._event(kind, response=response)

    def failed(self, started: Started, event: Failed, code: str) -> bytes:
        out = self._close()
        response = response_object(
            self.shell,
            model=started.model,
            status="failed",
            output=self.output(),
            error={"code": code, "message": event.message},
            ponder=ponder_extra(started, None, None, ()),
        )
        return out + self._event("response.failed", response=response)
