"""OpenAI Responses wire shapes: the ``response`` object and its output items (the stream of
events that builds them is :mod:`ponder.server.responses_stream`).

A ``reasoning`` item holds a run of thoughts (its text as ``summary_text`` when the request
asked for a summary, else as ``reasoning_text`` content; ponder's thoughts are the model's
own words, not a summary), a ``message`` item answer text, a ``function_call`` item one tool
call. With
``include: ["reasoning.encrypted_content"]`` a reasoning item carries ponder's token
(:mod:`ponder.server.signing`: the reasoning part with its provider state and text, signed)
in ``encrypted_content``, which restores it exactly when the client sends the item back.

ponder's extras ride in a ``ponder`` field of the response object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.events import Finished, Started, Usage
from ponder.pricing import Cost
from ponder.request import Part, ReasoningPart, TextPart, ToolCallPart
from ponder.server.signing import ThoughtSigner

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
        "content": [text_part(text)] if status == "completed" else [],
    }


def text_part(text: str) -> dict[str, Any]:
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
