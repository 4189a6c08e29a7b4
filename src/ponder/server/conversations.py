"""Conversations that last: a chat's turns, kept in the trace store, read back by the UI.

A client names the chat a request belongs to with the header ``x-ponder-conversation`` (the
web UI makes one id per conversation and keeps it in the tab); the id is saved with the
trace. ``GET /api/conversations/{id}`` returns the turns in order, each with its prompt,
thoughts, answer and phase timings, so a reloaded page shows the chat as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse

from ponder.server.errors import ParamError
from ponder.server.gateway import Gateway
from ponder.store.base import TraceQuery

HEADER = "x-ponder-conversation"
MAX_TURNS = 200
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def conversation_header(headers: Mapping[str, str]) -> str | None:
    """The request's conversation id, or None; a malformed one is a clear 400."""
    raw = headers.get(HEADER)
    if raw is None or raw == "":
        return None
    return checked_id(raw, HEADER)


def checked_id(raw: str, where: str) -> str:
    if not _ID.fullmatch(raw):
        raise ParamError(
            where, f"'{where}' must be 1 to 64 letters, digits, '-' or '_' (a conversation id)."
        )
    return raw


async def api_conversation(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    conversation_id = checked_id(request.path_params["conversation_id"], "conversation_id")
    records = await gateway.read_traces(
        TraceQuery(conversation_id=conversation_id, limit=MAX_TURNS)
    )
    turns = [r.to_dict() for r in reversed(records)]  # oldest first: the order of the chat
    return JSONResponse({"id": conversation_id, "object": "conversation", "turns": turns})
