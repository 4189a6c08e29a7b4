"""OpenAI Responses request bodies -> :class:`ponder.request.ChatRequest`.

Accepted: ``model``, ``input`` (a string, or items: messages — ``user``, ``system``,
``developer``, ``assistant``; content a string or ``input_text`` / ``output_text`` /
``input_image`` parts —, ``function_call``, ``function_call_output`` and ``reasoning``
items), ``instructions``, ``previous_response_id`` (the stored conversation is put first,
by the endpoint), ``tools`` (function tools), ``tool_choice``, ``parallel_tool_calls``,
``reasoning: {effort, summary}``, ``include`` (``reasoning.encrypted_content``), ``store``,
``stream``, ``max_output_tokens``, ``temperature``, ``top_p``, ``text.format`` and ponder's
``x-ponder-max-ttfa-ms`` and ``x-ponder-max-cost-usd`` headers. Ignored: ``metadata``,
``user``, ``truncation``, ``service_tier``, ``prompt_cache_key`` and the like. Refused by
name: ``background``, ``conversation``, ``item_reference`` items, file inputs, tool choices
other than function ones. Tools other than functions (``web_search``, ``file_search``,
``local_shell``, ``custom``, MCP, …) cannot run through ponder: they are left out, and a note
says so.

A ``reasoning`` item's ``encrypted_content`` that ponder issued restores its reasoning part
exactly (text and provider state); one that does not verify is refused with a 400. Without
it, the item's summary or content text is sent as plain thoughts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
from ponder.server.errors import ParamError
from ponder.server.extension import ponder_extension
from ponder.server.params import (
    MAX_COST_HEADER,
    MAX_TTFA_HEADER,
    max_cost,
    max_ttfa,
    number,
    optional_bool,
    positive_int,
)
from ponder.server.signing import ThoughtSigner, is_ponder_token

ENCRYPTED_REASONING = "reasoning.encrypted_content"
_ROLES: Mapping[str, Role] = {
    "user": "user",
    "system": "system",
    "developer": "system",
    "assistant": "assistant",
}
_EFFORTS: Mapping[str, Effort] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}


@dataclass(frozen=True, slots=True)
class ParsedResponses:
    chat: ChatRequest
    history: tuple[Message, ...]  # the conversation without the instructions (to store)
    stream: bool
    store: bool
    encrypted_reasoning: bool  # include reasoning.encrypted_content
    summary: str | None  # reasoning.summary: thoughts go out as summary text when set
    notes: tuple[str, ...]


def parse_responses(
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    request_id: str,
    signer: ThoughtSigner,
    previous: Sequence[Message] = (),
) -> ParsedResponses:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ParamError("model", "'model' is required: fast, deep, auto or a configured alias.")
    for unsupported, why in (
        ("background", "background responses are not supported: leave 'background' out."),
        ("conversation", "conversation objects are not supported: use previous_response_id."),
    ):
        if body.get(unsupported):
            raise ParamError(unsupported, f"'{unsupported}': {why}")
    notes: list[str] = []
    reader = _InputReader(signer)
    history = (*previous, *reader.read(body.get("input")))
    if not history:
        raise ParamError("input", "'input' is required: a string or an array of items.")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ParamError("instructions", "'instructions' must be a string.")
    messages = ((Message("system", instructions),) if instructions else ()) + history
    tools = _tools(body.get("tools"), notes)
    include = body.get("include") or []
    if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
        raise ParamError("include", "'include' must be an array of strings.")
    thinking, summary = _reasoning(body.get("reasoning"))
    chat = ChatRequest(
        messages=messages,
        model=model,
        thinking=thinking,
        temperature=number(body, "temperature", 0.0, 2.0),
        top_p=number(body, "top_p", 0.0, 1.0),
        max_tokens=positive_int(body.get("max_output_tokens"), "max_output_tokens"),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=optional_bool(body, "parallel_tool_calls"),
        response_format=_format(body.get("text")),
        max_ttfa_ms=max_ttfa(headers.get(MAX_TTFA_HEADER)),
        max_cost_usd=max_cost(body, headers.get(MAX_COST_HEADER)),
        request_id=request_id,
        **ponder_extension(body.get("ponder")),
    )
    stream = optional_bool(body, "stream") or False
    store = optional_bool(body, "store")
    return ParsedResponses(
        chat=chat,
        history=history,
        stream=stream,
        store=True if store is None else store,
        encrypted_reasoning=ENCRYPTED_REASONING in include,
        summary=summary,
        notes=tuple(notes + reader.notes),
    )


def _reasoning(raw: Any) -> tuple[ThinkingSettings, str | None]:
    if raw is None:
        return ThinkingSettings(), None
    if not isinstance(raw, Mapping):
        raise ParamError("reasoning", "'reasoning' must be an object: {effort, summary}.")
    effort = raw.get("effort")
    summary = raw.get("summary", raw.get("generate_summary"))
    if summary is not None and summary not in ("auto", "concise", "detailed"):
        raise ParamError(
            "reasoning.summary", "'reasoning.summary' must be auto, concise or detailed."
        )
    if effort is None:
        return ThinkingSettings(), summary
    if effort == "none":
        return ThinkingSettings(enabled=False), summary
    if effort not in _EFFORTS:
        raise ParamError(
            "reasoning.effort",
            "'reasoning.effort' must be none, minimal, low, medium, high or xhigh.",
        )
    coarse = _EFFORTS[effort]
    word = effort if effort != coarse else None
    return ThinkingSettings(effort=coarse, effort_word=word), summary


def _tools(raw: Any, notes: list[str]) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ParamError("tools", "'tools' must be an array of tools.")
    tools = []
    skipped = []
    for i, tool in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise ParamError(where, f"{where} must be an object.")
        if tool.get("type") != "function":
            skipped.append(str(tool.get("name") or tool.get("type")))
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise ParamError(f"{where}.name", f"{where}.name is required.")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ParamError(
                f"{where}.parameters", f"{where}.parameters must be a JSON Schema object."
            )
        tools.append(
            ToolSpec.declared(name, tool.get("description"), parameters, tool.get("strict"))
        )
    if skipped:
        notes.append(
            "tools other than functions cannot run through ponder; left out: " + ", ".join(skipped)
        )
    return tuple(tools)


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, Mapping) and raw.get("type") == "function":
        name = raw.get("name")
        if not isinstance(name, str) or name not in {t.name for t in tools}:
            raise ParamError("tool_choice", f"tool_choice names {name!r}, which is not in 'tools'.")
        return ToolChoice("tool", name)
    raise ParamError(
        "tool_choice",
        "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"name\": …}.",
    )


def _format(raw: Any) -> ResponseFormat | None:
    fmt = raw.get("format") if isinstance(raw, Mapping) else None
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind == "json_schema":
        assert isinstance(fmt, Mapping)
        schema = fmt.get("schema")
        if not isinstance(schema, Mapping):
            raise ParamError("text.format.schema", "text.format json_schema needs 'schema'.")
        name, strict = fmt.get("name"), fmt.get("strict")
        return ResponseFormat(
            "json_schema",
            name=name if isinstance(name, str) else None,
            schema=dict(schema),
            strict=strict if isinstance(strict, bool) else None,
        )
    raise ParamError("text.format", "'text.format.type' must be text, json_object or json_schema.")


class _InputReader:
    """Items -> messages; consecutive assistant-side items (reasoning, assistant messages,
    function calls) form one assistant turn, in order."""

    def __init__(self, signer: ThoughtSigner) -> None:
        self.signer = signer
        self.notes: list[str] = []
        self._out: list[Message] = []
        self._assistant: list[Part] = []

    def read(self, raw: Any) -> tuple[Message, ...]:
        if raw is None:
            return ()
        if isinstance(raw, str):
            return (Message("user", raw),) if raw else ()
        if not isinstance(raw, list):
            raise ParamError("input", "'input' must be a string or an array of items.")
        for i, item in enumerate(raw):
            where = f"input[{i}]"
            if not isinstance(item, Mapping):
                raise ParamError(where, f"{where} must be an object.")
            self._item(item, where)
        self._flush()
        return tuple(self._out)

    def _flush(self) -> None:
        if self._assistant:
            self._out.append(Message("assistant", tuple(self._assistant)))
            self._assistant = []

    def _item(self, item: Mapping[str, Any], where: str) -> None:
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = _ROLES.get(str(item.get("role")))
            if role is None:
                raise ParamError(
                    f"{where}.role", f"{where}.role must be user, system, developer or assistant."
                )
            parts = _content(item.get("content"), where, images=role == "user")
            if role == "assistant":
                self._assistant.extend(parts)
                return
            self._flush()
            self._out.append(Message(role, parts))
        elif kind == "function_call":
            call_id, name = item.get("call_id"), item.get("name")
            arguments = item.get("arguments", "")
            if not isinstance(call_id, str) or not call_id:
                raise ParamError(f"{where}.call_id", f"{where}.call_id is required.")
            if not isinstance(name, str) or not name:
                raise ParamError(f"{where}.name", f"{where}.name is required.")
            if not isinstance(arguments, str):
                raise ParamError(f"{where}.arguments", f"{where}.arguments must be a JSON string.")
            self._assistant.append(ToolCallPart(call_id, name, arguments))
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise ParamError(f"{where}.call_id", f"{where}.call_id is required.")
            self._flush()
            output = item.get("output", "")
            text = output if isinstance(output, str) else _output_text(output, where)
            self._out.append(Message("tool", (ToolResultPart(call_id, text),)))
        elif kind == "reasoning":
            self._assistant.append(self._reasoning(item, where))
        else:
            raise ParamError(
                f"{where}.type",
                f"{where}: items of type {kind!r} are not supported by ponder (message,"
                " function_call, function_call_output and reasoning are).",
            )

    def _reasoning(self, item: Mapping[str, Any], where: str) -> ReasoningPart:
        token = item.get("encrypted_content")
        if isinstance(token, str) and token:
            if is_ponder_token(token):
                return self.signer.open(token, "", f"{where}.encrypted_content")
            self.notes.append(
                f"{where}: encrypted reasoning ponder did not issue was sent as its summary text"
            )
        texts = [
            p.get("text")
            for key in ("content", "summary")
            for p in (item.get(key) or [])
            if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
        return ReasoningPart("".join(t for t in texts if t))


def _content(raw: Any, where: str, *, images: bool) -> list[Part]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [TextPart(raw)] if raw else []
    if not isinstance(raw, list):
        raise ParamError(f"{where}.content", f"{where}.content must be a string or an array.")
    parts: list[Part] = []
    for j, part in enumerate(raw):
        here = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        assert kind is None or isinstance(part, Mapping)
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            parts.append(TextPart(part["text"]))
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            parts.append(TextPart(part["refusal"]))
        elif kind == "input_image" and images:
            url = part.get("image_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
                raise ParamError(
                    f"{here}.image_url", f"{here}.image_url must be an http(s) or data: URL."
                )
            detail = part.get("detail")
            parts.append(ImagePart(url, detail if isinstance(detail, str) else None))
        else:
            allowed = "input_text and input_image parts" if images else "text parts"
            raise ParamError(f"{here}.type", f"{here}: only {allowed} are supported here.")
    return parts


def _output_text(raw: Any, where: str) -> str:
    if isinstance(raw, list):
        texts = [p.get("text") for p in raw if isinstance(p, Mapping)]
        if all(isinstance(t, str) for t in texts):
            return "".join(t for t in texts if isinstance(t, str))
    if isinstance(raw, Mapping | list):
        return json.dumps(raw)
    raise ParamError(f"{where}.output", f"{where}.output must be a string or text parts.")
