"""Replay upstreams for agent loops that validate requests as strictly as the real APIs.

Both play the same scripted "thinking model" doing a two-query SQL task: for each round of
tool results in the conversation so far it thinks, then calls ``run_sql`` with the next
query; after the last one it thinks and answers with what the tool returned. What they
refuse, with the provider's own error shape and words:

- :func:`openai_thinking_app` (DeepSeek / Kimi with thinking on): an assistant message with
  ``tool_calls`` but no ``reasoning_content`` (400, "thinking is enabled but
  reasoning_content is missing in assistant tool call message at index N"); tool calls not
  answered by tool messages, or tool messages answering no call (OpenAI's 400).
- :func:`anthropic_app` (Messages API with extended thinking): a final assistant turn with
  ``tool_use`` that does not start with its thinking block; a thinking block whose signature
  is not the one issued (the signature is an HMAC of the text: any change breaks it); a
  ``tool_result`` without its ``tool_use``; ``tool_choice`` forcing a call or a
  ``temperature`` under thinking.

Both record every request, and every reasoning text they issued per call id, so a test can
check that what came back was exactly what was sent (``Upstream.mismatches``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

QUERIES = (
    "SELECT COUNT(*) AS n FROM orders",
    "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status",
)
TOOL = {
    "type": "function",
    "function": {
        "name": "run_sql",
        "description": "Run a read-only SQL query on the shop database; returns rows as JSON.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}
_SECRET = b"replay-signing-key"


def thought(round_: int) -> str:
    if round_ < len(QUERIES):
        return f"Round {round_}: I need the database for this. Next I run: {QUERIES[round_]}. "
    return "I have both results; now I answer with them. "


def answer(results: list[str]) -> str:
    return "Answer: " + " | ".join(results)


def sign(text: str) -> str:
    return base64.b64encode(hmac.new(_SECRET, text.encode(), hashlib.sha256).digest()).decode()


@dataclass
class Upstream:
    requests: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # call id -> reasoning text
    mismatches: list[str] = field(default_factory=list)
    calls: int = 0

    def next_call_id(self, prefix: str) -> str:
        self.calls += 1
        return f"{prefix}{self.calls:04d}"


def _round_results_openai(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content")) for m in messages if m.get("role") == "tool"]


# -- OpenAI-compatible thinking server (DeepSeek / Kimi rules) --------------------------------


def _openai_error(message: str, status: int = 400) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return JSONResponse({"error": error}, status_code=status)


def _openai_refusal(up: Upstream, body: dict[str, Any]) -> str | None:
    messages = body.get("messages", [])
    thinking = (body.get("thinking") or {}).get("type") == "enabled"
    pending: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a"
                    " preceeding message with 'tool_calls'."
                )
            pending.remove(call_id)
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages"
                " responding to each 'tool_call_id'. The following tool_call_ids did not have"
                f" response messages: {', '.join(pending)}"
            )
        calls = message.get("tool_calls") or []
        if role == "assistant" and calls:
            reasoning = message.get("reasoning_content")
            if thinking and not reasoning:
                return (
                    "thinking is enabled but reasoning_content is missing in assistant tool"
                    f" call message at index {i}"
                )
            for call in calls:
                issued = up.issued.get(call["id"])
                if issued is not None and reasoning != issued:
                    up.mismatches.append(f"{call['id']}: {reasoning!r} != {issued!r}")
            pending = [c["id"] for c in calls]
    return None


def openai_thinking_app(up: Upstream) -> Starlette:
    async def completions(request: Request) -> Response:
        body = json.loads(await request.body())
        up.requests.append(body)
        refusal = _openai_refusal(up, body)
        if refusal is not None:
            up.refusals.append(refusal)
            return _openai_error(refusal)
        results = _round_results_openai(body["messages"])
        round_ = len(results)
        think = thought(round_)
        call: dict[str, Any] | None = None
        if round_ < len(QUERIES):
            call_id = up.next_call_id("call_")
            up.issued[call_id] = think
            arguments = json.dumps({"query": QUERIES[round_]})
            call = {"id": call_id, "name": "run_sql", "arguments": arguments}
        text = None if call else answer(results)
        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": text,
                "reasoning_content": think,
            }
            if call:
                message["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                ]
            choice = {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if call else "stop",
            }
            usage = {"prompt_tokens": 40, "completion_tokens": 30}
            return JSONResponse({"id": "c", "object": "chat.completion", "choices": [choice],
                                 "usage": usage})  # fmt: skip
        return StreamingResponse(_openai_frames(think, call, text), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


async def _openai_frames(
    think: str, call: dict[str, Any] | None, text: str | None
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = {"id": "c", "object": "chat.completion.chunk", "choices": [choice], **extra}
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    third = len(think) // 3
    for piece in (think[:third], think[third : 2 * third], think[2 * third :]):
        yield chunk({"reasoning_content": piece})
    if call is not None:
        head = {"index": 0, "id": call["id"], "type": "function",
                "function": {"name": call["name"], "arguments": ""}}  # fmt: skip
        yield chunk({"tool_calls": [head]})
        args = call["arguments"]
        for start in range(0, len(args), 7):
            fragment = {"index": 0, "function": {"arguments": args[start : start + 7]}}
            yield chunk({"tool_calls": [fragment]})
        yield chunk({}, "tool_calls")
    else:
        assert text is not None
        for start in range(0, len(text), 12):
            yield chunk({"content": text[start : start + 12]})
        yield chunk({}, "stop")
    usage = {"prompt_tokens": 40, "completion_tokens": 30,
             "completion_tokens_details": {"reasoning_tokens": 20}}  # fmt: skip
    obj = {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": usage}
    yield b"data: " + json.dumps(obj).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


# -- Anthropic Messages with extended thinking ---------------------------------------------------


def _anthropic_error(message: str, status: int = 400) -> JSONResponse:
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    return JSONResponse(body, status_code=status)


def _anthropic_refusal(up: Upstream, body: dict[str, Any]) -> str | None:
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    messages = body.get("messages", [])
    if thinking:
        choice = (body.get("tool_choice") or {}).get("type")
        if choice in ("any", "tool"):
            return "Thinking may not be enabled when tool_choice forces tool use."
        if "temperature" in body:
            return (
                "`temperature` may only be set to 1 when thinking is enabled or in interleaved"
                " thinking mode. Please consult our documentation at"
                " https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility"
            )
    previous_uses: list[str] = []
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"),
                         default=None)  # fmt: skip
    for i, message in enumerate(messages):
        content = message["content"]
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        if message["role"] == "user":
            for j, block in enumerate(blocks):
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in (
                    previous_uses
                ):
                    return (
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in"
                        f" `tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result`"
                        " block must have a corresponding `tool_use` block in the previous"
                        " message."
                    )
            continue
        uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        previous_uses = uses
        for j, block in enumerate(blocks):
            if block.get("type") == "thinking":
                if block.get("signature") != sign(block.get("thinking", "")):
                    return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                for call_id in uses:
                    issued = up.issued.get(call_id)
                    if issued is not None and block.get("thinking") != issued:
                        up.mismatches.append(f"{call_id}: thinking changed")
        if thinking and i == last_assistant and uses:
            first = blocks[0].get("type")
            if first not in ("thinking", "redacted_thinking"):
                return (
                    f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`,"
                    f" but found `{first}`. When `thinking` is enabled, a final `assistant`"
                    " message must start with a thinking block (preceeding the lastmost set of"
                    " `tool_use` and `tool_result` blocks). We recommend you include thinking"
                    " blocks from previous turns. To avoid this requirement, disable `thinking`."
                    " Please consult our documentation at"
                    " https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                )
    return None


def anthropic_app(up: Upstream) -> Starlette:
    async def messages(request: Request) -> Response:
        body = json.loads(await request.body())
        up.requests.append(body)
        refusal = _anthropic_refusal(up, body)
        if refusal is not None:
            up.refusals.append(refusal)
            return _anthropic_error(refusal)
        results = [
            str(block.get("content"))
            for m in body["messages"]
            if m["role"] == "user" and isinstance(m["content"], list)
            for block in m["content"]
            if block.get("type") == "tool_result"
        ]
        round_ = len(results)
        think = thought(round_)
        call: dict[str, Any] | None = None
        if round_ < len(QUERIES):
            call_id = up.next_call_id("toolu_")
            up.issued[call_id] = think
            call = {"id": call_id, "name": "run_sql", "query": QUERIES[round_]}
        text = None if call else answer(results)
        text, matched = _stopped_at(text, body.get("stop_sequences") or [])
        return StreamingResponse(_anthropic_frames(think, call, text, matched),
                                 media_type="text/event-stream")  # fmt: skip

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def _stopped_at(text: str | None, sequences: list[str]) -> tuple[str | None, str | None]:
    """As the API stops: before the earliest of the client's stop sequences in the text
    (which is left out), naming the one it stopped at."""
    found = [(text.find(s), s) for s in sequences] if text is not None else []
    hits = [(at, s) for at, s in found if at >= 0]
    if text is None or not hits:
        return text, None
    at, sequence = min(hits)
    return text[:at], sequence


async def _anthropic_frames(
    think: str, call: dict[str, Any] | None, text: str | None, stop_sequence: str | None = None
) -> AsyncIterator[bytes]:
    def event(kind: str, data: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
               "usage": {"input_tokens": 50, "output_tokens": 1}}  # fmt: skip
    yield event("message_start", {"message": message})
    yield event("content_block_start",
                {"index": 0, "content_block": {"type": "thinking", "thinking": ""}})  # fmt: skip
    half = len(think) // 2
    for piece in (think[:half], think[half:]):
        delta = {"type": "thinking_delta", "thinking": piece}
        yield event("content_block_delta", {"index": 0, "delta": delta})
    delta = {"type": "signature_delta", "signature": sign(think)}
    yield event("content_block_delta", {"index": 0, "delta": delta})
    yield event("content_block_stop", {"index": 0})
    if call is not None:
        block = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        yield event("content_block_start", {"index": 1, "content_block": block})
        args = json.dumps({"query": call["query"]})
        for piece in ["", *(args[i : i + 9] for i in range(0, len(args), 9))]:
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield event("content_block_delta", {"index": 1, "delta": delta})
        yield event("content_block_stop", {"index": 1})
        stop = "tool_use"
    else:
        assert text is not None
        yield event("content_block_start",
                    {"index": 1, "content_block": {"type": "text", "text": ""}})  # fmt: skip
        yield event("content_block_delta",
                    {"index": 1, "delta": {"type": "text_delta", "text": text}})  # fmt: skip
        yield event("content_block_stop", {"index": 1})
        stop = "end_turn" if stop_sequence is None else "stop_sequence"
    delta = {"stop_reason": stop, "stop_sequence": stop_sequence}
    yield event("message_delta", {"delta": delta, "usage": {"output_tokens": 40}})
    yield event("message_stop", {})
