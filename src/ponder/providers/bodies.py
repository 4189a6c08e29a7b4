"""Streamed response bodies, parsed as they arrive, whatever the chunk boundaries.

- :class:`SSEParser` turns byte chunks into server-sent events: synchronous, so a provider
  reads its body in its own loop (``for sse in parser.feed(chunk)``) instead of through one
  more async generator layer per chunk, which is measurable on the gateway's hot path;
- :func:`sse_events` and :func:`ndjson_objects` send one request and yield its events or
  JSON lines, for the providers that need no more.

Lines end with \\n or \\r\\n and are decoded once complete, so a multi-byte character split
across chunks stays whole (bytes that are not UTF-8 are replaced, not fatal).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, NamedTuple

import httpx

from ponder.providers.http import BodyStream, parse_json


class SSEEvent(NamedTuple):
    # A named tuple, not a frozen dataclass: one is made per streamed chunk, and a tuple's
    # construction costs a third of a frozen dataclass's.
    event: str
    data: str


def _split_lines(pending: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    """The complete lines of ``pending + chunk``, and what is left of an unfinished one."""
    lines = (pending + chunk if pending else chunk).split(b"\n")
    return lines, lines.pop()


def _sse_field(raw: bytes, data: list[str], event: str) -> str:
    """One non-blank SSE line: a ``data`` line joins ``data``; returns the event name (an
    ``event`` line's value, else ``event`` unchanged). Comments and other fields are skipped."""
    line = raw.decode("utf-8", "replace")
    if line[0] == ":":
        return event
    name, _, value = line.partition(":")
    if value[:1] == " ":
        value = value[1:]
    if name == "data":
        data.append(value)
    elif name == "event":
        return value
    return event


class SSEParser:
    """The SSE format, incrementally: ``field: value`` lines, ``data`` lines joined with
    newlines, an event dispatched at a blank line, and, at :meth:`close`, the last event if
    the body ended without one. Comments and keep-alives yield nothing."""

    __slots__ = ("_data", "_event", "_pending")

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._pending = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events that ``chunk`` completes."""
        data = self._data
        if (
            # Most chunks are one whole event, one data line: read without splitting lines.
            not self._pending
            and not data
            and chunk[:6] == b"data: "
            and chunk.find(b"\n", 6) == len(chunk) - 2
            and chunk[-2:] == b"\n\n"
            and chunk[-3:-2] != b"\r"
        ):
            event, self._event = self._event or "message", ""
            return [SSEEvent(event, chunk[6:-2].decode("utf-8", "replace"))]
        lines, self._pending = _split_lines(self._pending, chunk)
        out: list[SSEEvent] = []
        for raw in lines:
            if raw[-1:] == b"\r":
                raw = raw[:-1]
            if not raw:
                if data:
                    out.append(SSEEvent(self._event or "message", "\n".join(data)))
                    data = self._data = []
                self._event = ""
            elif raw[:6] == b"data: ":  # the common case, first
                data.append(raw[6:].decode("utf-8", "replace"))
            else:
                self._event = _sse_field(raw, data, self._event)
        return out

    def close(self) -> list[SSEEvent]:
        """The event a body left unterminated (call once, when it ended)."""
        pending, self._pending = self._pending, b""
        if pending:
            self._event = _sse_field(pending.rstrip(b"\r"), self._data, self._event)
        data, self._data = self._data, []
        return [SSEEvent(self._event or "message", "\n".join(data))] if data else []


async def sse_events(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: Mapping[str, Any] | None,
    who: str,
    secrets: list[str | None],
    headers: Mapping[str, str] | None = None,
) -> AsyncGenerator[SSEEvent, None]:
    """Server-sent events of one request (comments and keep-alives skipped)."""
    stream = BodyStream(client, method, url, body, who, secrets, headers)
    parser = SSEParser()
    async with stream.reading() as chunks:
        async for chunk in chunks:
            for event in parser.feed(chunk):
                yield event
    for event in parser.close():
        yield event


async def _lines(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: Mapping[str, Any] | None,
    who: str,
    secrets: list[str | None],
    headers: Mapping[str, str] | None = None,
) -> AsyncGenerator[str, None]:
    """Send one request; yield the response body line by line as bytes arrive (a final line
    without a newline too). A \\r before the newline stays: JSON reads it as whitespace."""
    stream = BodyStream(client, method, url, body, who, secrets, headers)
    pending = b""
    async with stream.reading() as chunks:
        async for chunk in chunks:
            parts, pending = _split_lines(pending, chunk)
            for part in parts:
                yield part.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")


async def ndjson_objects(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    body: Mapping[str, Any] | None,
    who: str,
    secrets: list[str | None],
    headers: Mapping[str, str] | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """One JSON object per non-empty line of the response body."""
    async for line in _lines(client, method, url, body, who, secrets, headers):
        if line.strip():
            yield parse_json(who, line, secrets)
