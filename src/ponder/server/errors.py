"""Gateway-side errors and their OpenAI-shaped JSON responses.

Everything that leaves the server as an error goes through :func:`error_response`, which
redacts every known secret from the message first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.responses import JSONResponse

from ponder.errors import InvalidRequestError, PonderError, UnknownModelError, redact
from ponder.events import Failed
from ponder.server.wire import error_body, error_type


class ParamError(InvalidRequestError):
    """A request field is missing or has the wrong type or value."""

    code = "invalid_value"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class MalformedJSONError(InvalidRequestError):
    code = "invalid_json"


class BodyTooLargeError(InvalidRequestError):
    code = "request_too_large"
    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body exceeds the limit of {limit} bytes.")


class AuthError(PonderError):
    side = "client"
    code = "invalid_api_key"
    http_status = 401


class NotFoundError(PonderError):
    side = "client"
    code = "not_found"
    http_status = 404


class StoreDownError(PonderError):
    """The trace store did not answer a read (writes queue and journal; reads cannot)."""

    side = "ponder"
    code = "store_unavailable"
    http_status = 503


def _type_for(exc: PonderError) -> str:
    if isinstance(exc, AuthError):
        return "authentication_error"
    if isinstance(exc, UnknownModelError | NotFoundError):
        return "invalid_request_error"
    return error_type(exc.side)


# A front door whose clients expect another error shape registers its path prefix and a
# function (HTTP status, message) -> JSON body; every error under that prefix takes its shape.
DoorErrorBody = Callable[[int, str], dict[str, Any]]
_DOOR_ERROR_BODIES: dict[str, DoorErrorBody] = {}


def register_door_errors(prefix: str, body: DoorErrorBody) -> None:
    _DOOR_ERROR_BODIES[prefix] = body


def door_error_body(path: str | None) -> DoorErrorBody | None:
    if path is None:
        return None
    for prefix, body in _DOOR_ERROR_BODIES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return body
    return None


def error_response(
    exc: PonderError,
    secrets: Iterable[str | None] = (),
    headers: dict[str, str] | None = None,
    path: str | None = None,
) -> JSONResponse:
    if isinstance(exc, AuthError):
        headers = {**(headers or {}), "www-authenticate": "Bearer"}
    retry_after = getattr(exc, "retry_after_s", None)
    if isinstance(retry_after, int | float):
        headers = {**(headers or {}), "retry-after": str(max(1, round(retry_after)))}
    door_body = door_error_body(path)
    if door_body is not None:
        content = door_body(exc.http_status, redact(exc.message, secrets))
        return JSONResponse(content, status_code=exc.http_status, headers=headers)
    param = getattr(exc, "param", None)
    if isinstance(exc, UnknownModelError):
        param = "model"
    body = error_body(redact(exc.message, secrets), _type_for(exc), exc.code, param)
    if isinstance(exc, UnknownModelError):
        body["error"]["known_models"] = exc.known
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


def failure_status(event: Failed) -> int:
    """HTTP status for a request that failed before any byte of the answer was sent."""
    if event.status in (429, 503, 504):
        return event.status
    return {"client": 400, "config": 500, "upstream": 502, "network": 502}.get(event.side, 500)
