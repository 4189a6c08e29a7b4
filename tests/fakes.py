"""A scripted in-process provider for tests of the engine, meter and CLI.

The script lives in the model's options: ``script = [["thinking", "text", delay_ms], ...]``
with kinds thinking, answer, echo (answers ``value`` + the last user message), usage, finish,
fail, raise. It never touches the network, so
the engine's guarantees can be checked without any provider's wire format.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ponder.errors import UpstreamError
from ponder.events import Answer, Event, Failed, Finished, Thinking, Usage
from ponder.providers.base import Provider
from ponder.registry import register
from ponder.request import ChatRequest


@register("scripted")
class ScriptedProvider(Provider):
    closed = 0  # how many streams ran their cleanup (for cancellation tests)

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        script: list[list[Any]] = list(self.config.options.get("script", []))
        try:
            for kind, value, *rest in script:
                delay_ms = rest[0] if rest else 0
                if delay_ms:
                    await asyncio.sleep(delay_ms / 1000)
                if kind == "thinking":
                    yield Thinking(value)
                elif kind == "answer":
                    yield Answer(value)
                elif kind == "echo":  # the answer is what the request asked, as it arrived
                    yield Answer(f"{value}{request.last_user_text}")
                elif kind == "usage":
                    yield Usage(
                        input_tokens=value[0], thinking_tokens=value[1], answer_tokens=value[2]
                    )
                elif kind == "finish":
                    yield Finished(value)
                elif kind == "fail":
                    yield Failed(side="upstream", code="test", message=value)
                elif kind == "raise":
                    raise UpstreamError("scripted", 503, value)
                elif kind == "crash":
                    raise RuntimeError(value)
        finally:
            type(self).closed += 1
