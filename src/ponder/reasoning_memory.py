"""Reasoning is never lost between turns: remembered per tool call, restored when dropped.

Thinking models in agent loops need their reasoning back on the turns that called tools:
DeepSeek and Kimi answer 400 without ``reasoning_content``, Anthropic without the signed
thinking block, OpenRouter loses the tie between encrypted reasoning and the call. Most
OpenAI clients drop every field they do not know when they send the history back.

So the gateway remembers each tool-call turn it streamed — its parts in order: reasoning
(text and provider state), text, calls — keyed by each call's id, in memory (the next turn of
an agent loop comes milliseconds later) and in the trace store (for restarts and for other
gateways on the same database). When a request's history has an assistant turn with tool
calls and no reasoning state, :meth:`ReasoningMemory.restore` puts the remembered reasoning
back in its place, provided the turn's calls are the ones remembered (same ids, names and
arguments): a changed call gets no one else's reasoning. What it did is returned as notes
for the trace.

Which provider may use the restored state is the provider's business (see
:meth:`ponder.providers.base.Provider.owns`).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ponder.request import ChatRequest, Message, Part, ReasoningPart, TextPart, ToolCallPart

log = logging.getLogger("ponder.reasoning")
DEFAULT_CAPACITY = 20_000  # remembered turns held in memory (the store keeps all)


@dataclass(frozen=True, slots=True)
class RememberedTurn:
    request_id: str
    parts: tuple[Part, ...]

    @property
    def calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))


# Looks remembered turns up by call id in the store: {call id: turn} for those it has.
StoreLookup = Callable[[Sequence[str]], Awaitable[dict[str, RememberedTurn]]]
StoreSave = Callable[[RememberedTurn], None]


class ReasoningMemory:
    def __init__(
        self,
        lookup: StoreLookup | None = None,
        save: StoreSave | None = None,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self._lookup = lookup
        self._save = save
        self._capacity = capacity
        self._turns: OrderedDict[str, RememberedTurn] = OrderedDict()

    def remember(self, request_id: str, parts: Sequence[Part]) -> None:
        """Keep a turn that called tools and thought (other turns need nothing restored)."""
        turn = RememberedTurn(request_id, tuple(parts))
        if not turn.calls or not any(isinstance(p, ReasoningPart) for p in turn.parts):
            return
        for call in turn.calls:
            self._turns[call.id] = turn
            self._turns.move_to_end(call.id)
        while len(self._turns) > self._capacity:
            self._turns.popitem(last=False)
        if self._save is not None:
            try:
                self._save(turn)
            except Exception:  # remembering must never break a response
                log.exception("could not queue reasoning of %s for the store", request_id)

    async def restore(self, request: ChatRequest) -> tuple[ChatRequest, list[str]]:
        """The request with dropped reasoning put back, and notes saying what was done."""
        wanting = [
            i for i, m in enumerate(request.messages) if m.role == "assistant" and _wants(m)
        ]
        if not wanting:
            return request, []
        turns = await self._find(
            [request.messages[i].tool_calls[0].id for i in wanting]
        )
        messages = list(request.messages)
        restored = 0
        notes: list[str] = []
        for i in wanting:
            message = messages[i]
            first = message.tool_calls[0]
            turn = turns.get(first.id)
            if turn is None:
                continue
            if not _same_calls(message.tool_calls, turn.calls):
                notes.append(
                    f"reasoning for tool call {first.id} not restored: the history's calls"
                    " differ from the ones the model made"
                )
                continue
            merged = message.with_parts(_merge(message, turn))
            if _content_of(merged.reasoning) != _content_of(message.reasoning):
                restored += 1
            messages[i] = merged
        if restored:
            turns_word = "turn" if restored == 1 else "turns"
            notes.insert(
                0,
                f"restored the reasoning (text and provider state) of {restored} earlier"
                f" tool-call {turns_word}, which the client sent back incomplete or not at all",
            )
        return request.with_messages(messages), notes

    async def _find(self, call_ids: Sequence[str]) -> dict[str, RememberedTurn]:
        found = {cid: self._turns[cid] for cid in call_ids if cid in self._turns}
        missing = [cid for cid in call_ids if cid not in found]
        if missing and self._lookup is not None:
            try:
                stored = await self._lookup(missing)
            except Exception:
                log.exception("could not read remembered reasoning from the store")
                return found
            for call_id, turn in stored.items():
                self._turns[call_id] = turn  # the loop's next turns will want it again
            found.update(stored)
        return found


def _wants(message: Message) -> bool:
    """An assistant turn with tool calls. What ponder remembers of it (verified against the
    calls) is the whole truth, so it is preferred over whatever the client kept: most
    clients keep at best the text, never a signature."""
    return bool(message.tool_calls)


def _content_of(parts: Sequence[ReasoningPart]) -> list[tuple[object, ...]]:
    """What a reasoning part carries, leaving out who produced it."""
    return [(p.text, p.signature, p.redacted, dict(p.state or {})) for p in parts]


def _arguments(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _same_calls(sent: Sequence[ToolCallPart], remembered: Sequence[ToolCallPart]) -> bool:
    """Same ids, names and arguments (compared as JSON: clients re-serialise them)."""
    if len(sent) != len(remembered):
        return False
    by_id = {c.id: c for c in remembered}
    for call in sent:
        other = by_id.get(call.id)
        if other is None or other.name != call.name:
            return False
        if _arguments(other.arguments) != _arguments(call.arguments):
            return False
    return True


def _merge(message: Message, turn: RememberedTurn) -> list[Part]:
    """The remembered order, with the client's own text and calls in their places."""
    calls = {c.id: c for c in message.tool_calls}
    texts = [p for p in message.parts if isinstance(p, TextPart)]
    others = [
        p for p in message.parts if not isinstance(p, TextPart | ToolCallPart | ReasoningPart)
    ]
    out: list[Part] = []
    placed_text = False
    for part in turn.parts:
        if isinstance(part, ReasoningPart):
            out.append(part)
        elif isinstance(part, TextPart):
            if not placed_text:
                out.extend(texts)
                placed_text = True
        elif isinstance(part, ToolCallPart) and part.id in calls:
            out.append(calls.pop(part.id))
    if not placed_text:
        out.extend(texts)
    out.extend(calls.values())
    out.extend(others)
    return out
