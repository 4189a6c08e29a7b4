"""Streamed tool calls, assembled robustly whatever the server's chunking.

OpenAI-compatible servers stream a call as fragments ``{index, id?, function: {name?,
arguments?}}``. Real servers differ: OpenAI sends the id and name on the first fragment
only; Ollama's ``/v1`` sends every call whole and at ``index`` 0; some send several calls in
one chunk, repeat the name on every fragment, or omit ids. :class:`ToolCallAssembler`
turns any of these into ponder's events: ``tool_call_start`` (once the name is known), then
``tool_call_delta`` per argument fragment, and ``tool_call_end`` for every call at
:meth:`close`, numbered 0, 1, … in the order the calls began.

A fragment starts a new call when its upstream index has no call yet, when it carries an id
different from that call's, or (no id) a different name after arguments began.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ponder.events import Event, ToolCallDelta, ToolCallEnd, ToolCallStart


def new_call_id() -> str:
    """An id for a call the upstream sent without one."""
    return "call_" + uuid.uuid4().hex[:24]


@dataclass(slots=True)
class _Call:
    index: int
    id: str
    upstream_id: bool  # the id came from the upstream (not made up here)
    name: str = ""
    started: bool = False
    ended: bool = False
    pending: list[str] = field(default_factory=list)  # arguments before the name arrived
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    def __init__(self) -> None:
        self._calls: list[_Call] = []
        self._by_upstream: dict[int, _Call] = {}

    @property
    def count(self) -> int:
        return len(self._calls)

    def fragment(
        self,
        upstream_index: int | None,
        call_id: str | None,
        name: str | None,
        arguments: str | None,
    ) -> list[Event]:
        """Events for one streamed fragment of a call."""
        key = upstream_index if upstream_index is not None else len(self._by_upstream)
        call = self._by_upstream.get(key)
        if call is None or self._starts_new(call, call_id, name):
            call = _Call(len(self._calls), call_id or new_call_id(), call_id is not None)
            self._calls.append(call)
            self._by_upstream[key] = call
        elif call_id and not call.upstream_id and not call.started:
            call.id, call.upstream_id = call_id, True
        events: list[Event] = []
        if name and not call.started:
            call.name += name
        if call.name and not call.started:
            call.started = True
            events.append(ToolCallStart(call.index, call.id, call.name))
            for piece in call.pending:
                events.append(ToolCallDelta(call.index, piece))
            call.pending.clear()
        if arguments:
            call.arguments.append(arguments)
            if call.started:
                events.append(ToolCallDelta(call.index, arguments))
            else:
                call.pending.append(arguments)
        return events

    @staticmethod
    def _starts_new(call: _Call, call_id: str | None, name: str | None) -> bool:
        if call_id:
            return call.upstream_id and call_id != call.id
        return bool(name) and call.started and name != call.name and bool(call.arguments)

    def whole(self, call_id: str | None, name: str, arguments: str) -> list[Event]:
        """Events for a call that arrived complete (non-streaming bodies, Ollama native)."""
        call = _Call(len(self._calls), call_id or new_call_id(), call_id is not None, name, True)
        call.arguments.append(arguments)
        self._calls.append(call)
        events: list[Event] = [ToolCallStart(call.index, call.id, name)]
        if arguments:
            events.append(ToolCallDelta(call.index, arguments))
        return events

    def end(self, upstream_index: int) -> list[Event]:
        """End the call at an upstream index now (Anthropic's ``content_block_stop``)."""
        call = self._by_upstream.get(upstream_index)
        return self._end(call) if call is not None else []

    def close(self) -> list[Event]:
        """``tool_call_end`` for every call not ended yet, in order. A call whose name never
        arrived is ended under the name ``unknown`` so its arguments are not lost."""
        events: list[Event] = []
        for call in self._calls:
            events.extend(self._end(call))
        return events

    @staticmethod
    def _end(call: _Call) -> list[Event]:
        if call.ended:
            return []
        call.ended = True
        events: list[Event] = []
        if not call.started:
            call.name = call.name or "unknown"
            call.started = True
            events.append(ToolCallStart(call.index, call.id, call.name))
            events.extend(ToolCallDelta(call.index, piece) for piece in call.pending)
        events.append(ToolCallEnd(call.index, call.id, call.name, "".join(call.arguments)))
        return events
