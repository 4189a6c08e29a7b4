"""Anthropic Messages request bodies -> :class:`ponder.request.ChatRequest`.

Accepted: ``model`` (an alias, ``auto``, or the upstream model id of exactly one configured
model), ``max_tokens`` (required, as the API requires it), ``messages`` (``user``,
``assistant`` and mid-conversation ``system`` turns; content a string or blocks: ``text``,
``image`` (base64 or URL source), ``tool_use``, ``tool_result`` (string or text blocks),
``thinking`` and ``redacted_thinking``), ``system`` (a string or text blocks), ``tools``
(custom tools: ``name``, ``description``, ``input_schema``), ``tool_choice`` (``auto``,
``any``, ``tool`` with ``name``, ``none``; ``disable_parallel_tool_use``), ``thinking``
(``enabled`` with ``budget_tokens``, ``adaptive``, ``disabled``; ``display: omitted``),
``output_config.effort``, ``stop_sequences``, ``temperature``, ``top_p``, ``metadata``,
``stream`` and ponder's ``x-ponder-max-ttfa-ms`` and ``x-ponder-max-cost-usd`` headers.
Ignored: ``top_k``, ``cache_control`` on any block, ``service_tier``, ``context_management``
and other fields this door has no use for.

Thinking blocks sent back are handed to :mod:`ponder.server.signing`: a token ponder issued
restores its reasoning part exactly (or is refused when changed); any other signature is a
provider's own, kept unmodified and tagged as produced by the requested model (its provider
checks it). Images inside tool results and server tools (web search, code execution, …)
cannot go through ponder: they are left out, and a note in the trace says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ponder.config import Config
from ponder.request import (
    ChatRequest,
    Effort,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ThinkingSettings,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from ponder.server.errors import ParamError
from ponder.server.extension import ponder_extension
from ponder.server.limits import check_limits
from ponder.server.params import MAX_COST_HEADER, MAX_TTFA_HEADER, max_cost, max_ttfa, number
from ponder.server.signing import ThoughtSigner, is_ponder_token

_EFFORTS: Mapping[str, Effort] = {"low": "low", "medium": "medium", "high": "high", "max": "high"}


@dataclass(frozen=True, slots=True)
class ParsedMessages:
    chat: ChatRequest
    stream: bool
    show_thinking: bool  # False: ``display: omitted`` (thought text stays in the token)
    notes: tuple[str, ...]


def parse_messages(
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    request_id: str,
    config: Config,
    signer: ThoughtSigner,
) -> ParsedMessages:
    check_limits(body)  # the same explicit limits as chat completions (same field names)
    raw_model = body.get("model")
    if not isinstance(raw_model, str) or not raw_model:
        raise ParamError("model", "model: Field required (fast, deep, auto or a configured alias).")
    model = config.resolve(raw_model)
    producer = config.models.get(model)
    reader = _Reader(
        signer,
        producer.provider if producer is not None else None,
        producer.upstream_model if producer is not None else None,
    )
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        raise ParamError("max_tokens", "max_tokens: Field required (a positive integer).")
    messages = [*reader.system(body.get("system")), *reader.messages(body.get("messages"))]
    tools = reader.tools(body.get("tools"))
    choice, parallel = _tool_choice(body.get("tool_choice"), tools)
    thinking, show = _thinking(body.get("thinking"), body.get("output_config"))
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise ParamError("metadata", 'metadata: must be an object (e.g. {"user_id": …}).')
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise ParamError("stream", "stream: must be true or false.")
    chat = ChatRequest(
        messages=tuple(messages),
        model=model,
        thinking=thinking,
        temperature=number(body, "temperature", 0.0, 1.0, anthropic=True),
        top_p=number(body, "top_p", 0.0, 1.0, anthropic=True),
        max_tokens=max_tokens,
        stop=_stop(body.get("stop_sequences")),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_ttfa_ms=max_ttfa(headers.get(MAX_TTFA_HEADER)),
        max_cost_usd=max_cost(body, headers.get(MAX_COST_HEADER)),
        request_id=request_id,
        **ponder_extension(body.get("ponder")),
    )
    return ParsedMessages(chat, bool(stream), show, tuple(reader.notes))


def _stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise ParamError("stop_sequences", "stop_sequences: must be an array of strings.")


def _thinking(raw: Any, output_config: Any) -> tuple[ThinkingSettings, bool]:
    effort: Effort | None = None
    if isinstance(output_config, Mapping) and output_config.get("effort") is not None:
        value = output_config["effort"]
        if value not in _EFFORTS:
            raise ParamError(
                "output_config.effort", "output_config.effort: must be low, medium, high or max."
            )
        effort = _EFFORTS[value]
    if raw is None:
        return ThinkingSettings(effort=effort), True
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "disabled":
        return ThinkingSettings(enabled=False), True
    if kind not in ("enabled", "adaptive"):
        raise ParamError(
            "thinking.type", "thinking.type: must be enabled (with budget_tokens), adaptive or"
            " disabled."
        )  # fmt: skip
    assert isinstance(raw, Mapping)
    display = raw.get("display")
    if display not in (None, "summarized", "omitted"):
        raise ParamError("thinking.display", "thinking.display: must be summarized or omitted.")
    budget: int | None = None
    if kind == "enabled":
        budget = raw.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
            raise ParamError(
                "thinking.budget_tokens",
                "thinking.budget_tokens: Field required with type enabled (a positive integer).",
            )
    return ThinkingSettings(enabled=True, budget=budget, effort=effort), display != "omitted"


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...]) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise ParamError("tool_choice.type", "tool_choice.type: must be auto, any, tool or none.")
    assert isinstance(raw, Mapping)
    disable = raw.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise ParamError(
            "tool_choice.disable_parallel_tool_use",
            "tool_choice.disable_parallel_tool_use: must be true or false.",
        )
    parallel = False if disable else None
    if kind == "tool":
        name = raw.get("name")
        if not isinstance(name, str) or name not in {t.name for t in tools}:
            raise ParamError(
                "tool_choice.name", f"tool_choice.name: {name!r} is not one of the tools offered."
            )
        return ToolChoice("tool", name), parallel
    return ToolChoice({"any": "required"}.get(kind, kind)), parallel  # type: ignore[arg-type]


class _Reader:
    """Per-request state of the parse: the signer, the producer tag, notes."""

    def __init__(self, signer: ThoughtSigner, provider: str | None, model: str | None) -> None:
        self.signer = signer
        self.provider = provider
        self.model = model
        self.notes: list[str] = []

    # -- system and tools

    def system(self, raw: Any) -> list[Message]:
        if raw is None or raw == "":
            return []
        if isinstance(raw, str):
            return [Message("system", raw)]
        if not isinstance(raw, list):
            raise ParamError("system", "system: must be a string or an array of text blocks.")
        texts = []
        for i, block in enumerate(raw):
            if (
                not isinstance(block, Mapping)
                or block.get("type") != "text"
                or not isinstance(block.get("text"), str)
            ):
                raise ParamError(f"system.{i}", f"system.{i}: only text blocks are supported.")
            texts.append(block["text"])
        text = "\n\n".join(t for t in texts if t)
        return [Message("system", text)] if text else []

    def tools(self, raw: Any) -> tuple[ToolSpec, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise ParamError("tools", "tools: must be an array of tools.")
        tools = []
        skipped = []
        for i, tool in enumerate(raw):
            where = f"tools.{i}"
            if not isinstance(tool, Mapping):
                raise ParamError(where, f"{where}: must be an object.")
            kind = tool.get("type")
            if kind not in (None, "custom"):
                skipped.append(str(tool.get("name") or kind))
                continue
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                raise ParamError(f"{where}.name", f"{where}.name: Field required.")
            schema = tool.get("input_schema")
            if not isinstance(schema, Mapping):
                raise ParamError(
                    f"{where}.input_schema", f"{where}.input_schema: a JSON Schema object is"
                    " required."
                )  # fmt: skip
            tools.append(
                ToolSpec.declared(name, tool.get("description"), schema, tool.get("strict"))
            )
        if skipped:
            self.notes.append(
                f"server tools run by Anthropic's API cannot run through ponder; left out:"
                f" {', '.join(skipped)}"
            )
        return tuple(tools)

    # -- messages

    def messages(self, raw: Any) -> list[Message]:
        if not isinstance(raw, list) or not raw:
            raise ParamError("messages", "messages: must be a non-empty array.")
        out: list[Message] = []
        for i, item in enumerate(raw):
            where = f"messages.{i}"
            role = item.get("role") if isinstance(item, Mapping) else None
            if role not in ("user", "assistant", "system"):
                raise ParamError(
                    f"{where}.role", f"{where}.role: must be user, assistant or system."
                )
            assert isinstance(item, Mapping)
            blocks = self._blocks(item.get("content"), where)
            if role == "system":  # a mid-conversation system message (instructions from here on)
                out.append(Message("system", "\n\n".join(_system_text(b, w) for b, w in blocks)))
                continue
            if role == "assistant":
                out.append(Message("assistant", [self._assistant(b, w) for b, w in blocks]))
                continue
            results = [self._tool_result(b, w) for b, w in blocks if b["type"] == "tool_result"]
            out.extend(Message("tool", (r,)) for r in results)
            rest = [self._user(b, w) for b, w in blocks if b["type"] != "tool_result"]
            if rest or not results:
                out.append(Message("user", rest))
        return out

    def _blocks(self, raw: Any, where: str) -> list[tuple[Mapping[str, Any], str]]:
        if isinstance(raw, str):
            return [({"type": "text", "text": raw}, f"{where}.content")]
        if not isinstance(raw, list):
            raise ParamError(
                f"{where}.content", f"{where}.content: must be a string or an array of blocks."
            )
        blocks = []
        for j, block in enumerate(raw):
            here = f"{where}.content.{j}"
            if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
                raise ParamError(f"{here}.type", f"{here}.type: Field required.")
            blocks.append((block, here))
        return blocks

    def _user(self, block: Mapping[str, Any], where: str) -> Part:
        kind = block["type"]
        if kind == "text":
            return TextPart(_text(block, where))
        if kind == "image":
            return _image(block, where)
        raise ParamError(
            f"{where}.type",
            f"{where}.type: {kind!r} blocks are not supported in a user turn by ponder (text,"
            " image and tool_result are).",
        )

    def _assistant(self, block: Mapping[str, Any], where: str) -> Part:
        kind = block["type"]
        if kind == "text":
            return TextPart(_text(block, where))
        if kind == "tool_use":
            return _tool_use(block, where)
        if kind == "thinking":
            text = block.get("thinking")
            if not isinstance(text, str):
                raise ParamError(f"{where}.thinking", f"{where}.thinking: Field required.")
            return self._reasoning(text, block.get("signature"), f"{where}.signature")
        if kind == "redacted_thinking":
            data = block.get("data")
            if not isinstance(data, str) or not data:
                raise ParamError(f"{where}.data", f"{where}.data: Field required.")
            if is_ponder_token(data):
                return self.signer.open(data, "", f"{where}.data")
            return ReasoningPart(
                "", provider=self.provider, model=self.model, redacted=True, state={"data": data}
            )
        raise ParamError(
            f"{where}.type",
            f"{where}.type: {kind!r} blocks are not supported in an assistant turn by ponder"
            " (text, tool_use, thinking and redacted_thinking are).",
        )

    def _reasoning(self, text: str, signature: Any, where: str) -> ReasoningPart:
        if signature is not None and not isinstance(signature, str):
            raise ParamError(where, f"{where}: must be a string.")
        if signature and is_ponder_token(signature):
            return self.signer.open(signature, text, where)
        if signature:  # a provider's own signature: its provider verifies it
            return ReasoningPart(text, provider=self.provider, model=self.model,
                                 signature=signature)  # fmt: skip
        return ReasoningPart(text)  # unsigned: plain thoughts, like reasoning_content

    def _tool_result(self, block: Mapping[str, Any], where: str) -> ToolResultPart:
        call_id = block.get("tool_use_id")
        if not isinstance(call_id, str) or not call_id:
            raise ParamError(f"{where}.tool_use_id", f"{where}.tool_use_id: Field required.")
        content = block.get("content")
        is_error = block.get("is_error") is True
        if content is None:
            return ToolResultPart(call_id, "", is_error=is_error)
        if isinstance(content, str):
            return ToolResultPart(call_id, content, is_error=is_error)
        if not isinstance(content, list):
            raise ParamError(
                f"{where}.content", f"{where}.content: must be a string or an array of blocks."
            )
        texts = []
        for k, inner in enumerate(content):
            here = f"{where}.content.{k}"
            kind = inner.get("type") if isinstance(inner, Mapping) else None
            if kind == "text":
                assert isinstance(inner, Mapping)
                texts.append(_text(inner, here))
            elif kind == "image":
                texts.append("[image left out: ponder passes only text in tool results]")
                self.notes.append(
                    f"an image in the tool result for {call_id} was left out (ponder passes"
                    " only text in tool results)"
                )
            else:
                raise ParamError(
                    f"{here}.type", f"{here}.type: only text and image blocks are supported in a"
                    " tool_result."
                )  # fmt: skip
        return ToolResultPart(call_id, "\n".join(texts), is_error=is_error)


def _system_text(block: Mapping[str, Any], where: str) -> str:
    if block["type"] != "text":
        raise ParamError(f"{where}.type", f"{where}.type: a system message takes text blocks only.")
    return _text(block, where)


def _text(block: Mapping[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise ParamError(f"{where}.text", f"{where}.text: Field required.")
    return text


def _image(block: Mapping[str, Any], where: str) -> ImagePart:
    source = block.get("source")
    kind = source.get("type") if isinstance(source, Mapping) else None
    if kind == "base64":
        assert isinstance(source, Mapping)
        media_type, data = source.get("media_type"), source.get("data")
        if isinstance(media_type, str) and isinstance(data, str) and data:
            return ImagePart(f"data:{media_type};base64,{data}")
    elif kind == "url":
        assert isinstance(source, Mapping)
        url = source.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return ImagePart(url)
    raise ParamError(
        f"{where}.source",
        f"{where}.source: must be {{type: base64, media_type, data}} or {{type: url, url}}.",
    )


def _tool_use(block: Mapping[str, Any], where: str) -> ToolCallPart:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise ParamError(f"{where}.id", f"{where}.id: Field required.")
    if not isinstance(name, str) or not name:
        raise ParamError(f"{where}.name", f"{where}.name: Field required.")
    arguments = block.get("input", {})
    if not isinstance(arguments, Mapping):
        raise ParamError(f"{where}.input", f"{where}.input: must be an object.")
    return ToolCallPart(call_id, name, json.dumps(arguments, separators=(",", ":")))
