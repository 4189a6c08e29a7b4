"""Explicit limits on one chat request, checked before anything is parsed further.

A request past a limit gets a 400 naming the limit (``code`` ``limit_exceeded``, ``param``
the field), not a slow death deeper in: a million messages or a 500 MB string should cost
one comparison. The body itself is bounded before this (``--max-body-bytes``, 413).

The figures follow OpenAI's own where it has one (2048 messages, 128 tools) and are set
generously above what today's thinking models accept elsewhere; ``/openapi.json``
publishes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ponder.server.errors import ParamError

MAX_MESSAGES = 2048
MAX_MESSAGE_CHARS = 512 * 1024
MAX_TOKENS = 262144
MAX_TOOLS = 128


class LimitError(ParamError):
    code = "limit_exceeded"


def check_limits(body: Mapping[str, Any]) -> None:
    """Raise :class:`LimitError` for the first limit ``body`` exceeds."""
    messages = body.get("messages")
    if isinstance(messages, list):
        if len(messages) > MAX_MESSAGES:
            raise LimitError(
                "messages",
                f"'messages' has {len(messages)} items; the limit is {MAX_MESSAGES}"
                " messages per request (max_messages). Drop or summarise older turns.",
            )
        for i, message in enumerate(messages):
            chars = _chars(message.get("content")) if isinstance(message, Mapping) else 0
            if chars > MAX_MESSAGE_CHARS:
                raise LimitError(
                    f"messages[{i}].content",
                    f"messages[{i}].content has {chars} characters; the limit is"
                    f" {MAX_MESSAGE_CHARS} characters per message (max_message_chars).",
                )
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_TOKENS:
            raise LimitError(
                key, f"'{key}' is {value}; the limit is {MAX_TOKENS} tokens (max_tokens)."
            )
    tools = body.get("tools")
    if isinstance(tools, list) and len(tools) > MAX_TOOLS:
        raise LimitError(
            "tools",
            f"'tools' has {len(tools)} items; the limit is {MAX_TOOLS} tools per request"
            " (max_tools).",
        )


def _chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(
            len(part["text"])
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return 0
