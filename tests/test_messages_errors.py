"""Every way a request through ``/v1/messages`` can fail answers in Anthropic's error shape,
with the status an Anthropic client expects, secrets redacted, and a trace that says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.gateway_harness import (
    CANARY_ENV,
    CANARY_KEY,
    Served,
    ThreadServer,
    UpstreamLog,
    finished_trace,
    serve_subprocess,
    upstream_app,
    upstream_config,
    write_config,
)

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("messages-errors")
    with ThreadServer(upstream_app(UpstreamLog())) as upstream:
        config = write_config(directory, upstream_config(upstream.base_url))
        env = {CANARY_ENV: CANARY_KEY}
        with serve_subprocess(
            config, directory / "traces.db", "--max-body-bytes", "4096", env=env
        ) as s:
            yield s


def client(served: Served) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=served.base_url, api_key="unused", max_retries=0)


def post(served: Served, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(served.base_url + "/v1/messages", json=body, timeout=30)


def shape(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    return body["error"]["type"], body["error"]["message"]


def trace(served: Served, request_id: str) -> dict[str, Any]:
    return finished_trace(served.base_url, request_id)


def test_upstream_down_is_an_overloaded_503(served: Served) -> None:
    response = post(served, {"model": "down", "max_tokens": 16, "messages": HI})
    assert response.status_code == 503
    kind, message = shape(response)
    assert kind == "overloaded_error" and "service unavailable" in message
    record = trace(served, response.headers["x-ponder-request-id"])
    assert record["door"] == "messages" and record["status"] == "error"


def test_upstream_down_while_streaming_is_an_overloaded_error_event(served: Served) -> None:
    """As Anthropic does: the stream is open (200), then an ``error`` event."""
    body = {"model": "down", "max_tokens": 16, "messages": HI, "stream": True}
    with httpx.stream("POST", served.base_url + "/v1/messages", json=body, timeout=30) as r:
        assert r.status_code == 200
        data = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [d["type"] for d in data] == ["message_start", "error"]
    assert data[-1]["error"]["type"] == "overloaded_error"


def test_failure_mid_stream_is_an_error_event_after_what_arrived(served: Served) -> None:
    body = {"model": "midfail", "max_tokens": 16, "messages": HI, "stream": True}
    with httpx.stream("POST", served.base_url + "/v1/messages", json=body, timeout=30) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line.startswith(("event:", "data:"))]
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event:")]
    assert events == [
        "message_start", "content_block_start", "content_block_delta", "content_block_stop",
        "error",
    ]  # fmt: skip
    error = json.loads(lines[-1].removeprefix("data: "))
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert "upstream dropped the stream" in error["error"]["message"]
    # The SDK raises it as an API error (no half-finished message handed over as complete).
    stream = client(served).messages.stream(model="midfail", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    with pytest.raises(anthropic.APIStatusError) as info, stream as events:
        events.get_final_message()
    assert "upstream dropped the stream" in str(info.value)


def test_failure_without_stream_is_a_502_api_error(served: Served) -> None:
    with pytest.raises(anthropic.APIStatusError) as info:
        client(served).messages.create(model="midfail", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    assert isinstance(info.value.body, dict) and info.value.body["error"]["type"] == "api_error"


def test_a_crash_is_a_500_api_error(served: Served) -> None:
    response = post(served, {"model": "crash", "max_tokens": 16, "messages": HI})
    assert response.status_code == 500
    kind, _ = shape(response)
    assert kind == "api_error"


def test_upstream_that_echoes_the_key_never_leaks_it(served: Served) -> None:
    response = post(served, {"model": "leaky", "max_tokens": 16, "messages": HI})
    assert response.status_code == 502
    kind, message = shape(response)
    assert kind == "api_error" and CANARY_KEY not in response.text and "[redacted]" in message


def test_body_over_the_limit_is_request_too_large(served: Served) -> None:
    big = [{"role": "user", "content": "x" * 5000}]
    response = post(served, {"model": "fast", "max_tokens": 16, "messages": big})
    assert response.status_code == 413
    assert shape(response)[0] == "request_too_large"


def test_invalid_fields_name_the_field(served: Served) -> None:
    cases = [
        ({"model": "fast", "max_tokens": 0, "messages": HI}, "max_tokens"),
        ({"model": "fast", "max_tokens": 9, "messages": []}, "messages: must be a non-empty"),
        ({"model": "fast", "max_tokens": 9, "messages": [{"role": "tool", "content": "x"}]},
         "messages.0.role"),
        ({"model": "fast", "max_tokens": 9, "messages": HI, "thinking": {"type": "enabled"}},
         "thinking.budget_tokens"),
        ({"model": "fast", "max_tokens": 9, "messages": HI, "tool_choice": {"type": "tool"}},
         "tool_choice.name"),
        ({"model": "fast", "max_tokens": 9, "messages": HI, "temperature": 1.5}, "temperature"),
        ({"model": "fast", "max_tokens": 10**9, "messages": HI}, "the limit is"),
        ({"model": "fast", "max_tokens": 9, "messages": [{"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t", "signature": "ponder1.garbage"}]}]},
         "messages.0.content.0.signature"),
    ]  # fmt: skip
    for body, words in cases:
        response = post(served, body)
        assert response.status_code == 400, body
        kind, message = shape(response)
        assert kind == "invalid_request_error" and words in message, message


def test_chat_completions_errors_keep_the_openai_shape(served: Served) -> None:
    response = httpx.post(
        served.base_url + "/v1/chat/completions", json={"model": "nope", "messages": HI}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    body = {"model": "fast", "messages": HI}
    ok = httpx.post(served.base_url + "/v1/chat/completions", json=body)
    assert ok.status_code == 200
    assert trace(served, ok.headers["x-ponder-request-id"])["door"] == "chat_completions"
    reply = post(served, {"model": "fast", "max_tokens": 16, "messages": HI})
    assert reply.status_code == 200
    metrics = httpx.get(served.base_url + "/metrics", timeout=10).text
    for door in ("chat_completions", "messages"):
        line = f'ponder_requests_total{{model="fast",mode="fast",status="ok",door="{door}"}}'
        assert line in metrics
