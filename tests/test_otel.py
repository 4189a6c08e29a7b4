"""OpenTelemetry: one span per request with the GenAI semantic conventions and ponder's own
attributes, checked with the SDK's in-memory exporter and with a real OTLP/HTTP receiver on
loopback (a small HTTP server decoding the protobuf the exporter really sends)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ponder.config import load_config
from ponder.errors import ConfigError
from ponder.server import ServerSettings, create_app
from ponder.server.otel import ChildSpan, RequestTracer, otel_enabled, tracer_from_env
from tests.gateway_harness import ThreadServer, serve_subprocess, write_config
from tests.test_store import record

ARITHMETIC = [{"role": "user", "content": "What is 4821 × 37?"}]


@pytest.fixture
def memory() -> tuple[RequestTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return RequestTracer(provider), exporter


def test_one_span_per_request_with_genai_and_ponder_attributes(
    memory: tuple[RequestTracer, InMemorySpanExporter], tmp_path: Path
) -> None:
    tracer, exporter = memory
    app = create_app(load_config(write_config(tmp_path)), ServerSettings(), tracer=tracer)
    with ThreadServer(app) as server:
        ok = httpx.post(server.base_url + "/v1/chat/completions",
                        json={"model": "deep", "messages": ARITHMETIC, "stream": True})  # fmt: skip
        down = httpx.post(server.base_url + "/v1/chat/completions",
                          json={"model": "down", "messages": ARITHMETIC})  # fmt: skip
        deadline = time.monotonic() + 5
        while len(exporter.get_finished_spans()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert ok.status_code == 200 and down.status_code >= 500
    spans = {s.attributes["gen_ai.request.model"]: s for s in exporter.get_finished_spans()}
    assert len(exporter.get_finished_spans()) == 2
    deep = spans["deep"]
    assert deep.name == "chat deep" and deep.kind is SpanKind.CLIENT
    attrs = dict(deep.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.response.model"] == "deep"
    assert attrs["gen_ai.response.id"] == ok.headers["x-ponder-request-id"]
    # The scripted deep model reports usage 12 in, 20 thinking, 2 answer.
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 22
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 20
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["ponder.mode"] == "deep" and attrs["ponder.tokens_estimated"] is False
    started = next(
        json.loads(line[6:])["ponder"] for line in ok.text.splitlines()
        if line.startswith("data: {") and '"started"' in line
    )  # fmt: skip
    assert attrs["ponder.route.reason"] == started["reason"]  # the router's own words
    ttft, ttfa = float(attrs["ponder.ttft_ms"]), float(attrs["ponder.ttfa_ms"])  # type: ignore[arg-type]
    assert 0 < ttft <= ttfa and attrs["gen_ai.response.time_to_first_chunk"] == ttft / 1000
    assert attrs["ponder.thinking_ms"] == pytest.approx(ttfa - ttft)
    assert deep.end_time is not None and deep.start_time is not None
    assert deep.end_time - deep.start_time == int(float(attrs["ponder.e2e_ms"]) * 1e6)  # type: ignore[arg-type]
    assert deep.status.status_code is StatusCode.UNSET
    failed = spans["down"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None and failed.attributes["ponder.status"] == "error"
    assert "error.type" in failed.attributes
    # The prompt, the thoughts and the answer never go on a span. Look for their words, not a
    # bare number: a timing such as 1.48213 ms may hold "4821" by chance.
    for span in spans.values():
        values = [str(v) for v in (span.attributes or {}).values()]
        for text in ("4821 ×", "Multiply 4821", "178377"):
            assert not any(text in v for v in values), text


def test_child_spans_hang_under_the_request_span(
    memory: tuple[RequestTracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = memory
    trace = record(1, e2e_ms=50.0)
    start = int(trace.created_at * 1e9)
    children = [
        ChildSpan("attempt 1", start, start + 10_000_000, {"ponder.attempt": 1}, error="503"),
        ChildSpan("attempt 2", start + 12_000_000, start + 50_000_000, {"ponder.attempt": 2}),
    ]
    tracer.record(trace, children)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    parent = spans["chat auto"]
    for name in ("attempt 1", "attempt 2"):
        child = spans[name]
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.context.trace_id == parent.context.trace_id
    assert spans["attempt 1"].status.status_code is StatusCode.ERROR
    assert spans["attempt 2"].start_time == start + 12_000_000


def test_off_unless_the_standard_variables_are_set() -> None:
    assert not otel_enabled({})
    assert tracer_from_env({}) is None
    assert otel_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otel_enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert not otel_enabled({**on, "OTEL_SDK_DISABLED": "true"})
    assert not otel_enabled({**on, "OTEL_TRACES_EXPORTER": "none"})
    with pytest.raises(ConfigError, match="http/protobuf"):
        tracer_from_env({**on, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/xml"})


class Receiver:
    """An OTLP/HTTP trace receiver: POST /v1/traces with protobuf bodies."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.content_types: list[str] = []
        self.arrived = threading.Event()

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            body = await request.body()
            message = ExportTraceServiceRequest()
            message.ParseFromString(body)
            self.requests.append(message)
            self.content_types.append(request.headers.get("content-type", ""))
            self.arrived.set()
            return Response(ExportTraceServiceResponse().SerializeToString(),
                            media_type="application/x-protobuf")  # fmt: skip

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        out = []
        for message in self.requests:
            for resource_spans in message.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    out.extend((resource, span) for span in scope_spans.spans)
        return out


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with ThreadServer(receiver.app()) as server:
        yield receiver, server.base_url


def _value(attribute: Any) -> Any:
    kind = attribute.value.WhichOneof("value")
    return getattr(attribute.value, kind)


def test_serve_exports_spans_to_a_real_otlp_receiver(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    sink, endpoint = receiver
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    with serve_subprocess(write_config(tmp_path), tmp_path / "t.db", env=env) as served:
        ids = [
            httpx.post(served.base_url + "/v1/chat/completions",
                       json={"model": m, "messages": ARITHMETIC}).headers["x-ponder-request-id"]
            for m in ("deep", "fast", "deep")
        ]  # fmt: skip
        served.terminate()  # shutting down flushes what the batch processor still holds
    spans = sink.spans()
    assert {c for c in sink.content_types} == {"application/x-protobuf"}
    assert len(spans) == 3
    by_id = {}
    for resource, span in spans:
        assert resource["service.name"] == "ponder"
        attrs = {a.key: _value(a) for a in span.attributes}
        by_id[attrs["gen_ai.response.id"]] = (span, attrs)
    assert set(by_id) == set(ids)
    span, attrs = by_id[ids[0]]
    assert span.name == "chat deep" and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 20 and attrs["ponder.mode"] == "deep"
    assert span.end_time_unix_nano > span.start_time_unix_nano > 0


def test_a_callers_traceparent_makes_the_request_span_its_child(
    memory: tuple[RequestTracer, InMemorySpanExporter], tmp_path: Path
) -> None:
    tracer, exporter = memory
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    app = create_app(load_config(write_config(tmp_path)), ServerSettings(), tracer=tracer)
    with ThreadServer(app) as server:
        httpx.post(server.base_url + "/v1/chat/completions",
                   json={"model": "fast", "messages": ARITHMETIC},
                   headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})  # fmt: skip
        httpx.post(server.base_url + "/v1/chat/completions",
                   json={"model": "fast", "messages": ARITHMETIC})  # fmt: skip
        deadline = time.monotonic() + 5
        while len(exporter.get_finished_spans()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    joined, alone = exporter.get_finished_spans()
    assert format(joined.context.trace_id, "032x") == trace_id
    assert joined.parent is not None and format(joined.parent.span_id, "016x") == parent_id
    assert alone.parent is None and alone.context.trace_id != joined.context.trace_id
