"""OpenAI chat-completions request bodies -> :class:`ponder.request.ChatRequest`.

Accepted: ``model``, ``messages`` (system, developer, user, assistant with ``tool_calls`` and
``reasoning_content`` / ``reasoning`` / ``reasoning_details``, tool; text and ``image_url``
parts), ``stream``, ``stream_options.include_usage``, ``temperature``, ``top_p``, ``stop``,
``max_tokens`` / ``max_completion_tokens``, ``reasoning_effort``, ``tools`` (function tools),
``tool_choice``, ``parallel_tool_calls``, ``response_format``, ponder's ``thinking: {enabled,
budget}``, ponder's ``ponder: {verify, hedge}`` extension and the ``x-ponder-max-ttfa-ms``
header. Other OpenAI fields are ignored; fields ponder cannot honour (``n`` > 1, legacy
``functions``, non-function tools, audio and file parts) are rejected by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson

from ponder.request import (
    ChatRequest,
    Effort,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    ResponseFormat,
    Role,
    TextPart,
    ThinkingSettings,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from ponder.server.errors import MalformedJSONError, ParamError
from ponder.server.extension import ponder_extension
from ponder.server.limits import check_limits
from ponder.server.params import (
    MAX_COST_HEADER,
    MAX_TTFA_HEADER,
    max_cost,
    max_ttfa,
    number,
    optional_bool,
    positive_int,
)

_ROLES: Mapping[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}
_EFFORTS: Mapping[str, Effort | None] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    chat: ChatRequest
    stream: bool
    include_usage: bool


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)  # a fraction of json.loads's time on a typical body
    except orjson.JSONDecodeError:
        # What orjson refuses and json reads (NaN, lone surrogates) is read as json reads
        # it; what neither reads gets json's message, which names line and column.
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
    check_limits(body)  # LimitError (400, naming the limit) before any further work
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ParamError("model", "'model' is required: fast, deep, auto or a configured alias.")
    if body.get("n", 1) not in (1, None):
        raise ParamError("n", "'n' must be 1: ponder returns one choice.")
    if body.get("functions") or body.get("function_call"):
        raise ParamError(
            "functions", "'functions' is the legacy form of tool calling: send 'tools' instead."
        )
    stream = _bool(body, "stream", False)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise ParamError("stream_options", "'stream_options' must be an object.")
    include_usage = bool(options and options.get("include_usage"))
    tools = _tools(body.get("tools"))
    chat = ChatRequest(
        messages=_messages(body.get("messages")),
        model=model,
        thinking=_thinking(body),
        temperature=number(body, "temperature", 0.0, 2.0),
        top_p=number(body, "top_p", 0.0, 1.0),
        max_tokens=_max_tokens(body),
        stop=_stop(body.get("stop")),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=optional_bool(body, "parallel_tool_calls"),
        response_format=_response_format(body.get("response_format")),
        max_ttfa_ms=max_ttfa(headers.get(MAX_TTFA_HEADER)),
        max_cost_usd=max_cost(body, headers.get(MAX_COST_HEADER)),
        request_id=request_id,
        **ponder_extension(body.get("ponder")),
    )
    return ParsedRequest(chat=chat, stream=stream, include_usage=include_usage)


def _bool(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ParamError(key, f"'{key}' must be true or false.")
    return value


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    newer = positive_int(body.get("max_completion_tokens"), "max_completion_tokens")
    older = positive_int(body.get("max_tokens"), "max_tokens")  # checked even when unused
    return newer if newer is not None else older


def _thinking(body: Mapping[str, Any]) -> ThinkingSettings:
    enabled: bool | None = None
    budget: int | None = None
    effort: Effort | None = None
    word: str | None = None
    raw_effort = body.get("reasoning_effort")
    if raw_effort is not None:
        if raw_effort == "none":
            enabled = False
        elif isinstance(raw_effort, str) and raw_effort in _EFFORTS:
            effort = _EFFORTS[raw_effort]
            word = raw_effort if raw_effort != effort else None
        else:
            raise ParamError(
                "reasoning_effort",
                "'reasoning_effort' must be none, minimal, low, medium, high or xhigh.",
            )
    table = body.get("thinking")
    if table is not None:
        if not isinstance(table, Mapping):
            raise ParamError("thinking", "'thinking' must be an object: {enabled, budget}.")
        if "enabled" in table and table["enabled"] is not None:
            if not isinstance(table["enabled"], bool):
                raise ParamError("thinking.enabled", "'thinking.enabled' must be true or false.")
            enabled = table["enabled"]
        budget = positive_int(table.get("budget"), "thinking.budget")
    return ThinkingSettings(enabled=enabled, budget=budget, effort=effort, effort_word=word)


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
                f"{where}.role",
                f"{where}.role must be one of system, developer, user, assistant, tool.",
            )
        if role == "tool":
            messages.append(Message("tool", (_tool_result(item, where),)))
        elif role == "assistant":
            messages.append(Message("assistant", _assistant_parts(item, where)))
        else:
            images = role == "user"
            messages.append(Message(role, _content(item.get("content"), where, images=images)))
    return tuple(messages)


def _content(raw: Any, where: str, *, images: bool) -> list[Part]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [TextPart(raw)] if raw else []
    if not isinstance(raw, list):
        raise ParamError(
            f"{where}.content", f"{where}.content must be a string or an array of content parts."
        )
    parts: list[Part] = []
    for j, part in enumerate(raw):
        here = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(TextPart(part["text"]))
        elif kind == "image_url" and images:
            parts.append(_image(part.get("image_url"), here))
        else:
            allowed = "text and image_url parts" if images else "text parts"
            raise ParamError(here, f"{here}: only {allowed} are supported here.")
    return parts


def _image(raw: Any, where: str) -> ImagePart:
    if isinstance(raw, str):
        raw = {"url": raw}
    url = raw.get("url") if isinstance(raw, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
        raise ParamError(
            f"{where}.image_url",
            f"{where}.image_url.url must be an http(s) URL or a data: URL.",
        )
    detail = raw.get("detail")
    return ImagePart(url, detail if isinstance(detail, str) else None)


def _text(raw: Any, where: str) -> str:
    return "".join(p.text for p in _content(raw, where, images=False) if isinstance(p, TextPart))


def _tool_result(item: Mapping[str, Any], where: str) -> ToolResultPart:
    call_id = item.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ParamError(
            f"{where}.tool_call_id", f"{where}: a tool message needs the tool_call_id it answers."
        )
    name = item.get("name")
    return ToolResultPart(
        call_id, _text(item.get("content"), where), name=name if isinstance(name, str) else None
    )


def _assistant_parts(item: Mapping[str, Any], where: str) -> list[Part]:
    parts: list[Part] = []
    details = item.get("reasoning_details")
    if isinstance(details, list) and details:
        text = "".join(
            d.get("text") or d.get("summary") or ""
            for d in details
            if isinstance(d, Mapping) and isinstance(d.get("text") or d.get("summary") or "", str)
        )
        state = {"field": "reasoning_details", "details": list(details)}
        parts.append(ReasoningPart(text, state=state))
    else:
        for key in ("reasoning_content", "reasoning"):
            thought = item.get(key)
            if isinstance(thought, str) and thought:
                parts.append(ReasoningPart(thought, state={"field": key}))
                break
    parts.extend(_content(item.get("content"), where, images=False))
    calls = item.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise ParamError(f"{where}.tool_calls", f"{where}.tool_calls must be an array.")
    for j, call in enumerate(calls or []):
        parts.append(_tool_call(call, f"{where}.tool_calls[{j}]"))
    return parts


def _tool_call(raw: Any, where: str) -> ToolCallPart:
    function = raw.get("function") if isinstance(raw, Mapping) else None
    call_id = raw.get("id") if isinstance(raw, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(call_id, str) or not call_id:
        raise ParamError(
            where, f"{where} must be {{id, type: function, function: {{name, arguments}}}}."
        )
    name = function.get("name")
    arguments = function.get("arguments", "")
    if not isinstance(name, str) or not name:
        raise ParamError(f"{where}.function.name", f"{where}.function.name is required.")
    if isinstance(arguments, Mapping):
        arguments = json.dumps(arguments)
    if not isinstance(arguments, str):
        raise ParamError(
            f"{where}.function.arguments", f"{where}.function.arguments must be a JSON string."
        )
    return ToolCallPart(call_id, name, arguments)


def _tools(raw: Any) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ParamError("tools", "'tools' must be an array of function tools.")
    tools = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            raise ParamError(
                f"{where}.type",
                f"{where}: only function tools are supported (got {kind!r}).",
            )
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(name, str) or not name:
            raise ParamError(f"{where}.function.name", f"{where}.function.name is required.")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ParamError(
                f"{where}.function.parameters",
                f"{where}.function.parameters must be a JSON Schema object.",
            )
        tools.append(
            ToolSpec.declared(
                name, function.get("description"), parameters, function.get("strict")
            )
        )
    return tuple(tools)


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    function = raw.get("function") if isinstance(raw, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ParamError(
            "tool_choice",
            "'tool_choice' must be auto, none, required or"
            ' {"type": "function", "function": {"name": …}}.',
        )
    if name not in {t.name for t in tools}:
        raise ParamError("tool_choice", f"tool_choice names {name!r}, which is not in 'tools'.")
    return ToolChoice("tool", name)


def _response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind == "json_schema":
        spec = raw.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise ParamError(
                "response_format.json_schema.schema",
                "response_format json_schema needs json_schema.schema (a JSON Schema object).",
            )
        assert isinstance(spec, Mapping)
        name, strict = spec.get("name"), spec.get("strict")
        return ResponseFormat(
            "json_schema",
            name=name if isinstance(name, str) else None,
            schema=dict(schema),
            strict=strict if isinstance(strict, bool) else None,
        )
    raise ParamError(
        "response_format", "'response_format' type must be text, json_object or json_schema."
    )


def _stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise ParamError("stop", "'stop' must be a string or an array of strings.")
