"""The assistant turn a stream produced, as message parts, built from its events.

:class:`TurnAssembler` is a consumer like the meter: feed it every event of one stream and
it keeps the turn in order — reasoning segments (text plus the provider state needed to send
them back), answer text, tool calls — ready to be remembered (the reasoning store) or
replayed as history. Reasoning parts are tagged with the provider kind and upstream model
that produced them, so a later request can tell whether their opaque state is valid there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.events import Answer, Event, Thinking, ToolCallEnd
from ponder.request import Part, ReasoningPart, TextPart, ToolCallPart


@dataclass(slots=True)
class _Segment:
    block: int | None
    text: list[str] = field(default_factory=list)
    signature: str | None = None
    redacted: bool = False
    state: dict[str, Any] = field(default_factory=dict)


_Item = _Segment | list[str] | ToolCallPart


class TurnAssembler:
    def __init__(self, provider: str | None = None, model: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self._items: list[_Item] = []

    def tag(self, provider: str | None, model: str | None) -> None:
        """Name the producer (known once the request is routed)."""
        self.provider, self.model = provider, model

    def feed(self, event: Event) -> None:
        if isinstance(event, Thinking):
            self._thinking(event)
        elif isinstance(event, Answer):
            self.add_text(event.text)
        elif isinstance(event, ToolCallEnd):
            self._items.append(ToolCallPart(event.id, event.name, event.arguments))

    def add_text(self, text: str) -> None:
        """Answer text (the same as feeding an ``answer`` event)."""
        if text:
            last = self._items[-1] if self._items else None
            if isinstance(last, list):
                last.append(text)
            else:
                self._items.append([text])

    def _thinking(self, event: Thinking) -> None:
        segment = self._segment(event.block)
        if event.text:
            segment.text.append(event.text)
        if event.signature:
            segment.signature = event.signature
        if event.redacted:
            segment.redacted = True
        if event.state:
            segment.state.update(event.state)

    def _segment(self, block: int | None) -> _Segment:
        if block is not None:
            for item in self._items:
                if isinstance(item, _Segment) and item.block == block:
                    return item
        last = self._items[-1] if self._items else None
        if block is None and isinstance(last, _Segment):
            return last
        segment = _Segment(block)
        self._items.append(segment)
        return segment

    @property
    def parts(self) -> tuple[Part, ...]:
        parts: list[Part] = []
        for item in self._items:
            if isinstance(item, _Segment):
                parts.append(
                    ReasoningPart(
                        "".join(item.text),
                        provider=self.provider,
                        model=self.model,
                        signature=item.signature,
                        redacted=item.redacted,
                        state=dict(item.state) or None,
                    )
                )
            elif isinstance(item, list):
                parts.append(TextPart("".join(item)))
            else:
                parts.append(item)
        return tuple(parts)

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(item for item in self._items if isinstance(item, ToolCallPart))

    @property
    def has_reasoning(self) -> bool:
        return any(isinstance(item, _Segment) for item in self._items)
