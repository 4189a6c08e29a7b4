"""A client that goes away cancels its upstream stream at once, leaks nothing, and its trace
says so. The gateway runs on uvicorn in a thread so the test can look inside its loop."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ponder.config import load_config
from ponder.server import ServerSettings, create_app
from ponder.store import TraceQuery, TraceWriter, read
from tests.fakes import ScriptedProvider
from tests.gateway_harness import (
    CANARY_ENV,
    CANARY_KEY,
    ThreadServer,
    UpstreamLog,
    upstream_app,
    upstream_config,
    write_config,
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ThreadServer, UpstreamLog]]:
    log = UpstreamLog()
    with ThreadServer(upstream_app(log)) as server:
        yield server, log


@pytest.fixture()
def gateway(
    tmp_path: Path, upstream: tuple[ThreadServer, UpstreamLog], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ThreadServer, Path]]:
    monkeypatch.setenv(CANARY_ENV, CANARY_KEY)
    config = load_config(write_config(tmp_path, upstream_config(upstream[0].base_url)))
    db = tmp_path / "traces.db"
    app = create_app(config, ServerSettings(), writer=TraceWriter(db))
    with ThreadServer(app) as server:
        yield server, db


def _wait(predicate: object, timeout: float = 20.0) -> bool:
    """Until ``predicate()`` holds; the timeout only bounds a hung test (a scripted stream
    that was not cancelled runs for 60 s, far past it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _open_and_drop(base_url: str, model: str, stream: bool = True) -> str:
    """Start a request, read its first chunk (streaming) or just wait, then hang up."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    with httpx.Client(timeout=10) as client:
        if not stream:
            with contextlib.suppress(httpx.ReadTimeout):
                client.post(base_url + "/v1/chat/completions", json=body, timeout=0.3)
            return ""
        with client.stream("POST", base_url + "/v1/chat/completions", json=body) as response:
            request_id = response.headers["x-ponder-request-id"]
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert json.loads(first[6:])["ponder"]["event"] == "started"
            next(line for line in lines if "reasoning_content" in line)
    return request_id


def _trace(db: Path, request_id: str | None = None) -> list[object]:
    return list(read(db, TraceQuery(request_id=request_id, limit=None)))


def test_disconnect_cancels_scripted_provider_and_is_traced(
    gateway: tuple[ThreadServer, Path],
) -> None:
    server, db = gateway
    baseline = server.tasks()
    closed = ScriptedProvider.closed
    request_id = _open_and_drop(server.base_url, "endless")
    assert _wait(lambda: ScriptedProvider.closed == closed + 1), "provider cleanup did not run"
    assert _wait(lambda: server.tasks() <= baseline), "tasks leaked"
    assert _wait(lambda: bool(_trace(db, request_id)))
    trace = read(db, TraceQuery(request_id=request_id))[0]
    assert trace.status == "client_disconnected"
    assert trace.error_message == "client disconnected"
    assert trace.finish_reason == "cancelled"
    assert trace.ttft_ms is not None and trace.e2e_ms is not None
    assert trace.thinking.startswith("Thinking.")


def test_disconnect_closes_the_real_upstream_request(
    gateway: tuple[ThreadServer, Path], upstream: tuple[ThreadServer, UpstreamLog]
) -> None:
    server, db = gateway
    log = upstream[1]
    log.closed.clear()
    baseline = server.tasks()
    request_id = _open_and_drop(server.base_url, "hang")
    assert log.closed.wait(3), "the upstream stream was not closed"
    assert _wait(lambda: server.tasks() <= baseline), "tasks leaked"
    assert _wait(lambda: bool(_trace(db, request_id)))
    assert read(db, TraceQuery(request_id=request_id))[0].status == "client_disconnected"


def test_disconnect_during_non_streaming_request(gateway: tuple[ThreadServer, Path]) -> None:
    server, db = gateway
    closed = ScriptedProvider.closed
    _open_and_drop(server.base_url, "endless", stream=False)
    assert _wait(lambda: ScriptedProvider.closed == closed + 1)
    assert _wait(lambda: any(t.status == "client_disconnected" for t in _trace(db)))  # type: ignore[attr-defined]


def test_disconnect_before_the_first_upstream_event(gateway: tuple[ThreadServer, Path]) -> None:
    server, db = gateway
    baseline = server.tasks()
    closed = ScriptedProvider.closed
    body = {"model": "sleepy", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", server.base_url + "/v1/chat/completions", json=body) as response,
    ):
        request_id = response.headers["x-ponder-request-id"]
        first = next(line for line in response.iter_lines() if line.startswith("data: "))
        assert json.loads(first[6:])["ponder"]["event"] == "started"
    assert _wait(lambda: ScriptedProvider.closed == closed + 1), "provider cleanup did not run"
    assert _wait(lambda: server.tasks() <= baseline), "tasks leaked"
    assert _wait(lambda: bool(_trace(db, request_id)))
    trace = read(db, TraceQuery(request_id=request_id))[0]
    assert trace.status == "client_disconnected" and trace.ttft_ms is None
