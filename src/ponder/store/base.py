"""The one interface every trace-store backend implements, and the query it answers.

A backend is bound to the event loop that opened it (PostgreSQL's pool is): the writer
thread opens its own instance, the server's loop another one for reads. Every method a
reader or the writer needs is here, so adding a table (say, reasoning saved per tool call)
is one more pair of methods each backend implements, and nothing above the store changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ponder.store.record import (
    ConversationSummary,
    ReasoningRecord,
    ResponseRecord,
    TraceRecord,
)

Sort = Literal["created", "cost"]
SORTS: tuple[Sort, ...] = ("created", "cost")


@dataclass(frozen=True, slots=True)
class TraceQuery:
    model: str | None = None
    mode: str | None = None
    status: str | None = None
    since: float | None = None  # unix seconds, inclusive
    before: float | None = None  # unix seconds, exclusive (the next page of a listing)
    text: str | None = None  # substring of prompt or answer
    request_id: str | None = None
    conversation_id: str | None = None  # one chat's turns (the web UI's conversation id)
    min_cost_usd: float | None = None  # only priced traces costing at least this
    sort: Sort = "created"  # newest first, or dearest first (unpriced last)
    limit: int | None = 50


def where_clause(q: TraceQuery, mark: str, contains: str) -> tuple[str, list[Any]]:
    """The query's filters as `` WHERE …`` (or ``""``) and its arguments, in one dialect:
    ``mark`` is the placeholder (``?``, ``%s``), ``contains`` the substring test with two
    placeholders for the column and the needle (``instr({}, {}) > 0``)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("model", q.model),
        ("mode", q.mode),
        ("status", q.status),
        ("request_id", q.request_id),
        ("conversation_id", q.conversation_id),
    ):
        if value:
            where.append(f"{column} = {mark}")
            args.append(value)
    if q.since is not None:
        where.append(f"created_at >= {mark}")
        args.append(q.since)
    if q.before is not None:
        where.append(f"created_at < {mark}")
        args.append(q.before)
    if q.text:
        prompt = contains.format("lower(prompt)", mark)
        answer = contains.format("lower(answer)", mark)
        where.append(f"({prompt} OR {answer})")
        args.extend([q.text.lower(), q.text.lower()])
    if q.min_cost_usd is not None:
        where.append(f"cost_usd >= {mark}")
        args.append(q.min_cost_usd)
    return (" WHERE " + " AND ".join(where)) if where else "", args


class StoreUnavailable(Exception):
    """The database did not answer (down, unreachable, timed out): worth retrying later."""


class TraceStore(ABC):
    """A trace store backend. ``label`` names it for people (never with a password)."""

    label: str

    @abstractmethod
    async def open(self) -> list[str]:
        """Connect and apply pending migrations; return the names of those applied now."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def write(self, records: Sequence[TraceRecord]) -> None:
        """Insert ``records`` in one transaction. Idempotent by ``request_id``: writing a
        trace twice (a journal replayed after a half-finished attempt) keeps one row.

        Raises :class:`StoreUnavailable` when the database cannot be reached.
        """

    @abstractmethod
    async def query(self, q: TraceQuery) -> list[TraceRecord]:
        """Matching traces, newest first."""

    @abstractmethod
    async def write_reasoning(self, records: Sequence[ReasoningRecord]) -> None:
        """Save tool-call turns' reasoning, one row per call id (the latest wins).

        Raises :class:`StoreUnavailable` when the database cannot be reached.
        """

    @abstractmethod
    async def find_reasoning(self, call_ids: Sequence[str]) -> list[ReasoningRecord]:
        """The saved reasoning for those of ``call_ids`` the store has."""

    @abstractmethod
    async def spend_since(self, model: str, since: float) -> float:
        """USD the traces of ``model`` cost since ``since`` (unix seconds), for spend caps."""

    @abstractmethod
    async def write_responses(self, records: Sequence[ResponseRecord]) -> None:
        """Save Responses API conversations, one row per response id.

        Raises :class:`StoreUnavailable` when the database cannot be reached.
        """

    @abstractmethod
    async def find_response(self, response_id: str) -> ResponseRecord | None:
        """The saved conversation of ``response_id``, or None."""

    @abstractmethod
    async def conversations(
        self, limit: int, before: float | None = None
    ) -> list[ConversationSummary]:
        """Conversations, most recently active first (``before``: only those last active
        before that time, unix seconds: the next page)."""

    @abstractmethod
    async def delete_conversation(self, conversation_id: str) -> int:
        """Delete a conversation's traces; how many there were (0: no such conversation).

        Raises :class:`StoreUnavailable` when the database cannot be reached.
        """
