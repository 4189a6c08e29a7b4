"""OpenAI Responses wire encoding of ponder events: the streaming event sequence and the
``response`` object.

Output items in the order they open: a run of thoughts is one ``reasoning`` item (its text as
``summary_text`` when the request asked for a summary, else as ``reasoning_text`` content;
ponder's thoughts are the model's own words, not a summary), answer text one ``message``
item, each tool call one ``function_call`` item whose arguments stream as deltas. With
``include: ["reasoning.encrypted_content"]`` a reasoning item carries ponder's token
(:mod:`ponder.server.signing`: the reasoning part with its provider state and text, signed)
in ``encrypted_content``, which restores it exactly when the client sends the item back.

Every event carries ``sequence_number``; ponder's extras ride in a ``ponder`` field of the
response object.
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
from ponder.turn import TurnAssembler

# ponder finish reasons that leave a response incomplete, with the API's reason.
_INCOMPLETE: Mapping[str, str] = {
    "length": "max_output_tokens",
    "thinking_length": "max_output_tokens",
    "content_filter": "content_filter",
}


@dataclass(frozen=True, slots=True)
class Shell:
    """What a response echoes of its request, and how its output is written."""

    response_id: str
    created_at: float
    echo: Mapping[str, Any]  # instructions, tools, tool_choice, … as the request sent them
    signer: ThoughtSigner
    summary: bool  # thoughts as summary_text (reasoning.summary was set)
    encrypted: bool  # include reasoning.encrypted_content
    producer: tuple[str | None, str | None] = (None, None)

    def item_id(self, kind: str, index: int) -> str:
        return f"{kind}_{self.response_id.removeprefix('resp_')}_{index}"


def usage_json(usage: Usage | None, prompt_tokens: int) -> dict[str, Any]:
    thinking = usage.thinking_tokens if usage else 0
    output = usage.output_tokens if usage else 0
    prompt = usage.input_tokens if usage and usage.input_tokens is not None else prompt_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": thinking},
        "total_tokens": prompt + output,
    }


def response_object(
    shell: Shell,
    *,
    model: str,
    status: str,
    output: Sequence[Mapping[str, Any]],
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete: str | None = None,
    ponder: dict[str, Any] | None = None,
) -> dict[str, Any]:
    echo = shell.echo
    body: dict[str, Any] = {
        "id": shell.response_id,
        "object": "response",
        "created_at": int(shell.created_at),
        "status": status,
        "model": model,
        "output": list(output),
        "usage": usage,
        "error": error,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": echo.get("instructions"),
        "tools": list(echo.get("tools") or []),
        "tool_choice": echo.get("tool_choice") or "auto",
        "parallel_tool_calls": echo.get("parallel_tool_calls", True) is not False,
        "previous_response_id": echo.get("previous_response_id"),
        "reasoning": echo.get("reasoning") or {"effort": None, "summary": None},
        "store": echo.get("store", True) is not False,
        "temperature": echo.get("temperature"),
        "top_p": echo.get("top_p"),
        "max_output_tokens": echo.get("max_output_tokens"),
        "text": echo.get("text") or {"format": {"type": "text"}},
        "truncation": "disabled",
        "metadata": echo.get("metadata") or {},
    }
    if ponder is not None:
        body["ponder"] = ponder
    return body


def ponder_extra(
    started: Started,
    finished: Finished | None,
    usage: Usage | None,
    notes: Sequence[str],
    cost: Cost | None = None,
) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "request_id": started.request_id,
        "model": started.model,
        "mode": started.mode,
        "reason": started.reason,
        "notes": list(notes),
    }
    if finished is not None:
        extra.update(finish_reason=finished.finish_reason, timings=finished.timings)
    if usage is not None:
        extra["usage"] = {
            "input_tokens": usage.input_tokens,
            "thinking_tokens": usage.thinking_tokens,
            "answer_tokens": usage.answer_tokens,
            "estimated": usage.estimated,
        }
    if cost is not None:
        extra["cost"] = cost.as_dict()
    return extra


def reasoning_item(shell: Shell, item_id: str, part: ReasoningPart) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if part.text and shell.summary:
        item["summary"] = [{"type": "summary_text", "text": part.text}]
    elif part.text:
        item["content"] = [{"type": "reasoning_text", "text": part.text}]
    if shell.encrypted:
        item["encrypted_content"] = shell.signer.sign(part, text_shown=False)
    return item


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [_text_part(text)] if status == "completed" else [],
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": "fc_" + call_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_items(shell: Shell, parts: Sequence[Part]) -> list[dict[str, Any]]:
    """A finished turn's parts as the response's ``output``."""
    items: list[dict[str, Any]] = []
    for part in parts:
        index = len(items)
        if isinstance(part, ReasoningPart):
            items.append(reasoning_item(shell, shell.item_id("rs", index), part))
        elif isinstance(part, TextPart) and part.text:
            items.append(message_item(shell.item_id("msg", index), part.text))
        elif isinstance(part, ToolCallPart):
            items.append(call_item(part.id, part.name, part.arguments, "completed"))
    return items


def incomplete_reason(finished: Finished) -> str | None:
    return _INCOMPLETE.get(finished.finish_reason)


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
                content_index=0, part=_text_part(""),
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
                "response.content_part.done", **ids, content_index=0, part=_text_part(text)
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
