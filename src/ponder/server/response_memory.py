"""Stored Responses API responses, for ``previous_response_id``.

A response stored (``store`` true, the API's default) keeps its conversation — the request's
messages without its ``instructions``, then the assistant turn it produced, reasoning with its
provider state included — in memory (the next turn of a Codex session comes seconds later)
and in the trace store (``responses`` table: restarts, other gateways on the same database).
A request naming it as ``previous_response_id`` continues from there.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from ponder.request import Message

log = logging.getLogger("ponder.server")
DEFAULT_CAPACITY = 2_000  # conversations held in memory (the store keeps all)

StoreLookup = Callable[[str], Awaitable[tuple[Message, ...] | None]]
StoreSave = Callable[[str, str, tuple[Message, ...]], None]


class ResponseMemory:
    def __init__(
        self,
        lookup: StoreLookup | None = None,
        save: StoreSave | None = None,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self._lookup = lookup
        self._save = save
        self._capacity = capacity
        self._conversations: OrderedDict[str, tuple[Message, ...]] = OrderedDict()

    def remember(self, response_id: str, request_id: str, messages: Sequence[Message]) -> None:
        conversation = tuple(messages)
        self._conversations[response_id] = conversation
        self._conversations.move_to_end(response_id)
        while len(self._conversations) > self._capacity:
            self._conversations.popitem(last=False)
        if self._save is not None:
            try:
                self._save(response_id, request_id, conversation)
            except Exception:  # storing must never break a response
                log.exception("could not queue response %s for the store", response_id)

    async def find(self, response_id: str) -> tuple[Message, ...] | None:
        found = self._conversations.get(response_id)
        if found is not None or self._lookup is None:
            return found
        try:
            stored = await self._lookup(response_id)
        except Exception:
            log.exception("could not read response %s from the store", response_id)
            return None
        if stored is not None:
            self._conversations[response_id] = stored
        return stored
