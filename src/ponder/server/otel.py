"""OpenTelemetry: one span per request, GenAI semantic conventions plus ponder's own.

Optional (``pip install 'ponder[otel]'``) and off unless configured the standard way: an
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (and the other
``OTEL_*`` variables the SDK reads: headers, protocol, service name, resource attributes).
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` turn it off again.

The span is built when the request is over, from its finished trace, with the start and end
times it really had: nothing runs on the stream path, and the SDK's batch processor exports
from its own thread. Prompts and answers are never put on spans (they stay in the store).

A request that arrives with W3C ``traceparent`` (and ``tracestate``) headers gets its span
under the caller's span, so the gateway shows up inside the client's own trace.

Child spans: :class:`ChildSpan` is the hook for the policy wrappers (retries, fallbacks,
hedges). A wrapper reports an attempt through the event stream; the sink appends a
:class:`ChildSpan` to ``Exchange.child_spans``; :meth:`RequestTracer.record` makes each one
a child of the request's span with its own times and attributes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ponder import __version__
from ponder.store.record import TraceRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

TRACE_HEADERS = ("traceparent", "tracestate")
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
PROTOCOL_VARS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
AttributeValue = str | bool | int | float | Sequence[str]


@dataclass(frozen=True, slots=True)
class ChildSpan:
    """One step inside a request (an attempt, a fallback, a hedge leg); times in unix ns."""

    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    error: str | None = None  # set when this step failed: the span's status says so


def trace_context(headers: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace-context headers of a request (a plain dict: cheap when tracing is off)."""
    return {name: headers[name] for name in TRACE_HEADERS if name in headers}


def otel_enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name) for name in ENDPOINT_VARS)


def span_attributes(record: TraceRecord) -> dict[str, AttributeValue]:
    """The request's span attributes: GenAI semantic conventions, then ``ponder.*``."""
    attrs: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": record.requested_model,
        "gen_ai.response.id": record.request_id,
        "ponder.status": record.status,
        "ponder.stream": record.stream,
        "ponder.tokens_estimated": record.tokens_estimated,
    }
    optional: dict[str, Any] = {
        "gen_ai.response.model": record.model,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.reasoning.output_tokens": record.thinking_tokens,
        "ponder.mode": record.mode,
        "ponder.route.reason": record.route_reason,
        "ponder.ttft_ms": record.ttft_ms,
        "ponder.ttfa_ms": record.ttfa_ms,
        "ponder.thinking_ms": record.thinking_ms,
        "ponder.e2e_ms": record.e2e_ms,
        "ponder.max_ttfa_ms": record.max_ttfa_ms,
        "error.type": record.error_code if record.status != "ok" else None,
    }
    if record.thinking_tokens is not None or record.answer_tokens is not None:
        output = (record.thinking_tokens or 0) + (record.answer_tokens or 0)
        optional["gen_ai.usage.output_tokens"] = output
    if record.ttft_ms is not None:
        optional["gen_ai.response.time_to_first_chunk"] = record.ttft_ms / 1000
    if record.finish_reason is not None:
        optional["gen_ai.response.finish_reasons"] = [record.finish_reason]
    attrs.update({k: v for k, v in optional.items() if v is not None})
    return attrs


class RequestTracer:
    """Turns finished traces into spans on ``provider`` (an SDK ``TracerProvider``)."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("ponder", __version__)

    def record(
        self,
        record: TraceRecord,
        children: Sequence[ChildSpan] = (),
        caller: Mapping[str, str] | None = None,
    ) -> None:
        """One span for ``record``; ``caller``: the request's trace-context headers."""
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        start_ns = int(record.created_at * 1e9)
        end_ns = (
            start_ns + int(record.e2e_ms * 1e6) if record.e2e_ms is not None else time.time_ns()
        )
        parent = TraceContextTextMapPropagator().extract(dict(caller)) if caller else None
        span = self._tracer.start_span(
            f"chat {record.requested_model}",
            context=parent,
            kind=SpanKind.CLIENT,
            start_time=start_ns,
            attributes=span_attributes(record),
        )
        if record.status != "ok":
            span.set_status(Status(StatusCode.ERROR, record.error_message or record.status))
        context = trace.set_span_in_context(span)
        for child in children:
            child_span = self._tracer.start_span(
                child.name, context=context, start_time=child.start_ns,
                attributes=dict(child.attributes),
            )  # fmt: skip
            if child.error is not None:
                child_span.set_status(Status(StatusCode.ERROR, child.error))
            child_span.end(end_time=child.end_ns)
        span.end(end_time=max(end_ns, start_ns))

    def shutdown(self) -> None:
        self._provider.shutdown()  # flushes what the batch processor still holds


def tracer_from_env(env: Mapping[str, str] | None = None) -> RequestTracer | None:
    """A tracer exporting over OTLP when the environment asks for one, else None."""
    env = os.environ if env is None else env
    if not otel_enabled(env):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ModuleNotFoundError:
        from ponder.errors import ConfigError

        raise ConfigError(
            "OTEL_EXPORTER_OTLP_* is set but OpenTelemetry is not installed:"
            " pip install 'ponder[otel]' (or unset the variable)."
        ) from None
    protocol = next((env[n] for n in PROTOCOL_VARS if env.get(n)), "http/protobuf").strip()
    exporter = _exporter(protocol)
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": "ponder"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return RequestTracer(provider)


def _exporter(protocol: str) -> Any:
    from ponder.errors import ConfigError

    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter as GrpcExporter,
            )
        except ModuleNotFoundError:
            raise ConfigError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc;"
                " install it, or use http/protobuf (what the otel extra ships)."
            ) from None
        return GrpcExporter()
    raise ConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf or grpc."
    )
