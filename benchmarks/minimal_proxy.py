"""The floor a Python gateway is measured against: a pass-through proxy with nothing in it.

Starlette on uvicorn (uvloop + httptools, as ``ponder serve`` runs), one route that forwards
the request body to the upstream and streams the response bytes back as they arrive — no
parsing, no events, no traces. The HTTP client is the variable: ``httpx`` or ``aiohttp``
(``pip install aiohttp``; a benchmark-only dependency).

Run: ``python benchmarks/minimal_proxy.py CLIENT UPSTREAM_ROOT PORT``; a request to
``/PATH`` goes to ``UPSTREAM_ROOT/PATH``. ``benchmarks/gateway_overhead.py`` starts it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

HEADERS = {"content-type": "application/json"}


def httpx_app(upstream: str) -> Starlette:
    import httpx

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=512)
    client = httpx.AsyncClient(base_url=upstream, timeout=120, limits=limits)

    async def relay(request: Request) -> Response:
        body = await request.body()
        outgoing = client.build_request("POST", request.url.path, content=body, headers=HEADERS)
        upstream_response = await client.send(outgoing, stream=True)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream_response.aiter_raw():
                    yield chunk
            finally:
                await upstream_response.aclose()

        return StreamingResponse(chunks(), upstream_response.status_code,
                                 media_type=upstream_response.headers.get("content-type"))

    return Starlette(routes=[Route("/{path:path}", relay, methods=["POST"])])


def aiohttp_app(upstream: str) -> Starlette:
    import aiohttp

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
        async with aiohttp.ClientSession(connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=120)) as session:
            state["session"] = session
            yield

    async def relay(request: Request) -> Response:
        body = await request.body()
        session: aiohttp.ClientSession = state["session"]
        upstream_response = await session.post(upstream + request.url.path, data=body,
                                               headers=HEADERS)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream_response.content.iter_any():
                    yield chunk
            finally:
                upstream_response.release()

        return StreamingResponse(chunks(), upstream_response.status,
                                 media_type=upstream_response.headers.get("content-type"))

    return Starlette(routes=[Route("/{path:path}", relay, methods=["POST"])], lifespan=lifespan)


APPS = {"httpx": httpx_app, "aiohttp": aiohttp_app}


def main() -> None:
    client, upstream, port = sys.argv[1], sys.argv[2].rstrip("/"), int(sys.argv[3])
    app = APPS[client](upstream)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
