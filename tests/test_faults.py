"""Each upstream fault, played by a real local HTTP server (tests/faults.py), through the
real gateway on uvicorn: what the client receives, what the trace says, and that no asyncio
task, socket or connection is left behind.

Rule under test throughout: a retry or a fallback happens only while nothing has reached the
client; once a thought or an answer byte went out, the failure is the client's to see.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.cli import main
from ponder.config import load_config
from ponder.server import ServerSettings, create_app
from ponder.store import TraceQuery, TraceRecord, TraceWriter, read
from tests.faults import HUGE_BYTES, OK_THOUGHTS, FaultServer, fault_config
from tests.gateway_harness import ThreadServer


@dataclass
class Gateway:
    server: ThreadServer
    faults: FaultServer
    db: Path
    config: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("faults")
    with FaultServer() as faults:
        path = directory / "ponder.toml"
        path.write_text(fault_config(faults), encoding="utf-8")
        db = directory / "traces.db"
        app = create_app(load_config(path), ServerSettings(), writer=TraceWriter(db))
        with ThreadServer(app) as server:
            yield Gateway(server, faults, db, path)


def open_fds() -> tuple[int, int]:
    """(open file descriptors, of which sockets) of this process (gateway, upstream, client)."""
    fds = sockets = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
            fds += 1
    return fds, sockets


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@dataclass
class Seen:
    """What a streaming client saw."""

    request_id: str
    status: int
    started: dict[str, Any] = field(default_factory=dict)
    thinking: str = ""
    answer: str = ""
    error: dict[str, Any] | None = None
    progress: list[str] = field(default_factory=list)
    done: bool = False


def stream(gw: Gateway, model: str) -> Seen:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", gw.server.base_url + "/v1/chat/completions", json=body) as r,
    ):
        seen = Seen(r.headers["x-ponder-request-id"], r.status_code)
        for line in r.iter_lines():
            if line == "data: [DONE]":
                seen.done = True
            elif line.startswith("data: "):
                obj = json.loads(line[6:])
                if "error" in obj:
                    seen.error = obj["error"]
                elif obj.get("ponder", {}).get("event") == "started":
                    seen.started = obj["ponder"]
                elif obj.get("ponder", {}).get("event") == "progress":
                    seen.progress.append(obj["ponder"]["label"])
                for choice in obj.get("choices", []):
                    delta = choice.get("delta", {})
                    seen.thinking += delta.get("reasoning_content") or ""
                    seen.answer += delta.get("content") or ""
    return seen


def trace(gw: Gateway, request_id: str) -> TraceRecord:
    assert wait_for(lambda: bool(read(gw.db, TraceQuery(request_id=request_id))))
    return read(gw.db, TraceQuery(request_id=request_id))[0]


@pytest.fixture()
def clean(gateway: Gateway) -> Iterator[Gateway]:
    """Resets the fault counters; afterwards, checks that nothing was left behind."""
    gateway.faults.reset()
    tasks, (fds, sockets) = gateway.server.tasks(), open_fds()
    yield gateway
    assert wait_for(lambda: gateway.server.tasks() <= tasks), "asyncio tasks leaked"
    assert gateway.faults.wait_idle(), "an upstream connection was left open"
    assert wait_for(lambda: open_fds()[1] <= sockets), "sockets leaked"
    assert wait_for(lambda: open_fds()[0] <= fds), "file descriptors leaked"


def served_by_backup(seen: Seen, why: str) -> None:
    assert seen.status == 200 and seen.error is None and seen.done
    assert seen.answer == "answer from backup"
    assert seen.started["model"] == "backup"
    assert why in seen.started["reason"] and seen.started["reason"].endswith("→ backup")


def test_connection_refused_falls_back(clean: Gateway) -> None:
    seen = stream(clean, "refused")
    served_by_backup(seen, "refused: upstream unreachable")
    record = trace(clean, seen.request_id)
    assert record.status == "ok" and record.model == "backup"
    assert "refused: upstream unreachable; " not in record.route_reason  # said once
    assert record.route_reason == seen.started["reason"]


def test_connection_refused_without_fallback_is_a_typed_error(clean: Gateway) -> None:
    body = {"model": "refused_alone", "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(clean.server.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["code"] == "upstream_unreachable" and error["type"] == "upstream_error"
    assert "cannot reach the server" in error["message"]
    assert "(after 2 attempts)" in error["message"]
    record = trace(clean, r.headers["x-ponder-request-id"])
    assert record.status == "error" and record.error_code == "upstream_unreachable"


def test_reset_mid_thoughts_is_not_retried(clean: Gateway) -> None:
    seen = stream(clean, "reset")
    assert seen.thinking == "Half a thought" and seen.answer == ""
    assert seen.error is not None and seen.error["code"] == "stream_broken"
    assert seen.started["model"] == "reset"
    assert clean.faults.hits["reset"] == 1 and clean.faults.hits["ok"] == 0
    record = trace(clean, seen.request_id)
    assert record.status == "error" and record.error_code == "stream_broken"
    assert record.thinking == "Half a thought"


def test_no_bytes_before_the_first_token_falls_back_at_ttft(clean: Gateway) -> None:
    seen = stream(clean, "silent")
    served_by_backup(seen, "silent: model 'silent': no first token within 0.3 s")
    assert trace(clean, seen.request_id).model == "backup"


def test_stall_mid_stream_ends_with_an_idle_timeout(clean: Gateway) -> None:
    seen = stream(clean, "stall")
    assert seen.thinking == "Started, then" and seen.answer == ""
    assert seen.error is not None and seen.error["code"] == "idle_timeout"
    assert "no data within 0.3 s" in seen.error["message"]
    assert clean.faults.hits["ok"] == 0  # thoughts were out: no fallback
    record = trace(clean, seen.request_id)
    assert record.error_code == "idle_timeout" and record.model == "stall"


def test_429_with_retry_after_is_retried(clean: Gateway) -> None:
    seen = stream(clean, "ratelimited")
    assert seen.error is None and seen.answer == "answer from ratelimited"
    assert seen.thinking == "".join(OK_THOUGHTS)
    assert clean.faults.hits["ratelimited"] == 2
    assert trace(clean, seen.request_id).status == "ok"
    metrics = httpx.get(clean.server.base_url + "/metrics").text
    assert 'ponder_retries_total{model="ratelimited"} 1' in metrics


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_are_retried_then_fall_back(clean: Gateway, status: int) -> None:
    seen = stream(clean, f"http{status}")
    served_by_backup(seen, f"http{status}: HTTP {status}")
    assert clean.faults.hits[f"http{status}"] == 2  # the first try and one retry
    record = trace(clean, seen.request_id)
    assert record.status == "ok" and record.model == "backup"
    assert f"http{status}: HTTP {status} → backup" in record.route_reason


def test_529_without_fallback_is_an_openai_shaped_error(clean: Gateway) -> None:
    body = {"model": "http529_alone", "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(clean.server.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["type"] == "upstream_error" and error["code"] == "upstream_error"
    assert "HTTP 529" in error["message"] and "upstream fault 529" in error["message"]
    assert r.json()["ponder"]["status"] == 529 and r.json()["ponder"]["retryable"] is True


def test_malformed_sse_line_after_a_thought_is_a_typed_error(clean: Gateway) -> None:
    seen = stream(clean, "malformed")
    assert seen.thinking == "A thought. "
    assert seen.error is not None and seen.error["code"] == "stream_broken"
    assert "malformed chunk" in seen.error["message"]
    assert clean.faults.hits["malformed"] == 1 and clean.faults.hits["ok"] == 0
    assert trace(clean, seen.request_id).error_code == "stream_broken"


def test_utf8_split_across_chunks_and_an_invalid_byte(clean: Gateway) -> None:
    seen = stream(clean, "utf8")
    assert seen.error is None and seen.answer == "café \ufffd!"
    assert trace(clean, seen.request_id).answer == "café \ufffd!"


def test_one_10_mb_chunk(clean: Gateway) -> None:
    seen = stream(clean, "huge")
    assert seen.error is None and seen.done
    assert len(seen.answer) == HUGE_BYTES and set(seen.answer) == {"x"}
    record = trace(clean, seen.request_id)
    assert record.status == "ok" and record.answer.startswith("xxx")


def test_thoughts_that_never_end_hit_ttfa(clean: Gateway) -> None:
    seen = stream(clean, "endless_alone")
    assert seen.thinking.startswith("Thought 0. ") and seen.answer == ""
    assert seen.error is not None and seen.error["code"] == "ttfa_timeout"
    assert "no answer token (still thinking) within 0.4 s" in seen.error["message"]
    record = trace(clean, seen.request_id)
    assert record.error_code == "ttfa_timeout" and record.thinking.startswith("Thought 0.")


def test_still_thinking_at_ttfa_falls_back_after_the_thoughts(clean: Gateway) -> None:
    seen = stream(clean, "endless")
    assert seen.error is None and seen.done
    assert seen.started["model"] == "endless"  # announced before the deadline passed
    assert seen.thinking.startswith("Thought 0. ")
    assert seen.answer == "answer from backup"
    note = "model 'endless': no answer token (still thinking) within 0.4 s"
    assert any(label.startswith(note) and label.endswith("→ backup") for label in seen.progress)
    record = trace(clean, seen.request_id)
    assert record.status == "ok" and record.answer == "answer from backup"
    assert any(label.endswith("→ backup") for label in record.progress)
    assert clean.faults.hits["ok"] == 1


def test_one_byte_per_second_falls_back_at_the_total_deadline(clean: Gateway) -> None:
    seen = stream(clean, "dribble")
    served_by_backup(seen, "dribble: model 'dribble': the stream did not finish within 2.5 s")


def test_breaker_opens_and_sends_requests_straight_to_the_fallback(
    clean: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        served_by_backup(stream(clean, "flaky"), "flaky: HTTP 503")
    assert clean.faults.hits["http503"] == 2
    seen = stream(clean, "flaky")
    served_by_backup(seen, "flaky: model 'flaky': circuit breaker open")
    assert seen.started["reason"].startswith("model 'flaky' requested by name; ")
    assert clean.faults.hits["http503"] == 2  # the open breaker did not call the upstream
    metrics = httpx.get(clean.server.base_url + "/metrics").text
    assert 'ponder_circuit_breaker_state{model="flaky"} 1' in metrics
    assert 'ponder_fallbacks_total{model="flaky",served_by="backup"} 3' in metrics
    assert trace(clean, seen.request_id).model == "backup"
    main(["--config", str(clean.config), "models", "--gateway", clean.server.base_url])
    policies = capsys.readouterr().out.partition("\n\n")[2]
    row = next(line for line in policies.splitlines() if line.startswith("flaky "))
    assert row.endswith("[open]") and "backup" in row
