"""Unit tests of the wire encoding and request parsing (no server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.cli.serve import is_loopback
from ponder.events import Failed, Finished, Progress, Started, Usage
from ponder.server.errors import MalformedJSONError, ParamError
from ponder.server.metrics import GatewayMetrics
from ponder.server.parse import parse_body, parse_chat
from ponder.server.wire import ChunkEncoder, completion_body
from ponder.store.record import TraceRecord
from tests.gateway_harness import ROOT, serve_subprocess, write_config


def frame(data: bytes) -> dict[str, Any]:
    assert data.startswith(b"data: ") and data.endswith(b"\n\n")
    parsed: dict[str, Any] = json.loads(data[6:])
    return parsed


def test_delta_chunks_are_valid_openai_chunks() -> None:
    enc = ChunkEncoder("chatcmpl-1", "deep", created=5)
    tricky = 'quote " backslash \\ newline \n unicode é 🧠 </script>'
    for data, field in (
        (enc.answer(tricky), "content"),
        (enc.thinking(tricky), "reasoning_content"),
    ):
        chunk = frame(data)
        assert chunk["object"] == "chat.completion.chunk" and chunk["model"] == "deep"
        assert chunk["choices"] == [
            {"index": 0, "delta": {field: tricky}, "logprobs": None, "finish_reason": None}
        ]
        assert "ponder" not in chunk


def test_started_progress_finished_usage_and_failed_chunks() -> None:
    enc = ChunkEncoder("chatcmpl-1", "deep", created=5)
    started = frame(enc.started(Started("req_1", "deep", "deep", "because", {"x": 1.0})))
    assert started["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert started["ponder"] == {
        **{"event": "started", "request_id": "req_1", "model": "deep", "mode": "deep"},
        **{"reason": "because", "estimates": {"x": 1.0}},
    }
    progress = frame(enc.progress(Progress("Checking", 2)))
    assert progress["choices"][0]["delta"] == {}
    assert progress["ponder"] == {"event": "progress", "label": "Checking", "index": 2}
    usage = Usage(7, 5, 3, estimated=True)
    finished = frame(enc.finished(Finished("thinking_length", {"ttft_ms": 1.0}), usage))
    assert finished["choices"][0]["finish_reason"] == "length"
    assert finished["ponder"]["finish_reason"] == "thinking_length"
    assert finished["ponder"]["usage"] == {"input_tokens": 7, "thinking_tokens": 5,
                                           "answer_tokens": 3, "estimated": True}  # fmt: skip
    final = frame(enc.usage(usage, prompt_tokens=99))
    assert final["choices"] == []
    assert final["usage"] == {"prompt_tokens": 7, "completion_tokens": 8, "total_tokens": 15,
                              "completion_tokens_details": {"reasoning_tokens": 5}}  # fmt: skip
    failed = frame(enc.failed(Failed("network", "upstream_unreachable", "gone", True, None)))
    assert failed["error"] == {"message": "gone", "type": "upstream_error", "param": None,
                               "code": "upstream_unreachable"}  # fmt: skip
    assert failed["ponder"]["event"] == "failed" and failed["ponder"]["retryable"] is True


def test_completion_body() -> None:
    body = completion_body(
        completion_id="c", created=1, started=Started("r", "fast", "fast", "why"), answer="a",
        thinking="", finished=Finished("stop", {}), usage=None, prompt_tokens=4, progress=[],
    )  # fmt: skip
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "a"}
    assert body["usage"]["prompt_tokens"] == 4 and body["ponder"]["progress"] == []


def test_parse_accepts_openai_params_and_ponder_extras() -> None:
    body = {
        "model": "auto",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "assistant", "content": "x", "reasoning_content": "thought"},
            {"role": "user", "content": "again"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "reasoning_effort": "minimal",
        "thinking": {"enabled": True, "budget": 512},
        "user": "ignored",
        "top_p": 0.9,
    }
    parsed = parse_chat(body, {"x-ponder-max-ttfa-ms": "1500"}, "req_x")
    chat = parsed.chat
    assert parsed.stream and parsed.include_usage
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "user"]
    assert chat.messages[1].content == "ab" and chat.messages[2].thinking == "thought"
    assert chat.max_tokens == 20 and chat.temperature == 0.5 and chat.max_ttfa_ms == 1500
    assert (chat.thinking.enabled, chat.thinking.budget, chat.thinking.effort) == (True, 512, "low")
    assert chat.request_id == "req_x"
    off = parse_chat({"model": "x", "messages": [{"role": "user", "content": "hi"}],
                      "reasoning_effort": "none"}, {}, "r")  # fmt: skip
    assert off.chat.thinking.enabled is False and not off.stream


def test_parse_errors_name_the_parameter() -> None:
    with pytest.raises(MalformedJSONError):
        parse_body(b"\xff\xfe")
    with pytest.raises(ParamError) as info:
        image = [{"role": "user", "content": [{"type": "image_url"}]}]
        parse_chat({"model": "m", "messages": image}, {}, "r")
    assert info.value.param == "messages[0].content[0].image_url"
    with pytest.raises(ParamError) as info:
        audio = [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]
        parse_chat({"model": "m", "messages": audio}, {}, "r")
    assert info.value.param == "messages[0].content[0]"


def test_metrics_text_format_and_reason_cardinality() -> None:
    metrics = GatewayMetrics()
    for n in range(150):
        metrics.observe(
            TraceRecord(
                request_id=str(n),
                created_at=0,
                requested_model="auto",
                model="deep",
                mode="deep",
                route_reason=f"budget {n} ms" if n < 50 else f'reason "{chr(65 + n)}"\n',
                route_estimates=None,
                stream=True,
                status="ok",
                finish_reason="stop",
                e2e_ms=1500.0,
                ttft_ms=100.0,
                ttfa_ms=900.0,
                input_tokens=5,
                thinking_tokens=300,
                answer_tokens=20,
            )
        )
    text = metrics.render()
    assert 'ponder_route_decisions_total{mode="deep",reason="budget N ms"} 50' in text
    assert 'reason="other"' in text  # distinct reasons are capped
    assert '\\"' in text and "\\n" in text  # label values escaped
    assert ('gen_ai_client_operation_duration_seconds_bucket{gen_ai_operation_name="chat",'
            'gen_ai_request_model="auto",gen_ai_response_model="deep",ponder_mode="deep",'
            'error_type="",le="2.56"} 150') in text  # fmt: skip
    assert 'gen_ai_token_type="reasoning",le="256"} 0' in text
    assert 'gen_ai_token_type="reasoning",le="1024"} 150' in text
    for line in text.rstrip("\n").split("\n"):
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])  # every sample ends in a number


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_public_bind_without_api_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PONDER_API_KEY"}
    command = [sys.executable, "-m", "ponder", "serve", "--host", "0.0.0.0"]
    command += ["--db", str(tmp_path / "t.db")]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "PONDER_API_KEY" in result.stderr and "refusing to bind 0.0.0.0" in result.stderr


def test_serve_binds_publicly_with_api_key_and_requires_it(tmp_path: Path) -> None:
    env = {"PONDER_API_KEY": "k-1234567"}
    db = tmp_path / "t.db"
    with serve_subprocess(write_config(tmp_path), db, env=env, host="0.0.0.0") as served:
        assert httpx.get(served.base_url + "/v1/models").status_code == 401
        ok = httpx.get(
            served.base_url + "/v1/models", headers={"authorization": "Bearer k-1234567"}
        )
        assert ok.status_code == 200
    assert "bearer token required" in served.log_text()


def test_serve_explains_an_unusable_trace_store(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    command = [sys.executable, "-m", "ponder", "serve", "--db", str(blocker / "traces.db")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "Cannot open the trace store" in result.stderr and "--no-store" in result.stderr
