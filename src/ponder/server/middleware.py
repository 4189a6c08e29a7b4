"""A pure-ASGI middleware: a request id on every response, and the bearer-token check.

``x-ponder-request-id`` is minted here (the chat handler reuses it as the request's id) and
added to every response's headers. When the gateway has an API key, the API paths
(``/v1/``, ``/api/``, ``/metrics``) need ``Authorization: Bearer <key>`` (or
``x-api-key: <key>``, as Anthropic clients send it); ``/healthz`` and
the web UI's static assets do not.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ponder.server.errors import AuthError, error_response

REQUEST_ID_HEADER = b"x-ponder-request-id"
# scope["state"] key: the server's own ``send`` (``app.GatewayApp`` puts it there; else the one
# this middleware was given). A streaming response sends its head through the full chain
# (which adds the request id and tells every layer the response started) and its body frames
# here, past the wrappers that only look at the head: each is a Python call per chunk.
BODY_SEND = "ponder.body_send"
PROTECTED_PREFIXES = ("/v1/", "/api/", "/metrics")


class _RandomPool:
    """Random bytes from ``os.urandom``, fetched 4 KiB at a time: a ``getrandom`` system call
    per request id is measurable on the gateway's per-request path (and dearer still in
    sandboxes that trap system calls). The bytes are as unpredictable as ``os.urandom``'s:
    an id can name a stored response, so it must not be guessable."""

    __slots__ = ("_buffer", "_offset")
    SIZE = 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0

    def take(self, n: int) -> bytes:
        # Called from the event loop only; no lock. (After a fork, a child must not reuse
        # the parent's unread bytes: the pool is refilled in the child, see below.)
        start = self._offset
        if start + n > len(self._buffer):
            self._buffer, start = os.urandom(self.SIZE), 0
        self._offset = start + n
        return self._buffer[start : start + n]

    def reset(self) -> None:
        self._buffer, self._offset = b"", 0


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.reset)


def new_request_id() -> str:
    # 80 random bits, as uuid4().hex[:20] gave, without a UUID object or a system call each.
    return "req_" + _pool.take(10).hex()


class GatewayMiddleware:
    def __init__(
        self, app: ASGIApp, api_key: str | None, on_reject: Callable[[str], None] | None = None
    ) -> None:
        self.app = app
        self._expected = f"Bearer {api_key}".encode() if api_key else None
        self._on_reject = on_reject

    def _authorised(self, scope: Scope) -> bool:
        if self._expected is None or not scope["path"].startswith(PROTECTED_PREFIXES):
            return True
        headers = Headers(scope=scope)
        given = headers.get("authorization", "").encode()
        if hmac.compare_digest(given, self._expected):
            return True
        # Anthropic clients send the key as x-api-key (Claude Code's ANTHROPIC_API_KEY).
        key = headers.get("x-api-key")
        return key is not None and hmac.compare_digest(b"Bearer " + key.encode(), self._expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state.setdefault(BODY_SEND, send)  # GatewayApp puts the server's own there first
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        if not self._authorised(scope):
            error = AuthError(
                "Missing or wrong API key: send 'Authorization: Bearer <PONDER_API_KEY>'"
                " (or 'x-api-key: <PONDER_API_KEY>')."
            )
            if self._on_reject is not None:
                self._on_reject(error.code)
            response = error_response(error, path=scope["path"])
            await response(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)
