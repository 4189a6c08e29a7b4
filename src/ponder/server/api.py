"""The small JSON endpoints: models, health, metrics, the OpenAPI description, and the web
UI's traces and config."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse

from ponder.config import AUTO, Config
from ponder.policies.status import prometheus_lines
from ponder.server.errors import NotFoundError, ParamError
from ponder.server.gateway import Gateway
from ponder.server.metrics import store_lines
from ponder.server.openapi import openapi
from ponder.store.base import SORTS, TraceQuery
from ponder.store.record import STATUSES

MODES = ("fast", "deep", AUTO)
MAX_TRACE_LIMIT = 500
_CREATED = int(time.time())


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def list_models(request: Request) -> JSONResponse:
    names = _gateway(request).config.names()
    data = [{"id": n, "object": "model", "created": _CREATED, "owned_by": "ponder"} for n in names]
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> JSONResponse:
    name = request.path_params["model"]
    gateway = _gateway(request)
    if name not in gateway.config.names():
        gateway.config.model(name)  # raises UnknownModelError listing the known models
    return JSONResponse({"id": name, "object": "model", "created": _CREATED, "owned_by": "ponder"})


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi(_gateway(request).config))


async def healthz(request: Request) -> JSONResponse:
    gateway = _gateway(request)
    status = "draining" if gateway.draining else "ok"
    return JSONResponse(
        {"status": status, "active_requests": gateway.active},
        status_code=503 if gateway.draining else 200,
    )


async def metrics(request: Request) -> PlainTextResponse:
    gateway = _gateway(request)
    extra = [
        "# HELP ponder_active_requests Chat requests in flight.",
        "# TYPE ponder_active_requests gauge",
        f"ponder_active_requests {gateway.active}",
        *prometheus_lines(gateway.engine.policies),
    ]
    if gateway.writer is not None:
        extra.extend(store_lines(gateway.writer.stats()))
    return PlainTextResponse(
        gateway.metrics.render(extra), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def model_summary(config: Config) -> list[dict[str, Any]]:
    """Models as the UI shows them: no base URLs, no key names, no options."""
    out = []
    for name in sorted(config.models):
        model = config.models[name]
        out.append(
            {
                "name": name,
                "provider": model.provider,
                "upstream_model": model.upstream_model,
                "mode": "deep" if model.thinking.enabled else "fast",
                "thinking": {
                    "enabled": model.thinking.enabled,
                    "budget": model.thinking.budget,
                    "effort": model.thinking.effort,
                },
            }
        )
    return out


async def api_config(request: Request) -> JSONResponse:
    gateway = _gateway(request)
    return JSONResponse(
        {
            "models": model_summary(gateway.config),
            "modes": list(MODES),
            "default_model": AUTO,
            "auth_required": gateway.settings.api_key is not None,
            "store": gateway.writer is not None,
        }
    )


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ParamError(name, f"'{name}' must be an integer between 1 and {high}.")
    return int(raw)


def _seconds_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ParamError(name, f"'{name}' must be unix seconds.") from None


def _usd_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ParamError(name, f"'{name}' must be a number of USD (0 or more).")
    return value


async def api_traces(request: Request) -> JSONResponse:
    gateway = _gateway(request)
    params = request.query_params
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise ParamError("status", f"'status' must be one of {', '.join(STATUSES)}.")
    sort = params.get("sort") or "created"
    if sort not in SORTS:
        raise ParamError("sort", f"'sort' must be one of {', '.join(SORTS)}.")
    query = TraceQuery(
        model=params.get("model") or None,
        mode=params.get("mode") or None,
        status=status,
        since=_seconds_param(request, "since"),
        before=_seconds_param(request, "before"),
        text=params.get("q") or None,
        min_cost_usd=_usd_param(request, "min_cost"),
        sort=sort,  # type: ignore[arg-type]
        limit=_int_param(request, "limit", 50, MAX_TRACE_LIMIT),
    )
    records = await gateway.read_traces(query)
    return JSONResponse({"object": "list", "data": [r.to_dict(with_text=False) for r in records]})


async def api_trace(request: Request) -> JSONResponse:
    gateway = _gateway(request)
    request_id = request.path_params["request_id"]
    records = await gateway.read_traces(TraceQuery(request_id=request_id, limit=1))
    if not records:
        raise NotFoundError(f"No trace with request id {request_id!r}.")
    return JSONResponse(records[0].to_dict())
