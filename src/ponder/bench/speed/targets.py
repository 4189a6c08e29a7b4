"""What a load step sends requests to, one metered request at a time.

- :class:`EndpointTarget`: a raw OpenAI-compatible base URL, through a lean HTTP/1.1 client
  on asyncio streams (keep-alive pool, incremental chunked + SSE parsing). It is the bench's
  own instrument: cheap enough per chunk that one process can drive hundreds of streams and
  still stamp each chunk within a fraction of a millisecond of its arrival
  (``benchmarks/bench_truth.py`` checks that against ``ponder stub``).
- :class:`EngineTarget`: a model from ``ponder.toml`` through :class:`ponder.engine.Engine`,
  the same path ``ponder chat`` and the gateway take (its provider's own HTTP client).

Either way every event goes through :class:`ponder.meter.Meter`, so each request gets
DESIGN.md's metrics; the thoughts are read as the ``openai`` provider reads them
(:func:`ponder.providers.openai_reader.reasoning_events`,
:class:`ponder.providers.deltas.DeltaTracker`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ponder.bench.speed.wire import ChunkedBody, SSEData, WireError
from ponder.events import Failed, FailureSide, Finished, now_ns
from ponder.meter import Meter, Metrics
from ponder.providers.deltas import DeltaTracker
from ponder.providers.http import error_message
from ponder.providers.openai_reader import finish_reason, reasoning_events

READ_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request's meter reading; ``error`` says what went wrong (None: it succeeded)."""

    metrics: Metrics
    error: str | None = None
    itl_ms: tuple[float, ...] = ()


class Target(Protocol):
    label: str

    async def send(self, prompt: str) -> Outcome: ...

    async def aclose(self) -> None: ...


def _failed(meter: Meter, side: FailureSide, code: str, message: str) -> Outcome:
    meter.feed(Failed(side, code, message))
    return Outcome(meter.metrics(), message, tuple(meter.itl_ms))


class _Stale(Exception):
    """A pooled keep-alive connection the server had already closed: retry on a fresh one."""


class EndpointTarget:
    """Chat Completions streaming against ``base_url`` (``http://host:port/v1``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        max_tokens: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        inline_tags: bool = False,
        timeout_s: float = 600.0,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL {base_url!r} must look like http://host:port/v1")
        self.label = f"{model} @ {base_url}"
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.path = (parts.path or "") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.extra_body = dict(extra_body or {})
        self.inline_tags = inline_tags
        self.timeout_s = timeout_s
        headers = f"POST {self.path} HTTP/1.1\r\nhost: {parts.netloc}\r\n"
        headers += "content-type: application/json\r\naccept: text/event-stream\r\n"
        if api_key:
            headers += f"authorization: Bearer {api_key}\r\n"
        self._head = headers.encode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def body(self, prompt: str) -> bytes:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        body.update(self.extra_body)
        return json.dumps(body).encode()

    async def send(self, prompt: str) -> Outcome:
        payload = self.body(prompt)
        request = self._head + b"content-length: %d\r\n\r\n" % len(payload) + payload
        meter = Meter(start_ns=now_ns())
        try:
            async with asyncio.timeout(self.timeout_s):
                for attempt in (0, 1):
                    connection = await self._connection(fresh=attempt == 1)
                    try:
                        return await self._exchange(connection, request, meter)
                    except _Stale:
                        continue
                return _failed(meter, "network", "upstream_unreachable",
                               "the server closed two connections in a row")
        except TimeoutError:
            return _failed(meter, "network", "timeout",
                           f"no complete answer within {self.timeout_s:g} s")
        except (OSError, WireError, ValueError) as exc:
            return _failed(meter, "network", "stream_broken", f"{type(exc).__name__}: {exc}")

    async def _connection(self, fresh: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle and not fresh:
            reader, writer = self._idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port, ssl=self.ssl,
                                             limit=READ_SIZE)

    async def _exchange(
        self,
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        request: bytes,
        meter: Meter,
    ) -> Outcome:
        reader, writer = connection
        writer.write(request)
        buffer = b""
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                writer.close()
                if not buffer:
                    raise _Stale
                raise WireError("the connection closed inside the response headers")
            buffer += data
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
        head, rest = buffer[:end].decode("latin-1").split("\r\n"), buffer[end + 4 :]
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        body = _Body(headers)
        if status >= 400:
            raw = body.feed(rest)
            while not body.done:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                raw += body.feed(data)
            self._release(connection, body, headers)
            message = error_message(raw, f"HTTP {status}")
            return _failed(meter, "upstream", "upstream_error", f"HTTP {status}: {message}")
        # Without --inline-tags, detect them as the openai provider does (content opening
        # with <think>); with it, every content delta goes through the splitter.
        tracker = DeltaTracker(inline_tags=True if self.inline_tags else None)
        stream = _StreamReader(meter, tracker)
        sse = SSEData()
        if "text/event-stream" not in headers.get("content-type", ""):
            raw = body.feed(rest)
            while not body.done:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                raw += body.feed(data)
            self._release(connection, body, headers)
            return stream.whole(raw)
        data = rest
        while True:
            if data:
                for event in sse.feed(body.feed(data)):
                    stream.event(event)
            if body.done:
                break
            data = await reader.read(READ_SIZE)
            if not data:
                if body.until_close:
                    break
                writer.close()
                return stream.broken("the connection dropped in the middle of the stream")
        for event in sse.close():
            stream.event(event)
        self._release(connection, body, headers)
        return stream.end()

    def _release(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 body: _Body, headers: Mapping[str, str]) -> None:
        if body.done and not body.until_close and headers.get("connection") != "close":
            self._idle.append(connection)
        else:
            connection[1].close()

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


class _Body:
    """The response body's framing: chunked, content-length, or until the server closes."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.chunked = ChunkedBody() if "chunked" in headers.get("transfer-encoding", "") else None
        length = headers.get("content-length")
        self.left = int(length) if self.chunked is None and length is not None else -1
        self.until_close = self.chunked is None and self.left < 0
        self.done = self.left == 0

    def feed(self, data: bytes) -> bytes:
        if self.chunked is not None:
            out = self.chunked.feed(data)
            self.done = self.chunked.done
            return out
        if self.left >= 0:
            data = data[: self.left]
            self.left -= len(data)
            self.done = self.left == 0
        return data


class _StreamReader:
    """Chat Completions chunks → events → the meter."""

    def __init__(self, meter: Meter, tracker: DeltaTracker) -> None:
        self.meter = meter
        self.tracker = tracker
        self.finish: str | None = None
        self.usage: Mapping[str, Any] | None = None
        self.done = False
        self.error: str | None = None

    def event(self, data: str) -> None:
        if self.done or self.error:
            return
        if data == "[DONE]":
            self.done = True
            return
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise WireError(f"a chunk that is not a JSON object: {data[:80]!r}")
        if chunk.get("error"):
            self.error = error_message(data.encode(), "unknown error")
            return
        self._choices(chunk, "delta")

    def _choices(self, chunk: Mapping[str, Any], key: str) -> None:
        meter, tracker = self.meter, self.tracker
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            part = choice.get(key)
            if isinstance(part, dict):
                for thought in reasoning_events(part):
                    meter.feed(tracker.thinking(thought))
                content = part.get("content")
                if isinstance(content, str) and content:
                    for event in tracker.content(content):
                        meter.feed(event)
            if choice.get("finish_reason") is not None:
                self.finish = choice["finish_reason"]
            if isinstance(choice.get("usage"), dict):
                self.usage = choice["usage"]
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]

    def whole(self, raw: bytes) -> Outcome:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise WireError("the response is not a JSON object")
        self._choices(data, "message")
        return self.end()

    def broken(self, why: str) -> Outcome:
        return _failed(self.meter, "network", "stream_broken", why)

    def end(self) -> Outcome:
        if self.error is not None:
            return _failed(self.meter, "upstream", "upstream_error", self.error)
        if self.finish is None and not self.done:
            return self.broken("the stream ended before the model finished (no finish_reason)")
        for event in self.tracker.close():
            self.meter.feed(event)
        usage = self.usage
        completion = usage.get("completion_tokens") if usage else None
        if usage is not None and isinstance(completion, int):
            details = usage.get("completion_tokens_details")
            reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
            prompt = usage.get("prompt_tokens")
            self.meter.feed(
                self.tracker.split_usage(
                    prompt if isinstance(prompt, int) else None,
                    completion,
                    reasoning if isinstance(reasoning, int) else None,
                )
            )
        reason = self.tracker.finish_reason(finish_reason(self.finish))
        self.meter.feed(Finished(reason))
        return Outcome(self.meter.metrics(), None, tuple(self.meter.itl_ms))


class EngineTarget:
    """A configured model, through the engine (router, provider, its HTTP client)."""

    def __init__(self, config: Any, model: str, max_tokens: int | None = None) -> None:
        from ponder.engine import Engine

        if model != "auto":
            config.model(model)  # an unknown name fails here, not in the middle of a run
        self.label = model
        self.model = model
        self.max_tokens = max_tokens
        self.engine = Engine(config)

    async def send(self, prompt: str) -> Outcome:
        from ponder.request import ChatRequest

        request = ChatRequest.from_prompt(prompt, model=self.model, max_tokens=self.max_tokens)
        meter = Meter()
        error: str | None = None
        async for event in self.engine.stream(request):
            meter.feed(event)
            if isinstance(event, Failed):
                error = event.message
        return Outcome(meter.metrics(), error, tuple(meter.itl_ms))

    async def aclose(self) -> None:
        await self.engine.aclose()

