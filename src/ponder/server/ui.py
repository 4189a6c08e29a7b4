"""The web chat UI's routes: ``/`` (the page), ``/ui/...`` (its static assets) and
``POST /api/verify`` (verdicts for the race view).

The assets are plain files shipped in the package (``static/``); there is no build step at
run time. The page is served with a strict Content-Security-Policy (scripts and styles only
from this origin, no inline script, no plugins, no framing), a second line of defence behind
the UI's own rule that model output is only ever inserted as text or as sanitised Markdown.

Mount with ``routes=[*api_routes, *ui_routes()]`` in the app factory.
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from ponder.server.verify import MAX_PROMPT_CHARS, verify

STATIC_DIR = Path(__file__).parent / "static"
MAX_VERIFY_BODY = 256 * 1024

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


class _StaticAssets(StaticFiles):
    """Static files with the same security headers as the page, and JS typed as JS."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"cache-control", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def _error(status: int, message: str, code: str) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status)


async def verify_endpoint(request: Request) -> Response:
    """``{"prompt", "answer"}`` -> ``{"verifiable", "ok", "expected", "reason"}``."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_VERIFY_BODY:
            return _error(413, f"Body over {MAX_VERIFY_BODY} bytes.", "body_too_large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, 'Body must be JSON: {"prompt": str, "answer": str}.', "invalid_json")
    if not isinstance(data, dict):
        return _error(400, "Body must be a JSON object.", "invalid_json")
    prompt, answer = data.get("prompt"), data.get("answer")
    if not isinstance(prompt, str) or not isinstance(answer, str):
        return _error(400, "'prompt' and 'answer' must both be strings.", "invalid_parameter")
    if len(prompt) > MAX_PROMPT_CHARS:
        return _error(413, f"'prompt' over {MAX_PROMPT_CHARS} characters.", "prompt_too_long")
    return JSONResponse(verify(prompt, answer).as_dict())


def ui_routes() -> list[BaseRoute]:
    """The UI's routes, for the gateway's app factory."""
    return [
        Route("/", index, methods=["GET", "HEAD"], name="ui_index"),
        Mount("/ui", app=_StaticAssets(directory=STATIC_DIR), name="ui"),
        Route("/api/verify", verify_endpoint, methods=["POST"], name="ui_verify"),
    ]
