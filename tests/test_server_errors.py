"""Every error path is OpenAI-shaped; auth; body limit; secrets never leak."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.gateway_harness import (
    CANARY_ENV,
    CANARY_KEY,
    Served,
    ThreadServer,
    UpstreamLog,
    serve_subprocess,
    upstream_app,
    upstream_config,
    write_config,
)

API_KEY = "ponder-test-token-5150"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ThreadServer, UpstreamLog]]:
    log = UpstreamLog()
    with ThreadServer(upstream_app(log)) as server:
        yield server, log


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, upstream: tuple[ThreadServer, UpstreamLog]
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("errors")
    config = write_config(directory, upstream_config(upstream[0].base_url))
    env = {"PONDER_API_KEY": API_KEY, CANARY_ENV: CANARY_KEY}
    with serve_subprocess(
        config, directory / "traces.db", "--max-body-bytes", "4096", env=env
    ) as s:
        yield s


def _post(served: Served, body: Any, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        served.base_url + "/v1/chat/completions", content=content, headers=headers, **kwargs
    )


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body["error"]) >= {"message", "type", "code", "param"}
    assert response.headers["x-ponder-request-id"].startswith("req_")
    return dict(body["error"])


HI = [{"role": "user", "content": "hi"}]


def test_auth_required_when_key_set(served: Served) -> None:
    no_key = httpx.post(
        served.base_url + "/v1/chat/completions", json={"model": "fast", "messages": HI}
    )
    assert no_key.status_code == 401 and _error(no_key)["code"] == "invalid_api_key"
    wrong = httpx.get(served.base_url + "/v1/models", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(served.base_url + "/metrics").status_code == 401
    assert httpx.get(served.base_url + "/api/traces").status_code == 401
    assert httpx.get(served.base_url + "/healthz").status_code == 200
    client = openai.OpenAI(base_url=served.base_url + "/v1", api_key=API_KEY, max_retries=0)
    assert client.chat.completions.create(model="fast", messages=HI).choices[0].message.content
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served.base_url + "/v1", api_key="bad", max_retries=0).models.list()
    metrics = httpx.get(
        served.base_url + "/metrics", headers={"authorization": f"Bearer {API_KEY}"}
    )
    assert 'ponder_rejected_requests_total{code="invalid_api_key"}' in metrics.text


def test_malformed_json(served: Served) -> None:
    response = _post(served, b'{"model": "fast", "messages": [')
    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"
    assert _post(served, b"[1, 2]").status_code == 400


def test_unknown_model_lists_known_ones(served: Served) -> None:
    response = _post(served, {"model": "gpt-9", "messages": HI})
    assert response.status_code == 404
    error = _error(response)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert {"fast", "deep", "auto"} <= set(error["known_models"])
    assert "fast" in error["message"] and "deep" in error["message"]
    client = openai.OpenAI(base_url=served.base_url + "/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=HI)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HI}, "model"),
        ({"model": "fast"}, "messages"),
        ({"model": "fast", "messages": []}, "messages"),
        ({"model": "fast", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "fast", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "fast", "messages": HI, "temperature": 7}, "temperature"),
        ({"model": "fast", "messages": HI, "max_tokens": -1}, "max_tokens"),
        ({"model": "fast", "messages": HI, "max_completion_tokens": "9"}, "max_completion_tokens"),
        ({"model": "fast", "messages": HI, "stream": "yes"}, "stream"),
        ({"model": "fast", "messages": HI, "stop": 7}, "stop"),
        ({"model": "fast", "messages": HI, "reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"model": "fast", "messages": HI, "thinking": {"enabled": "on"}}, "thinking.enabled"),
        ({"model": "fast", "messages": HI, "thinking": {"budget": 0}}, "thinking.budget"),
        ({"model": "fast", "messages": HI, "n": 3}, "n"),
        (
            {"model": "fast", "messages": HI, "tools": [{"type": "function"}]},
            "tools[0].function.name",
        ),
        ({"model": "fast", "messages": HI, "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "fast", "messages": HI, "functions": [{"name": "f"}]}, "functions"),
        ({"model": "fast", "messages": HI, "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "fast", "messages": HI, "top_p": 3}, "top_p"),
        ({"model": "fast", "messages": HI, "stop": [1]}, "stop"),
        ({"model": "fast", "messages": HI, "response_format": {"type": "xml"}}, "response_format"),
        (
            {"model": "fast", "messages": [{"role": "tool", "content": "4"}]},
            "messages[0].tool_call_id",
        ),
    ],
)
def test_invalid_parameters(served: Served, body: dict[str, Any], param: str) -> None:
    response = _post(served, body)
    assert response.status_code == 400
    error = _error(response)
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_bad_latency_budget_header(served: Served) -> None:
    response = _post(
        served, {"model": "auto", "messages": HI}, headers={"x-ponder-max-ttfa-ms": "soon"}
    )
    assert response.status_code == 400 and _error(response)["param"] == "x-ponder-max-ttfa-ms"


def test_body_size_limit(served: Served) -> None:
    big = {"model": "fast", "messages": [{"role": "user", "content": "x" * 5000}]}
    response = _post(served, big)
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"

    def chunked() -> Iterator[bytes]:  # no content-length: the limit holds while reading
        yield b'{"model": "fast", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}]}'

    streamed = httpx.post(
        served.base_url + "/v1/chat/completions",
        content=chunked(),
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert streamed.status_code == 413


def test_unknown_route_and_method(served: Served) -> None:
    headers = {"authorization": f"Bearer {API_KEY}"}
    missing = httpx.get(served.base_url + "/v1/nothing", headers=headers)
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"
    wrong_method = httpx.get(served.base_url + "/v1/chat/completions", headers=headers)
    assert wrong_method.status_code == 405 and _error(wrong_method)


def test_upstream_error_before_any_output(served: Served) -> None:
    response = _post(served, {"model": "down", "messages": HI})
    assert response.status_code == 503
    error = _error(response)
    assert error["code"] == "upstream_error" and "service unavailable" in error["message"]
    streamed = _post(served, {"model": "down", "messages": HI, "stream": True})
    assert streamed.status_code == 200  # the stream had started: the error is a chunk
    assert '"event":"failed"' in streamed.text and streamed.text.endswith("data: [DONE]\n\n")


def test_internal_error_is_shaped_and_says_where_to_look(served: Served) -> None:
    response = _post(served, {"model": "crash", "messages": HI})
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "internal_error" and "server log" in error["message"]
    assert "boom" not in error["message"]


def test_mid_stream_failure_is_an_error_chunk_then_done(served: Served) -> None:
    response = _post(served, {"model": "midfail", "messages": HI, "stream": True})
    frames = [f for f in response.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    last = json.loads(frames[-2].removeprefix("data: "))
    assert last["error"]["message"] == "upstream dropped the stream"
    assert last["error"]["code"] == "test" and last["ponder"]["event"] == "failed"
    contents = [json.loads(f[6:]) for f in frames[1:-2]]
    assert contents[0]["choices"][0]["delta"]["content"] == "partial"
    client = openai.OpenAI(base_url=served.base_url + "/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="midfail", messages=HI, stream=True))  # type: ignore[arg-type]


def test_remote_upstream_through_openai_provider(served: Served) -> None:
    client = openai.OpenAI(base_url=served.base_url + "/v1", api_key=API_KEY, max_retries=0)
    response = client.chat.completions.create(model="remote", messages=HI)  # type: ignore[arg-type]
    assert response.choices[0].message.content == "ok"
    assert (response.choices[0].message.model_extra or {})["reasoning_content"].startswith(
        "Thinking"
    )


def _wait_for_trace(db: Path, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        conn = sqlite3.connect(db)
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM traces WHERE request_id = ?", (request_id,)).fetchone()
        conn.close()
        if row is not None:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"no trace for {request_id}")


def test_canary_upstream_key_never_leaks(
    served: Served, upstream: tuple[ThreadServer, UpstreamLog]
) -> None:
    seen: list[str] = []
    # Not streaming, the upstream's 401 is a 502 naming it; streaming, the 200 stream carries
    # the same message in its failed event. Either way the key itself is redacted.
    for stream, status in ((False, 502), (True, 200)):
        response = _post(served, {"model": "leaky", "messages": HI, "stream": stream})
        seen.append(response.text + json.dumps(dict(response.headers)))
        assert response.status_code == status
        assert "returned HTTP 401: Incorrect API key provided: [redacted]." in response.text
        trace = _wait_for_trace(served.db, response.headers["x-ponder-request-id"])
        assert trace["status"] == "error"
        seen.append(json.dumps(trace))
    assert f"Bearer {CANARY_KEY}" in upstream[1].auth_headers  # the key did reach upstream
    metrics = httpx.get(
        served.base_url + "/metrics", headers={"authorization": f"Bearer {API_KEY}"}
    )
    seen.append(metrics.text)
    traces = httpx.get(
        served.base_url + "/api/traces", headers={"authorization": f"Bearer {API_KEY}"}
    )
    seen.append(traces.text)
    seen.append(served.log_text())
    assert served.db.exists()
    # The WAL may have been checkpointed into the main file already: read what is there.
    stores = [Path(str(served.db) + suffix) for suffix in ("", "-wal")]
    seen.extend(p.read_bytes().decode("latin-1") for p in stores if p.exists())
    for text in seen:
        assert CANARY_KEY not in text
        assert CANARY_KEY[8:] not in text
