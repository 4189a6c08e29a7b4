"""OpenAI chat-completions request bodies -> :class:`ponder.request.ChatRequest`.

Accepted: ``model``, ``messages``, ``stream``, ``stream_options.include_usage``,
``temperature``, ``max_tokens`` / ``max_completion_tokens``, ``reasoning_effort``, ponder's
``thinking: {enabled, budget}`` and the ``x-ponder-max-ttfa-ms`` header. Other OpenAI fields
are ignored; fields ponder cannot honour (``n`` > 1, tools) are rejected by name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from ponder.request import ChatRequest, Effort, Message, Role, ThinkingSettings
from ponder.server.errors import MalformedJSONError, ParamError

MAX_TTFA_HEADER = "x-ponder-max-ttfa-ms"
_ROLES: Mapping[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}
_EFFORTS: Mapping[str, Effort | None] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
}


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    chat: ChatRequest
    stream: bool
    include_usage: bool


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJSONError(f"Request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise MalformedJSONError("Request body must be a JSON object.")
    return body


def parse_chat(
    body: Mapping[str, Any], headers: Mapping[str, str], request_id: str
) -> ParsedRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ParamError("model", "'model' is required: fast, deep, auto or a configured alias.")
    if body.get("n", 1) not in (1, None):
        raise ParamError("n", "'n' must be 1: ponder returns one choice.")
    if body.get("tools") or body.get("functions"):
        raise ParamError("tools", "Tool calling is not supported by this gateway.")
    stream = _bool(body, "stream", False)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise ParamError("stream_options", "'stream_options' must be an object.")
    include_usage = bool(options and options.get("include_usage"))
    chat = ChatRequest(
        messages=_messages(body.get("messages")),
        model=model,
        thinking=_thinking(body),
        temperature=_number(body, "temperature", 0.0, 2.0),
        max_tokens=_max_tokens(body),
        max_ttfa_ms=_max_ttfa(headers.get(MAX_TTFA_HEADER)),
        request_id=request_id,
    )
    return ParsedRequest(chat=chat, stream=stream, include_usage=include_usage)


def _bool(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ParamError(key, f"'{key}' must be true or false.")
    return value


def _number(body: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ParamError(key, f"'{key}' must be a number between {low:g} and {high:g}.")
    return float(value)


def _positive_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParamError(key, f"'{key}' must be a positive integer.")
    return value


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    newer = _positive_int(body.get("max_completion_tokens"), "max_completion_tokens")
    return newer if newer is not None else _positive_int(body.get("max_tokens"), "max_tokens")


def _max_ttfa(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        raise ParamError(
            MAX_TTFA_HEADER, f"Header {MAX_TTFA_HEADER} must be a positive number of ms."
        )
    return value


def _thinking(body: Mapping[str, Any]) -> ThinkingSettings:
    enabled: bool | None = None
    budget: int | None = None
    effort: Effort | None = None
    raw_effort = body.get("reasoning_effort")
    if raw_effort is not None:
        if raw_effort == "none":
            enabled = False
        elif raw_effort in _EFFORTS:
            effort = _EFFORTS[raw_effort]
        else:
            raise ParamError(
                "reasoning_effort", "'reasoning_effort' must be none, minimal, low, medium or high."
            )
    table = body.get("thinking")
    if table is not None:
        if not isinstance(table, Mapping):
            raise ParamError("thinking", "'thinking' must be an object: {enabled, budget}.")
        if "enabled" in table and table["enabled"] is not None:
            if not isinstance(table["enabled"], bool):
                raise ParamError("thinking.enabled", "'thinking.enabled' must be true or false.")
            enabled = table["enabled"]
        budget = _positive_int(table.get("budget"), "thinking.budget")
    return ThinkingSettings(enabled=enabled, budget=budget, effort=effort)


def _messages(raw: Any) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise ParamError("messages", "'messages' must be a non-empty array.")
    messages = []
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, Mapping):
            raise ParamError(where, f"{where} must be an object with role and content.")
        role = _ROLES.get(cast(str, item.get("role")) if isinstance(item.get("role"), str) else "")
        if role is None:
            raise ParamError(
                f"{where}.role", f"{where}.role must be one of system, developer, user, assistant."
            )
        thinking = item.get("reasoning_content")
        messages.append(
            Message(
                role=role,
                content=_content(item.get("content"), where),
                thinking=thinking if isinstance(thinking, str) and thinking else None,
            )
        )
    return tuple(messages)


def _content(raw: Any, where: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        parts = []
        for part in raw:
            if (
                isinstance(part, Mapping)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                parts.append(part["text"])
            else:
                raise ParamError(
                    f"{where}.content", f"{where}.content: only text parts are supported."
                )
        return "".join(parts)
    raise ParamError(
        f"{where}.content", f"{where}.content must be a string or an array of text parts."
    )
