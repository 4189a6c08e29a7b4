"""``POST /v1/responses``: the OpenAI Responses front door (Codex CLI, the ``openai`` SDK's
``responses`` API), on any model ponder knows.

The request is parsed into a :class:`ChatRequest` (:mod:`ponder.server.responses_parse`),
after the stored conversation of ``previous_response_id`` when given; it goes through the
same engine, reasoning memory, exchange, trace and metrics as the other doors
(:func:`ponder.server.door.open_stream`, :class:`ponder.server.door.StreamingSink`), and
its events are written as Responses events or a ``response`` object
(:mod:`ponder.server.responses_wire`). A finished response is stored (unless ``store`` is
false) so the next request can continue it by id. Errors are OpenAI-shaped, as on
``/v1/chat/completions``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ponder.events import (
    Event,
    Failed,
    Finished,
    Started,
    Usage,
)
from ponder.request import Message
from ponder.server.chat import failure_response
from ponder.server.door import (
    CollectedSink,
    EarlyFailure,
    ExchangeResponse,
    StreamingSink,
    encode_event,
    open_stream,
    read_body,
)
from ponder.server.errors import NotFoundError, ParamError, failure_status
from ponder.server.exchange import Exchange
from ponder.server.gateway import Gateway
from ponder.server.parse import parse_body
from ponder.server.responses_parse import ENCRYPTED_REASONING, ParsedResponses, parse_responses
from ponder.server.responses_stream import ResponseStreamEncoder
from ponder.server.responses_wire import (
    Shell,
    incomplete_reason,
    output_items,
    ponder_extra,
    response_object,
    usage_json,
)
from ponder.server.wire import error_body, error_type
from ponder.store.base import TraceQuery
from ponder.store.record import TraceRecord

DOOR = "responses"
_ECHO = (
    "instructions", "tools", "tool_choice", "parallel_tool_calls", "previous_response_id",
    "reasoning", "store", "temperature", "top_p", "max_output_tokens", "text", "metadata",
)  # fmt: skip
def response_id_for(request_id: str) -> str:
    return "resp_" + request_id.removeprefix("req_")


async def responses(request: Request) -> Response | ExchangeResponse:
    gateway: Gateway = request.app.state.gateway
    request_id: str = request.state.request_id
    body = parse_body(await read_body(request, gateway.settings.body_limit))
    previous = await _previous(gateway, body.get("previous_response_id"))
    model = body.get("model")
    if isinstance(model, str) and model:  # an alias, auto or an upstream id (404 otherwise)
        body = {**body, "model": gateway.config.resolve(model)}
    parsed = parse_responses(body, request.headers, request_id, gateway.signer, previous)
    try:
        exchange, events = await open_stream(
            gateway, parsed.chat, parsed.stream, DOOR, parsed.notes, request.headers
        )
    except EarlyFailure as failure:
        return failure_response(failure.event, gateway.secrets)
    started = exchange.started
    assert started is not None
    config = gateway.config.models.get(started.model)
    producer = (config.provider, config.upstream_model) if config is not None else (None, None)
    exchange.turn.tag(*producer)
    shell = Shell(
        response_id=response_id_for(request_id),
        created_at=time.time(),
        echo={k: body[k] for k in _ECHO if k in body},
        signer=gateway.signer,
        summary=parsed.summary is not None,
        encrypted=parsed.encrypted_reasoning,
        producer=producer,
    )
    sink = StreamingResponses if parsed.stream else CollectedResponses
    return sink(gateway, exchange, events, shell, parsed)


async def _previous(gateway: Gateway, response_id: Any) -> tuple[Message, ...]:
    if response_id is None:
        return ()
    if not isinstance(response_id, str) or not response_id:
        raise ParamError("previous_response_id", "'previous_response_id' must be a string.")
    found = await gateway.responses.find(response_id)
    if found is None:
        raise ParamError(
            "previous_response_id",
            f"Previous response with id {response_id!r} not found: it was not stored (store"
            " false, --no-store) or was made by a gateway with another trace store. Send the"
            " whole conversation as input instead.",
        )
    return found


def _error_code(status: int) -> str:
    return "rate_limit_exceeded" if status == 429 else "server_error"


def _store_turn(sink: StreamingResponses | CollectedResponses) -> None:
    """Keep the conversation for ``previous_response_id`` (the sink's ``on_finished`` waits
    for it to be in the database: the client's next request may name this response at once)."""
    if sink.parsed.store:
        x = sink.exchange
        turn = Message("assistant", x.turn.parts)
        sink.gateway.responses.remember(
            sink.shell.response_id, x.request.request_id, (*sink.parsed.history, turn)
        )


class StreamingResponses(StreamingSink):
    def __init__(
        self, gateway: Gateway, exchange: Exchange, events: AsyncIterator[Event], shell: Shell,
        parsed: ParsedResponses,
    ) -> None:  # fmt: skip
        super().__init__(gateway, exchange, events)
        self.shell, self.parsed = shell, parsed
        self.enc = ResponseStreamEncoder(shell)

    def keep_turn(self) -> None:
        _store_turn(self)

    def opening(self, started: Started) -> bytes:
        return self.enc.start(started)

    def frame(self, event: Event) -> bytes:
        self.exchange.observe(event)
        return encode_event(self.enc, event)

    def finished_frame(self, event: Finished) -> bytes:
        x = self.exchange
        assert x.started is not None
        return self.enc.finished(
            x.started, event, x.usage, x.prompt_tokens(), x.notes, self.gateway.cost(x)
        )

    def failed_frame(self, event: Failed) -> bytes:
        assert self.exchange.started is not None
        return self.enc.failed(self.exchange.started, event, _error_code(failure_status(event)))


class CollectedResponses(CollectedSink):
    def __init__(
        self, gateway: Gateway, exchange: Exchange, events: AsyncIterator[Event], shell: Shell,
        parsed: ParsedResponses,
    ) -> None:  # fmt: skip
        super().__init__(gateway, exchange, events)
        self.shell, self.parsed = shell, parsed

    def keep_turn(self) -> None:
        _store_turn(self)

    def success_body(self, finished: Finished) -> Mapping[str, Any]:
        x = self.exchange
        assert x.started is not None
        incomplete = incomplete_reason(finished)
        return response_object(
            self.shell,
            model=x.started.model,
            status="incomplete" if incomplete else "completed",
            output=output_items(self.shell, x.turn.parts),
            usage=usage_json(x.usage, x.prompt_tokens()),
            incomplete=incomplete,
            ponder=ponder_extra(x.started, finished, x.usage, x.notes, self.gateway.cost(x)),
        )

    def failure_body(self, failed: Failed, status: int) -> Mapping[str, Any]:
        return error_body(failed.message, error_type(failed.side), failed.code, failed.param)


async def get_response(request: Request) -> JSONResponse:
    """``GET /v1/responses/{id}``: a stored response, rebuilt from its conversation (the turn
    it produced) and its trace (model, status, usage). ``include[]=reasoning.encrypted_content``
    adds the reasoning tokens, as on the request; a response made with ``store: false`` is
    not found, as on OpenAI's API."""
    gateway: Gateway = request.app.state.gateway
    response_id = request.path_params["response_id"]
    conversation = await gateway.responses.find(response_id)
    if not conversation or conversation[-1].role != "assistant":
        raise NotFoundError(
            f"Response with id {response_id!r} not found: it was made with store false, by a"
            " gateway with another trace store, or not at all."
        )
    request_id = "req_" + response_id.removeprefix("resp_")
    traces = await gateway.read_traces(TraceQuery(request_id=request_id, limit=1))
    trace = traces[0] if traces else None
    include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    shell = Shell(
        response_id=response_id,
        created_at=trace.created_at if trace is not None else time.time(),
        echo={},
        signer=gateway.signer,
        summary=True,
        encrypted=ENCRYPTED_REASONING in include,
    )
    incomplete = "max_output_tokens" if trace is not None and trace.finish_reason in (
        "length", "thinking_length") else None  # fmt: skip
    return JSONResponse(
        response_object(
            shell,
            model=(trace.model or trace.requested_model) if trace is not None else "",
            status="incomplete" if incomplete else "completed",
            output=output_items(shell, conversation[-1].parts),
            usage=_trace_usage(trace),
            incomplete=incomplete,
        )
    )


def _trace_usage(trace: TraceRecord | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    thinking, answer = trace.thinking_tokens or 0, trace.answer_tokens or 0
    usage = Usage(trace.input_tokens, thinking, answer, trace.tokens_estimated)
    return usage_json(usage, trace.input_tokens or 0)
