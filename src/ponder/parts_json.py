"""Message parts to JSON and back, for the reasoning store and traces.

The encoding is each part's fields plus its ``type``; unknown types and fields are refused
on the way back rather than guessed at, so a store written by a newer ponder fails loudly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ponder.request import (
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

_TYPES: Mapping[str, type[Any]] = {
    "text": TextPart,
    "image": ImagePart,
    "tool_call": ToolCallPart,
    "tool_result": ToolResultPart,
    "reasoning": ReasoningPart,
}


def part_to_dict(part: Part) -> dict[str, Any]:
    data = {f.name: getattr(part, f.name) for f in dataclasses.fields(part)}
    if isinstance(part, ReasoningPart) and part.state is not None:
        data["state"] = dict(part.state)
    return data


def part_from_dict(data: Mapping[str, Any]) -> Part:
    cls = _TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown part type {data.get('type')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown fields for a {data['type']} part: {sorted(unknown)}")
    part: Part = cls(**{k: v for k, v in data.items() if k != "type"})
    return part


def dumps(parts: Iterable[Part]) -> str:
    return json.dumps([part_to_dict(p) for p in parts], separators=(",", ":"))


def loads(text: str) -> tuple[Part, ...]:
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("parts must be a JSON array")
    return tuple(part_from_dict(item) for item in raw)


_ROLES = frozenset({"system", "user", "assistant", "tool"})


def dumps_messages(messages: Iterable[Message]) -> str:
    return json.dumps(
        [{"role": m.role, "parts": [part_to_dict(p) for p in m.parts]} for m in messages],
        separators=(",", ":"),
    )


def loads_messages(text: str) -> tuple[Message, ...]:
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("messages must be a JSON array")
    out = []
    for item in raw:
        role = item.get("role") if isinstance(item, dict) else None
        if role not in _ROLES or not isinstance(item.get("parts"), list):
            raise ValueError(f"not a message: {item!r}"[:200])
        out.append(Message(role, tuple(part_from_dict(p) for p in item["parts"])))
    return tuple(out)
