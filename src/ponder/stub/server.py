"""The stub's HTTP/1.1 server: raw asyncio on loopback, so hundreds of streams cost little CPU
and every token leaves when its schedule says.

Endpoints: ``POST /v1/chat/completions`` (streaming SSE or one JSON response, thoughts in
``reasoning_content`` unless told otherwise), ``GET /v1/models``, ``GET /healthz`` (and
``/health``, as vLLM and SGLang name it), ``GET /stub/stats``. Requests are validated as
OpenAI does (JSON object, ``model`` string, non-empty ``messages`` array, boolean
``stream``; a bearer key when one is configured) and rejected with OpenAI-shaped errors.
A request may carry a ``stub`` object that overrides schedule fields for itself
(``{"stub": {"ttft_ms": 50}}``); ``max_tokens``/``max_completion_tokens`` cap the output.

Tokens are sent at absolute deadlines (request read + offset), so one late wake-up never
delays the tokens after it. The stub measures its own lateness (first token and first answer
token written − due) and serves it at ``GET /stub/stats``, so a benchmark can tell the
stub's share of a timing error from the client's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ponder.meter import percentile
from ponder.stub.schedule import Plan, Schedule, ScheduleError, plan
from ponder.tokens import estimate_tokens

REASONING_FIELDS = ("reasoning_content", "reasoning")
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StubSettings:
    schedule: Schedule = field(default_factory=Schedule)
    model: str = "ponder-stub"
    reasoning_field: str = "reasoning_content"
    api_key: str | None = None


class HTTPError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps(
            {"error": {"message": message, "type": kind, "param": param, "code": code}}
        ).encode()


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large"}


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _missing(name: str) -> HTTPError:
    return HTTPError(400, f"Missing required parameter: '{name}'.", param=name,
                     code="missing_required_parameter")


def _prompt_tokens(messages: list[Any]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += estimate_tokens(content)
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str):
                    total += estimate_tokens(text)
    return total


@dataclass(frozen=True, slots=True)
class StubRequest:
    index: int
    stream: bool
    include_usage: bool
    prompt_tokens: int
    plan: Plan


class StubServer:
    """Serve :class:`StubSettings` on ``host:port`` (port 0: any free port, see ``port``)."""

    def __init__(self, settings: StubSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        if settings.reasoning_field not in REASONING_FIELDS:
            raise ValueError(f"reasoning_field must be one of {', '.join(REASONING_FIELDS)}")
        self.settings = settings
        self.host = host
        self.port = port
        self.requests = 0
        self._counter = itertools.count()
        self._server: asyncio.Server | None = None
        # Written − due, in ms, of each stream's first token and first answer token.
        self.late_ms: dict[str, deque[float]] = {
            "first_token": deque(maxlen=100_000), "first_answer": deque(maxlen=100_000)}

    def stats(self) -> dict[str, object]:
        """Requests served and the stub's own lateness percentiles (ms)."""
        late = {name: {f"p{q}": percentile(list(values), q) for q in (50, 90, 99)}
                for name, values in self.late_ms.items()}
        return {"requests": self.requests, "late_ms": late}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port,
                                                  backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- one connection (keep-alive: one request after another)

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    writer.write(_response(413, HTTPError(413, "Request headers too large.").body))
                    return
                keep = await self._request(head, reader, writer)
                if not keep:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except RuntimeError:  # uvloop: a write to a transport the client has closed
            pass
        finally:
            writer.close()

    async def _request(self, head: bytes, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close"
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                raise HTTPError(411, "Send the body with a content-length.")
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY:
                raise HTTPError(413, f"The request body is over {MAX_BODY} bytes.")
            raw = await reader.readexactly(length) if length else b""
            read_at = time.perf_counter()
            self._authorise(headers)
            if path in ("/v1/models", "/models") and method == "GET":
                body = {"object": "list", "data": [{"id": self.settings.model, "object": "model",
                                                    "created": 0, "owned_by": "ponder"}]}
                writer.write(_response(200, json.dumps(body).encode()))
            elif path == "/stub/stats" and method == "GET":
                writer.write(_response(200, json.dumps(self.stats()).encode()))
            elif path in ("/healthz", "/health") and method == "GET":
                writer.write(_response(200, b'{"status":"ok"}'))
            elif path in ("/v1/chat/completions", "/chat/completions"):
                if method != "POST":
                    raise HTTPError(405, f"{method} is not allowed here; POST a chat request.")
                request = self.parse(raw)
                self.requests += 1
                if request.stream:
                    await self._stream(request, read_at, writer)
                else:
                    await self._whole(request, read_at, writer)
            else:
                raise HTTPError(404, f"Unknown request URL: {method} {path}.", code="unknown_url")
        except HTTPError as exc:
            writer.write(_response(exc.status, exc.body))
        await writer.drain()
        return keep

    def _authorise(self, headers: Mapping[str, str]) -> None:
        key = self.settings.api_key
        if key is None:
            return
        given = headers.get("authorization", "")
        if not given.startswith("Bearer ") or given[7:] != key:
            raise HTTPError(401, "Incorrect API key provided.", code="invalid_api_key")

    def parse(self, raw: bytes) -> StubRequest:
        """Validate a chat request as the real API does; the request's plan."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise HTTPError(400, "We could not parse the JSON body of your request. The body"
                            " must be a JSON object.")
        if "model" not in body:
            raise _missing("model")
        if not isinstance(body["model"], str):
            raise HTTPError(400, "Invalid type for 'model': expected a string.", param="model",
                            code="invalid_type")
        messages = body.get("messages")
        if messages is None:
            raise _missing("messages")
        if not isinstance(messages, list):
            raise HTTPError(400, "Invalid type for 'messages': expected an array.",
                            param="messages", code="invalid_type")
        if not messages:
            raise HTTPError(400, "Invalid 'messages': empty array. Expected an array with"
                            " minimum length 1, but got an empty array instead.",
                            param="messages", code="empty_array")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise HTTPError(400, "Invalid type for 'stream': expected a boolean.",
                            param="stream", code="invalid_type")
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            raise HTTPError(400, "Invalid 'max_tokens': expected an integer >= 1.",
                            param="max_tokens", code="invalid_value")
        schedule = self.settings.schedule
        overrides = body.get("stub")
        if overrides is not None:
            if not isinstance(overrides, dict):
                raise HTTPError(400, "'stub' must be an object of schedule fields.", param="stub")
            try:
                schedule = schedule.with_overrides(overrides)
            except ScheduleError as exc:
                raise HTTPError(400, f"Invalid 'stub': {exc.message}", param="stub") from None
        index = next(self._counter)
        return StubRequest(index, stream, include_usage, _prompt_tokens(messages),
                           plan(schedule, cap, index))

    def _usage(self, request: StubRequest) -> dict[str, Any]:
        thoughts, answer = request.plan.thought_tokens, request.plan.answer_tokens
        return {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": thoughts + answer,
            "total_tokens": request.prompt_tokens + thoughts + answer,
            "completion_tokens_details": {"reasoning_tokens": thoughts},
        }

    async def _stream(self, request: StubRequest, read_at: float,
                      writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
        model = json.dumps(self.settings.model)
        base = (
            f'data: {{"id":"chatcmpl-stub{request.index}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{model},'
        ).encode()
        head = base + b'"choices":[{"index":0,'
        field = {"thinking": self.settings.reasoning_field.encode(), "answer": b"content"}
        first, answered = True, False
        for token in request.plan.tokens:
            due = read_at + token.at_ms / 1000
            # A loop, not one sleep: uvloop's timers count whole milliseconds from a cached
            # clock and can fire up to a millisecond early; a token must never leave early.
            while (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            if writer.is_closing():  # the client went away (a load tool stopping mid-stream)
                return
            role = b'"role":"assistant",' if first else b""
            frame = b'%s"delta":{%s"%s":"%s"},"finish_reason":null}]}\n\n' % (
                head, role, field[token.kind], token.text.encode())
            writer.write(_chunk(frame))
            if first:
                self.late_ms["first_token"].append((time.perf_counter() - due) * 1000)
                first = False
            if not answered and token.kind == "answer":
                self.late_ms["first_answer"].append((time.perf_counter() - due) * 1000)
                answered = True
            await writer.drain()
        tail = b'%s"delta":{},"finish_reason":"%s"}]}\n\n' % (
            head, request.plan.finish_reason.encode())
        if request.include_usage:
            usage = json.dumps(self._usage(request)).encode()
            tail += b'%s"choices":[],"usage":%s}\n\n' % (base, usage)
        writer.write(_chunk(tail + b"data: [DONE]\n\n") + b"0\r\n\r\n")

    async def _whole(self, request: StubRequest, read_at: float,
                     writer: asyncio.StreamWriter) -> None:
        tokens = request.plan.tokens
        if tokens:
            delay = read_at + tokens[-1].at_ms / 1000 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        thoughts = "".join(t.text for t in tokens if t.kind == "thinking")
        answer = "".join(t.text for t in tokens if t.kind == "answer")
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        if thoughts:
            message[self.settings.reasoning_field] = thoughts
        body = {
            "id": f"chatcmpl-stub{request.index}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.settings.model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": request.plan.finish_reason}],
            "usage": self._usage(request),
        }
        writer.write(_response(200, json.dumps(body).encode()))


def run_stub(settings: StubSettings, host: str, port: int) -> None:
    """Serve until interrupted (uvloop when installed: less CPU per chunk)."""

    async def main() -> None:
        server = StubServer(settings, host, port)
        await server.start()
        print(f"ponder stub: {server.base_url} (model {settings.model!r}); "
              f"{describe(settings.schedule)}", flush=True)
        await server.serve_forever()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def describe(schedule: Schedule) -> str:
    ttfa = schedule.ttfa_ms
    jitter = f", jitter ±{schedule.jitter_ms:g} ms" if schedule.jitter_ms else ""
    return (
        f"TTFT {schedule.ttft_ms:g} ms, {schedule.thought_tokens} thought + "
        f"{schedule.answer_tokens} answer tokens {schedule.itl_ms:g} ms apart{jitter}"
        f" (TTFA {'—' if ttfa is None else f'{ttfa:g} ms'}, E2E {schedule.e2e_ms:g} ms)"
    )
