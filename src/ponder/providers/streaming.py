"""The streaming requests' transport: aiohttp, chosen by measurement.

``benchmarks/gateway_overhead.py`` (64 streams of 32 deltas through ``ponder serve``) measured
the gateway's CPU per streamed request at 5.4–6.3 ms with httpx and 1.9–2.0 ms with this
transport, and a minimal pass-through proxy at 0.9–1.2 ms with aiohttp against 4–12 ms with
httpx. py-spy showed why: httpcore's connection pool scans every pooled connection (a socket
poll each) on every request and every response close — 15% of the gateway's CPU at 64 streams,
more with a larger pool — and its chunked reader costs more per chunk. One-shot
requests (non-streaming calls, readiness probes) stay on the provider's ``httpx.AsyncClient``,
whose base URL, headers and timeouts this transport reuses, so a provider configures one
client.

One :class:`aiohttp.ClientSession` per httpx client and event loop (sessions are bound to the
loop they were made in), made on the first stream and closed with the provider.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import weakref
from collections.abc import AsyncGenerator, Mapping
from typing import Any, NamedTuple

import aiohttp
import httpx
import orjson

# Headers httpx adds on its own that aiohttp sets itself (or must not forward as they are).
_TRANSPORT_HEADERS = frozenset({"connection", "accept-encoding", "content-length", "host"})

class _Session(NamedTuple):
    """What a client's streams share on one event loop, worked out once: the aiohttp
    session, the proxy, the base URL and the client's own headers as aiohttp gets them
    (httpx's ``Headers`` and ``URL`` cost a few microseconds each to read, per request)."""

    loop: asyncio.AbstractEventLoop
    session: aiohttp.ClientSession
    proxy: str | None
    base_url: str
    headers: dict[str, str]


_sessions: weakref.WeakKeyDictionary[httpx.AsyncClient, _Session] = weakref.WeakKeyDictionary()


def env_proxy(url: str) -> str | None:
    """The proxy ``HTTP(S)_PROXY`` names for ``url`` (None when ``NO_PROXY`` exempts it), as
    httpx reads it. Resolved once per session: aiohttp's own ``trust_env`` re-reads the
    environment and ``~/.netrc`` on every request (measured: a tenth of the gateway's CPU)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


def _session(client: httpx.AsyncClient) -> tuple[aiohttp.ClientSession, str | None]:
    shared = _shared(client)
    return shared.session, shared.proxy


def _shared(client: httpx.AsyncClient) -> _Session:
    loop = asyncio.get_running_loop()
    cached = _sessions.get(client)
    if cached is not None and cached.loop is loop and not cached.session.closed:
        return cached
    session = aiohttp.ClientSession(
        # As many connections as streams; idle ones kept for reuse (no per-request connect).
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
        # The read timeout is :class:`_ReadWatch`'s, not aiohttp's sock_read (see there).
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=client.timeout.connect),
    )
    base_url = str(client.base_url).rstrip("/")
    headers = {k: v for k, v in client.headers.items() if k.lower() not in _TRANSPORT_HEADERS}
    shared = _sessions[client] = _Session(loop, session, env_proxy(base_url), base_url, headers)
    return shared


async def close_session(client: httpx.AsyncClient) -> None:
    """Close the client's streaming session (when it belongs to the running loop)."""
    cached = _sessions.pop(client, None)
    if cached is None:
        return
    if cached.loop is asyncio.get_running_loop():
        await cached.session.close()


class StreamError(Exception):
    """The upstream answered with an error status; its body is read."""

    def __init__(
        self, status: int, reason: str, retry_after: str, body: bytes, retry_after_ms: str = ""
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.reason, self.retry_after, self.body = status, reason, retry_after, body
        self.retry_after_ms = retry_after_ms  # OpenAI's and Azure's finer Retry-After


def encode_body(body: Mapping[str, Any]) -> bytes:
    """A request body as httpx encodes ``json=``: compact, UTF-8. orjson writes the same bytes
    in about half the time (a NaN, which httpx refuses, it writes as null); what it cannot
    encode (an integer past 64 bits, a key that is not a string) goes through ``json``."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class _ReadWatch:
    """The read timeout of one response: no more than ``timeout`` seconds between two chunks.

    aiohttp's ``sock_read`` does this by cancelling and re-arming a timer on every chunk,
    which on uvloop is a libuv timer stopped and started per chunk: measured, a tenth of the
    gateway's CPU per streamed request (``benchmarks/gateway_overhead.py``). This keeps one
    timer per response: a chunk only notes when it came, and when the timer fires early (data
    came since it was set) it is set again for ``timeout`` after the latest chunk. When the
    gap is over, the body reader fails with :class:`TimeoutError`, as ``sock_read`` would.
    """

    __slots__ = ("_handle", "_loop", "_reader", "_timeout", "last")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, reader: aiohttp.StreamReader
    ) -> None:
        self._loop, self._timeout, self._reader = loop, timeout, reader
        self.last = loop.time()
        self._handle = loop.call_at(self.last + timeout, self._check)

    def _check(self) -> None:
        due = self.last + self._timeout
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self._reader.set_exception(
            TimeoutError(f"no data for {self._timeout:g} s (the read timeout)")
        )

    def cancel(self) -> None:
        self._handle.cancel()


async def stream_bytes(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    on_start: Any,
) -> AsyncGenerator[bytes, None]:
    """The response body as it arrives. Raises :class:`StreamError` for an error status,
    ``aiohttp.ClientError`` or ``TimeoutError`` for transport failures; calls ``on_start()``
    once the response started (so a caller can tell a drop mid-stream from no connection)."""
    shared = _shared(client)
    merged = {**shared.headers, **headers} if headers else dict(shared.headers)
    payload = None
    if body is not None:
        payload = encode_body(body)
        merged["content-type"] = "application/json"
    read_timeout = client.timeout.read
    request = shared.session.request(
        method, shared.base_url + url, data=payload, headers=merged, proxy=shared.proxy
    )
    # The wait for the response head is bounded by the read timeout too (one timer).
    async with asyncio.timeout(read_timeout):
        response = await request.__aenter__()
    try:
        if response.status >= 400:
            async with asyncio.timeout(read_timeout):
                data = await response.read()
            raise StreamError(response.status, response.reason or "",
                              response.headers.get("retry-after", ""), data,
                              response.headers.get("retry-after-ms", ""))
        on_start()
        if read_timeout is None:
            async for chunk in response.content.iter_any():
                yield chunk
            return
        loop = asyncio.get_running_loop()
        clock = loop.time
        watch = _ReadWatch(loop, read_timeout, response.content)
        try:
            async for chunk in response.content.iter_any():
                watch.last = clock()
                yield chunk
        finally:
            watch.cancel()
    finally:
        await request.__aexit__(None, None, None)
