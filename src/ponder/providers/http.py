"""What every HTTP provider shares: the client, the streamed request, error mapping.

- :func:`make_client` builds one ``httpx.AsyncClient`` per provider with the model's timeout
  (the read timeout bounds the gap between two chunks, not the whole answer).
- :class:`BodyStream` is one streamed request's body, chunk by chunk, over aiohttp
  (:mod:`ponder.providers.streaming`: measured, a third of httpx's CPU per streamed
  request), configured from the provider's httpx client; :mod:`ponder.providers.bodies`
  parses it (SSE, NDJSON) whatever the chunk boundaries.
- Failures become the :mod:`ponder.errors` tree, with the key redacted from every message:
  an error status → :class:`UpstreamError` carrying the provider's own message from its JSON
  body; no connection or a timeout before the response → :class:`UpstreamUnreachableError`;
  a connection that drops after the response started, or a chunk that is not JSON →
  :class:`StreamBrokenError` (the engine keeps the deltas already yielded).
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import importlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson

from ponder.config import ModelConfig
from ponder.errors import (
    ConfigError,
    MissingKeyError,
    StreamBrokenError,
    UpstreamError,
    UpstreamUnreachableError,
    redact,
)
from ponder.providers import streaming
from ponder.providers.base import Availability, Provider


def _preload_network_backend() -> None:
    """httpx imports its async network backend on the first request (50–100 ms on a busy
    machine), which would count against that request's TTFT (and ``ponder chat`` makes only
    first requests). Load it with this module instead, before any request is timed."""
    for module in ("httpcore._backends.anyio", "anyio._backends._asyncio"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


_preload_network_backend()

CONNECT_TIMEOUT_S = 10.0
CHECK_TIMEOUT_S = 3.0
_MAX_MESSAGE = 400


def make_client(
    config: ModelConfig, base_url: str, headers: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """Built when the provider is created, not per request: creating a client loads TLS
    certificates (tens of milliseconds) and must not count against a request's TTFT.
    Keys are sent per request, so a key set after start-up is picked up."""
    connect = min(config.connect_timeout_s or CONNECT_TIMEOUT_S, config.timeout_s)
    timeout = httpx.Timeout(config.timeout_s, connect=connect)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"), headers=dict(headers or {}), timeout=timeout
    )


def label(config: ModelConfig, base_url: str) -> str:
    """How errors name the upstream: the model alias and the host it lives on."""
    host = urlsplit(base_url).netloc or base_url
    return f"model {config.name!r} ({host})"


# -- error mapping ---------------------------------------------------------------------------


def error_message(body: bytes, fallback: str) -> str:
    """The provider's own message from an error body (OpenAI, Anthropic, Ollama, FastAPI…)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    message: str | None = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            message = error
        elif isinstance(error, dict):
            raw = error.get("message") or error.get("detail") or error.get("msg")
            if isinstance(raw, str):
                message = raw
                kind = error.get("type") or error.get("code")
                if isinstance(kind, str) and kind and kind not in raw:
                    message = f"{raw} ({kind})"
        if message is None and isinstance(data.get("detail"), str):
            message = data["detail"]
    if message is None:
        message = text or fallback
    message = " ".join(message.split())
    return message[:_MAX_MESSAGE] + ("…" if len(message) > _MAX_MESSAGE else "")


def upstream_error(
    who: str, response: httpx.Response, body: bytes, secrets: Iterable[str | None]
) -> UpstreamError:
    """The error for an error response; says when to retry if the server said so."""
    return _status_error(who, response.status_code, response.reason_phrase, response.headers,
                         body, secrets)  # fmt: skip


def _status_error(who: str, status: int, reason: str, headers: Mapping[str, str], body: bytes,
                  secrets: Iterable[str | None]) -> UpstreamError:  # fmt: skip
    message = error_message(body, reason or "no message")
    wait = retry_after_s(headers)
    if wait is not None:
        message += f" (retry after {wait:g} s)"
    return UpstreamError(who, status, redact(message, list(secrets)), wait)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """How long the server asked us to wait: ``retry-after-ms`` (OpenAI, Azure), else
    ``Retry-After`` in seconds or as an HTTP date; None when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms", "").strip()
    with contextlib.suppress(ValueError):
        if raw_ms:
            return max(0.0, float(raw_ms) / 1000)
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(raw))
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def transport_error(
    who: str,
    exc: httpx.TransportError | aiohttp.ClientError | TimeoutError,
    started: bool,
    secrets: Iterable[str | None],
) -> StreamBrokenError | UpstreamUnreachableError:
    detail = redact(str(exc) or type(exc).__name__, secrets)
    timed_out = isinstance(exc, httpx.TimeoutException | TimeoutError)
    if started:
        what = "no data arrived within the read timeout" if timed_out else "the connection dropped"
        return StreamBrokenError(
            f"{who}: {what} in the middle of the stream ({type(exc).__name__}: {detail});"
            " the thoughts and answer that arrived are kept."
        )
    if timed_out:
        return UpstreamUnreachableError(f"{who}: timed out waiting for the server ({detail}).")
    return UpstreamUnreachableError(
        f"{who}: cannot reach the server ({type(exc).__name__}: {detail}). Is it running?"
    )


def malformed(who: str, what: str, raw: str, secrets: Iterable[str | None]) -> StreamBrokenError:
    sample = redact(raw[:120], secrets)
    return StreamBrokenError(
        f"{who}: malformed chunk in the stream ({what}): {sample!r};"
        " the thoughts and answer that arrived are kept."
    )


def parse_json(who: str, raw: str | bytes, secrets: Iterable[str | None]) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)  # about a third of json.loads's time per chunk
    except orjson.JSONDecodeError:
        # orjson refuses what json reads as NaN/Infinity (and reads integers past 64 bits as
        # floats; no chunk field a provider sends is one).
        try:
            data = json.loads(raw)
        except ValueError:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            raise malformed(who, "not JSON", text, secrets) from None
    if not isinstance(data, dict):
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        raise malformed(who, "not a JSON object", text, secrets)
    return data


# -- requests --------------------------------------------------------------------------------


class BodyStream:
    """One streamed request's body chunks, with transport failures mapped to the errors tree.

    Used as ``async with stream.reading() as chunks: async for chunk in chunks: …`` so a
    parser (:mod:`ponder.providers.bodies`) reads the body in its own loop (a generator layer
    per line or chunk is measurable on the gateway's hot path) and still raises
    :mod:`ponder.errors` exceptions.
    """

    __slots__ = ("body", "client", "headers", "method", "secrets", "started", "url", "who")

    def __init__(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        body: Mapping[str, Any] | None,
        who: str,
        secrets: list[str | None],
        headers: Mapping[str, str] | None,
    ) -> None:
        self.client, self.method, self.url, self.body = client, method, url, body
        self.who, self.secrets, self.headers = who, secrets, headers
        self.started = False

    def _on_start(self) -> None:
        self.started = True

    def chunks(self) -> AsyncGenerator[bytes, None]:
        return streaming.stream_bytes(
            self.client, self.method, self.url, self.body, self.headers, self._on_start
        )

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncGenerator[bytes, None]]:
        """The body's chunks, closed on leaving (which cancels the request if it is still
        running), with failures inside mapped by :meth:`errors`."""
        with self.errors():
            async with contextlib.aclosing(self.chunks()) as chunks:
                yield chunks

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except streaming.StreamError as exc:
            waits = {"retry-after": exc.retry_after, "retry-after-ms": exc.retry_after_ms}
            raise _status_error(
                self.who, exc.status, exc.reason, waits, exc.body, self.secrets
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(self.who, exc, self.started, self.secrets) from None


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: Mapping[str, Any] | None,
    who: str,
    secrets: list[str | None],
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One non-streaming request; the decoded JSON object of a successful response."""
    try:
        response = await client.request(method, url, json=body, headers=headers)
    except httpx.TransportError as exc:
        raise transport_error(who, exc, False, secrets) from None
    if response.status_code >= 400:
        raise upstream_error(who, response, response.content, secrets)
    return parse_json(who, response.text, secrets)


async def probe(
    client: httpx.AsyncClient,
    url: str,
    who: str,
    secrets: list[str | None],
    headers: Mapping[str, str] | None = None,
) -> tuple[bool, str]:
    """A cheap GET for readiness checks: (usable, what a person should know)."""
    try:
        response = await client.get(url, timeout=CHECK_TIMEOUT_S, headers=headers)
    except httpx.TransportError as exc:
        return False, transport_error(who, exc, False, secrets).message
    if response.status_code >= 400:
        error = upstream_error(who, response, response.content, secrets)
        return False, error.message
    return True, "ready"


# -- the base of HTTP providers --------------------------------------------------------------


class HTTPProvider(Provider):
    """A provider that talks HTTP to one base URL with an optional key from the environment.

    The client is made once, with the provider; the key is read and sent per request (so a
    missing key fails the request, naming the variable to set, and never the construction).
    """

    default_base_url: ClassVar[str] = ""
    probe_path: ClassVar[str] = "/models"  # GET by check(), relative to the base URL

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        if not self.base_url:
            raise ConfigError(f'[models.{config.name}] needs base_url = "http…".')
        self.who = label(config, self.base_url)
        self._client: httpx.AsyncClient | None = make_client(
            config, self.base_url, self.static_headers()
        )

    def static_headers(self) -> dict[str, str]:
        return {}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # used again after aclose()
            self._client = make_client(self.config, self.base_url, self.static_headers())
        return self._client

    def credentials(self) -> tuple[dict[str, str], list[str | None]]:
        """(headers carrying the key, the secrets to redact); raises MissingKeyError."""
        key = self.config.api_key()
        if self.config.api_key_env and key is None:
            raise MissingKeyError(self.name, self.config.api_key_env)
        return (self.auth_headers(key) if key else {}), [key]

    async def check(self) -> Availability:
        try:
            headers, secrets = self.credentials()
        except MissingKeyError as exc:
            return Availability(False, exc.message)
        usable, detail = await probe(self.client, self.probe_path, self.who, secrets, headers)
        return Availability(usable, detail)

    async def aclose(self) -> None:
        if self._client is not None:
            await streaming.close_session(self._client)
            await self._client.aclose()
            self._client = None
