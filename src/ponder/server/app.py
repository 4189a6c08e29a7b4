"""The app factory: routes, middleware, error mapping and the lifespan.

The web UI plugs in through :func:`create_app`'s ``extra_routes``, or by shipping a module
``ponder.server.ui`` with ``ui_routes() -> list[BaseRoute]``, mounted after the API.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ponder.config import Config
from ponder.engine import Engine
from ponder.errors import PonderError, redact
from ponder.server import api
from ponder.server.chat import chat_completions
from ponder.server.conversations import (
    api_conversation,
    api_conversations,
    api_delete_conversation,
)
from ponder.server.errors import NotFoundError, door_error_body, error_response
from ponder.server.estimate_api import api_estimate
from ponder.server.gateway import Gateway, ServerSettings
from ponder.server.messages import count_tokens, messages
from ponder.server.middleware import BODY_SEND, GatewayMiddleware
from ponder.server.otel import RequestTracer
from ponder.server.responses import get_response, responses
from ponder.server.wire import error_body
from ponder.store.base import TraceQuery
from ponder.store.writer import TraceWriter

log = logging.getLogger("ponder.server")
UI_MODULE = "ponder.server.ui"
SEED_TRACES = 100
ESTIMATE_SEED_TRACES = 2000


def api_routes() -> list[BaseRoute]:
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
        Route("/v1/models", api.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", api.get_model, methods=["GET"]),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/openapi.json", api.openapi_json, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/api/config", api.api_config, methods=["GET"]),
        Route("/api/traces", api.api_traces, methods=["GET"]),
        Route("/api/estimate", api_estimate, methods=["POST"]),
        Route("/api/conversations", api_conversations, methods=["GET"]),
        Route("/api/conversations/{conversation_id}", api_conversation, methods=["GET"]),
        Route(
            "/api/conversations/{conversation_id}", api_delete_conversation, methods=["DELETE"]
        ),
        Route("/api/traces/{request_id}", api.api_trace, methods=["GET"]),
    ]


def ui_routes() -> list[BaseRoute]:
    """The web UI's routes when its module is installed, else none."""
    try:
        module = importlib.import_module(UI_MODULE)
        factory: Callable[[], list[BaseRoute]] = module.ui_routes
        return list(factory())
    except ModuleNotFoundError as exc:
        if exc.name == UI_MODULE:
            return []
        log.exception("web UI unavailable; serving the API only")
    except Exception:  # a broken UI must not take the API down with it
        log.exception("web UI unavailable; serving the API only")
    return []


async def _seed_latency(gateway: Gateway) -> None:
    """Warm the router's TTFA estimates from the most recent successful traces (on a shared
    database, those of every gateway: a new instance starts with the fleet's estimates)."""
    records = await gateway.read_traces(TraceQuery(status="ok", limit=SEED_TRACES))
    gateway.latency.seed(
        (r.mode, r.ttfa_ms)
        for r in reversed(records)
        if r.timed and r.mode and r.ttfa_ms is not None
    )


async def _seed_estimator(gateway: Gateway) -> None:
    """Give the wait estimator the recent history it predicts from (oldest first)."""
    records = await gateway.read_traces(TraceQuery(status="ok", limit=ESTIMATE_SEED_TRACES))
    gateway.estimator.observe_traces(reversed(records))


class GatewayApp(Starlette):
    """Starlette, with the server's own ``send`` kept for streamed body frames.

    Starlette wraps ``send`` in its outermost layer (the one that answers an unhandled error
    with a 500) before any middleware of ours runs; a streamed frame would go through that
    wrapper, a Python call per chunk that only ever looks at the response head. The head
    still goes through every layer (see ``middleware.BODY_SEND``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[BODY_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(
    config: Config,
    settings: ServerSettings | None = None,
    *,
    writer: TraceWriter | None = None,
    engine: Engine | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    tracer: RequestTracer | None = None,
) -> Starlette:
    """``tracer``: where request spans go (default: OTLP when ``OTEL_EXPORTER_OTLP_*`` is
    set, else nowhere)."""
    settings = settings or ServerSettings()
    gateway = Gateway(config, settings, writer=writer, engine=engine, tracer=tracer)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            await _seed_latency(gateway)
        except Exception:
            log.exception("could not read recent traces to seed latency estimates")
        try:
            await _seed_estimator(gateway)
        except Exception:
            log.exception("could not read recent traces to seed wait estimates")
        yield
        gateway.draining = True
        if not await gateway.wait_idle(settings.drain_timeout_s):
            log.warning("%d request(s) still running at shutdown", gateway.active)
        await gateway.aclose()

    def rejected(code: str) -> None:
        gateway.metrics.rejected.inc((code,))

    async def ponder_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PonderError)
        rejected(exc.code)
        return error_response(exc, gateway.secrets, path=request.url.path)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(
                NotFoundError(f"No route for {request.url.path}."), path=request.url.path
            )
        door_body = door_error_body(request.url.path)
        if door_body is not None:
            return Response(
                _json(door_body(exc.status_code, str(exc.detail))), status_code=exc.status_code,
                media_type="application/json", headers=exc.headers,
            )  # fmt: skip
        body = error_body(str(exc.detail), "invalid_request_error", f"http_{exc.status_code}")
        return Response(
            _json(body), status_code=exc.status_code, media_type="application/json",
            headers=exc.headers,
        )  # fmt: skip

    async def internal_error(request: Request, exc: Exception) -> Response:
        trace = "".join(traceback.format_exception(exc))
        log.error("unhandled error on %s\n%s", request.url.path, redact(trace, gateway.secrets))
        message = f"Internal error ({type(exc).__name__}); see the server log."
        door_body = door_error_body(request.url.path)
        if door_body is not None:
            return Response(_json(door_body(500, message)), status_code=500,
                            media_type="application/json")  # fmt: skip
        body = error_body(message, "server_error", "internal_error")
        return Response(_json(body), status_code=500, media_type="application/json")

    app = GatewayApp(
        routes=[*api_routes(), *extra_routes, *ui_routes()],
        middleware=[Middleware(GatewayMiddleware, api_key=settings.api_key, on_reject=rejected)],
        exception_handlers={
            PonderError: ponder_error,
            HTTPException: http_error,
            Exception: internal_error,
        },
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    return app


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode()
