"""A conversation is the traces that share a ``conversation_id``, read as a log.

Nothing is ever rewritten: a regenerated reply or an edited message is a new request that
names the turn it answers (``turn_index``), and reading the log replays it — a request at
turn k drops turn k and everything after it, then takes its place. The replaced traces stay
in the store (History still shows them); the conversation no longer does.

The list's SQL is shared by both backends; they differ only in the placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ponder.store.record import ConversationSummary, TraceRecord

# The title is the prompt of the conversation's current first turn: of the traces at turn 0,
# the latest (an edit of the first message retitles it); a trace that names no turn (an
# older client's, or one from before turns were recorded) counts as turn 0 when it is the
# oldest.
_TITLE = (
    "(SELECT t.prompt FROM traces t WHERE t.conversation_id = c.conversation_id"
    " ORDER BY COALESCE(t.turn_index, 0),"
    " CASE WHEN t.turn_index IS NULL THEN t.created_at ELSE -t.created_at END, t.id LIMIT 1)"
)


def list_sql(mark: str, before: float | None) -> str:
    """Conversations, most recently active first, in one dialect (``mark``: ``?``, ``%s``);
    the arguments are ``[before]`` when given, then the limit."""
    page = f" WHERE c.last_at < {mark}" if before is not None else ""
    return (
        f"SELECT c.conversation_id, {_TITLE}, c.first_at, c.last_at, c.requests FROM ("
        "SELECT conversation_id, MIN(created_at) AS first_at, MAX(created_at) AS last_at,"
        " COUNT(*) AS requests FROM traces WHERE conversation_id IS NOT NULL"
        f" GROUP BY conversation_id) c{page}"
        f" ORDER BY c.last_at DESC, c.conversation_id LIMIT {mark}"
    )


def list_args(limit: int, before: float | None) -> list[Any]:
    return ([before] if before is not None else []) + [limit]


def summary(row: Iterable[Any]) -> ConversationSummary:
    conversation_id, title, first_at, last_at, requests = row
    return ConversationSummary(
        id=str(conversation_id),
        title=str(title or ""),
        created_at=float(first_at),
        updated_at=float(last_at),
        requests=int(requests),
    )


def current_turns(oldest_first: Iterable[TraceRecord]) -> list[TraceRecord]:
    """The conversation as it stands: each request, in the order they arrived, replaces the
    turn it names and every turn after it; one that names no turn (or a turn past the end)
    is the next turn."""
    turns: list[TraceRecord] = []
    for record in oldest_first:
        index = record.turn_index
        if index is not None and index < len(turns):
            del turns[index:]
        turns.append(record)
    return turns
