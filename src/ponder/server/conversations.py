"""Conversations that last: a chat's turns, kept in the trace store, read back by the UI.

A client names the chat a request belongs to with the header ``x-ponder-conversation`` (the
web UI makes one id per conversation) and, optionally, the turn it answers with
``x-ponder-turn`` (0 = the first): both are saved with the trace. A request at a turn the
conversation already has replaces that turn and every turn after it — that is how a reply is
regenerated (in any mode) and how an edited message is sent again. Nothing stored is
rewritten; :func:`ponder.store.conversations.current_turns` reads the log.

``GET /api/conversations`` lists them, most recently active first; ``GET
/api/conversations/{id}`` returns the turns in order, each with its prompt, thoughts, answer
and phase timings, so a reloaded page shows the chat as it was; ``DELETE`` removes one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ponder.server.errors import NotFoundError, ParamError
from ponder.server.gateway import Gateway
from ponder.store.base import TraceQuery
from ponder.store.conversations import current_turns
from ponder.store.record import ConversationSummary

HEADER = "x-ponder-conversation"
TURN_HEADER = "x-ponder-turn"
MAX_REQUESTS = 1000  # traces read per conversation (replaced turns included)
MAX_TURN = 9999
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 200
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def conversation_headers(headers: Mapping[str, str]) -> tuple[str | None, int | None]:
    """The request's conversation id and turn, each None when not given; a malformed one
    (or a turn with no conversation) is a clear 400."""
    raw = headers.get(HEADER)
    conversation_id = checked_id(raw, HEADER) if raw else None
    turn = headers.get(TURN_HEADER)
    if not turn:
        return conversation_id, None
    if not turn.isdigit() or int(turn) > MAX_TURN:
        raise ParamError(
            TURN_HEADER,
            f"'{TURN_HEADER}' must be a whole number from 0 to {MAX_TURN}: the turn of the"
            " conversation this request answers (0 = the first).",
        )
    if conversation_id is None:
        raise ParamError(
            TURN_HEADER,
            f"'{TURN_HEADER}' needs '{HEADER}': a turn belongs to a conversation; send both.",
        )
    return conversation_id, int(turn)


def checked_id(raw: str, where: str) -> str:
    if not _ID.fullmatch(raw):
        raise ParamError(
            where, f"'{where}' must be 1 to 64 letters, digits, '-' or '_' (a conversation id)."
        )
    return raw


def _not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(
        f"No conversation {conversation_id!r}: the trace store has no turns with that id"
        " (never sent, or deleted). GET /api/conversations lists those it has."
    )


def _summary(c: ConversationSummary) -> dict[str, Any]:
    return {
        "id": c.id,
        "object": "conversation",
        "title": c.title,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "requests": c.requests,
    }


def _list_params(request: Request) -> tuple[int, float | None]:
    params = request.query_params
    raw_limit = params.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
            raise ParamError("limit", f"'limit' must be an integer between 1 and {MAX_LIST_LIMIT}.")
        limit = int(raw_limit)
    raw_before = params.get("before")
    if not raw_before:
        return limit, None
    try:
        return limit, float(raw_before)
    except ValueError:
        raise ParamError(
            "before", "'before' must be unix seconds (a conversation's updated_at)."
        ) from None


async def api_conversations(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    limit, before = _list_params(request)
    listed = await gateway.list_conversations(limit, before)
    return JSONResponse({"object": "list", "data": [_summary(c) for c in listed]})


async def api_conversation(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    conversation_id = checked_id(request.path_params["conversation_id"], "conversation_id")
    records = await gateway.read_traces(
        TraceQuery(conversation_id=conversation_id, limit=MAX_REQUESTS)
    )
    if not records:
        raise _not_found(conversation_id)
    turns = current_turns(reversed(records))  # oldest first: the order of the chat
    return JSONResponse(
        {
            "id": conversation_id,
            "object": "conversation",
            "title": turns[0].prompt,
            "requests": len(records),
            "turns": [r.to_dict() for r in turns],
        }
    )


async def api_delete_conversation(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    conversation_id = checked_id(request.path_params["conversation_id"], "conversation_id")
    deleted = await gateway.delete_conversation(conversation_id)
    if not deleted:
        raise _not_found(conversation_id)
    return JSONResponse(
        {"id": conversation_id, "object": "conversation.deleted", "deleted": True,
         "requests": deleted}
    )  # fmt: skip
