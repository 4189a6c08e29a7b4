"""``ponder stub``: its schedule, and the real HTTP server that serves it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from ponder.cli import main
from ponder.config import Config, ModelConfig, ThinkingConfig
from ponder.engine import Engine
from ponder.meter import Meter
from ponder.request import ChatRequest
from ponder.stub.schedule import Schedule, ScheduleError, plan
from ponder.stub.server import StubServer, StubSettings
from ponder.tokens import estimate_tokens

FAST = Schedule(ttft_ms=5, thought_tokens=4, answer_tokens=3, itl_ms=1)


def test_plan_sends_every_thought_then_the_answer_on_schedule() -> None:
    schedule = Schedule(ttft_ms=100, thought_tokens=3, answer_tokens=2, itl_ms=10)
    tokens = plan(schedule).tokens
    assert [t.kind for t in tokens] == ["thinking"] * 3 + ["answer"] * 2
    assert [t.at_ms for t in tokens] == [100, 110, 120, 130, 140]
    assert schedule.ttfa_ms == 130 and schedule.e2e_ms == 140
    assert estimate_tokens("".join(t.text for t in tokens if t.kind == "thinking")) == 3
    assert estimate_tokens("".join(t.text for t in tokens if t.kind == "answer")) == 2


def test_plan_without_thoughts_answers_at_ttft_and_without_answer_has_no_ttfa() -> None:
    assert plan(Schedule(ttft_ms=7, thought_tokens=0, answer_tokens=2)).tokens[0].at_ms == 7
    assert Schedule(thought_tokens=2, answer_tokens=0).ttfa_ms is None


def test_jitter_stays_in_bounds_keeps_order_and_is_seeded() -> None:
    schedule = Schedule(ttft_ms=50, thought_tokens=40, answer_tokens=40, itl_ms=5, jitter_ms=2)
    first = plan(schedule, request_index=3).tokens
    offsets = [t.at_ms for t in first]
    assert offsets == sorted(offsets)
    for k, at in enumerate(offsets):
        assert at <= 50 + 5 * k + 2
    assert offsets != [50 + 5 * k for k in range(80)]
    assert [t.at_ms for t in plan(schedule, request_index=3).tokens] == offsets
    assert [t.at_ms for t in plan(schedule, request_index=4).tokens] != offsets


def test_max_tokens_caps_thoughts_and_answer_together() -> None:
    capped = plan(Schedule(thought_tokens=4, answer_tokens=4), max_tokens=6)
    assert (capped.thought_tokens, capped.answer_tokens, capped.finish_reason) == (4, 2, "length")
    assert plan(Schedule(thought_tokens=4, answer_tokens=4), max_tokens=8).finish_reason == "stop"


@pytest.mark.parametrize(
    ("overrides", "says"),
    [({"ttft_ms": -1}, "ttft_ms must be a number >= 0"),
     ({"thought_tokens": 1.5}, "thought_tokens must be a whole number"),
     ({"thought_tokens": 0, "answer_tokens": 0}, "at least 1"),
     ({"ttft": 3}, "unknown schedule field(s) ttft")],
)  # fmt: skip
def test_bad_schedule_values_are_named(overrides: dict[str, Any], says: str) -> None:
    with pytest.raises(ScheduleError, match=says.replace("(", r"\(").replace(")", r"\)")):
        Schedule().with_overrides(overrides)


@pytest.fixture()
async def stub() -> AsyncIterator[StubServer]:
    server = StubServer(StubSettings(FAST, api_key=None))
    await server.start()
    yield server
    await server.aclose()


async def _events(base_url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.post(base_url + "/chat/completions", json=body)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        frames = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    return [json.loads(frame) for frame in frames[:-1]]


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "add two and two"}], **extra}


async def test_stream_sends_reasoning_content_then_content_then_usage(stub: StubServer) -> None:
    chunks = await _events(stub.base_url, _chat(stream=True,
                                                 stream_options={"include_usage": True}))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    kinds = [next(iter(k for k in d if k != "role"), None) for d in deltas]
    assert kinds == ["reasoning_content"] * 4 + ["content"] * 3 + [None]
    assert deltas[0]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 4, "completion_tokens": 7, "total_tokens": 11,
                                   "completion_tokens_details": {"reasoning_tokens": 4}}


async def test_a_request_overrides_its_own_schedule_and_caps_its_output(stub: StubServer) -> None:
    chunks = await _events(stub.base_url, _chat(stream=True, max_tokens=3,
                                                 stub={"thought_tokens": 1, "ttft_ms": 0}))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert [d.get("reasoning_content") or d.get("content") for d in deltas] == [
        "let ", "the ", "answer ", None]
    assert "content" in deltas[1] and "reasoning_content" in deltas[0]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_the_official_sdk_reads_thoughts_and_answer(stub: StubServer) -> None:
    client = openai.AsyncOpenAI(base_url=stub.base_url, api_key="unused", max_retries=0)
    whole = await client.chat.completions.create(model="m", messages=[
        {"role": "user", "content": "hi"}])
    message = whole.choices[0].message
    assert message.content == "the answer is "
    assert (message.model_extra or {})["reasoning_content"] == "let me think about "
    assert whole.usage is not None and whole.usage.completion_tokens == 7
    await client.close()


async def test_ponder_meters_the_stub_as_its_schedule_says(stub: StubServer) -> None:
    config = Config(models={"stub": ModelConfig("stub", "openai", base_url=stub.base_url,
                                                model="m",
                                                thinking=ThinkingConfig(enabled=True))})
    engine = Engine(config)
    meter = Meter()
    async for event in engine.stream(ChatRequest.from_prompt("hi", model="stub")):
        meter.feed(event)
    metrics = meter.metrics()
    await engine.aclose()
    assert (metrics.thinking_tokens, metrics.answer_tokens) == (4, 3)
    assert metrics.tokens_estimated is False
    assert meter.thinking_text == "let me think about "
    assert metrics.ttft_ms is not None and metrics.ttft_ms >= FAST.ttft_ms
    assert metrics.ttfa_ms is not None and metrics.ttfa_ms >= FAST.ttfa_ms  # type: ignore[operator]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [(b"not json", 400, None),
     (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), 400,
      "missing_required_parameter"),
     (json.dumps({"model": "m", "messages": []}).encode(), 400, "empty_array"),
     (json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}],
                  "stream": "yes"}).encode(), 400, "invalid_type"),
     (json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}],
                  "stub": {"ttft": 1}}).encode(), 400, None)],
)  # fmt: skip
async def test_bad_requests_get_openai_shaped_errors(
    stub: StubServer, body: bytes, status: int, code: str | None
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(stub.base_url + "/chat/completions", content=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["code"] == code


async def test_a_configured_key_is_required() -> None:
    server = StubServer(StubSettings(FAST, api_key="sk-stub"))
    await server.start()
    async with httpx.AsyncClient() as client:
        url = server.base_url + "/chat/completions"
        denied = await client.post(url, json=_chat())
        allowed = await client.post(url, json=_chat(), headers={"authorization": "Bearer sk-stub"})
        models = await client.get(server.base_url + "/models",
                                  headers={"authorization": "Bearer sk-stub"})
    await server.aclose()
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
    assert allowed.status_code == 200
    assert models.json()["data"][0]["id"] == "ponder-stub"


def test_cli_refuses_a_schedule_without_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stub", "--thought-tokens", "0", "--answer-tokens", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_cli_refuses_an_unset_key_variable(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("I18_UNSET_KEY", raising=False)
    assert main(["stub", "--api-key-env", "I18_UNSET_KEY"]) == 2
    assert "I18_UNSET_KEY" in capsys.readouterr().err


async def test_stats_report_requests_and_the_stubs_own_lateness(stub: StubServer) -> None:
    await _events(stub.base_url, _chat(stream=True))
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"http://{stub.host}:{stub.port}/stub/stats")).json()
        health = await client.get(f"http://{stub.host}:{stub.port}/health")
    assert stats["requests"] == 1
    assert set(stats["late_ms"]) == {"first_token", "first_answer"}
    assert stats["late_ms"]["first_token"]["p50"] >= 0  # never sent before it was due
    assert health.status_code == 200


async def test_a_client_leaving_mid_stream_does_not_disturb_the_next() -> None:
    server = StubServer(StubSettings(Schedule(ttft_ms=0, thought_tokens=50, answer_tokens=1,
                                              itl_ms=2)))
    await server.start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    body = json.dumps(_chat(stream=True)).encode()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s"
                 % (len(body), body))
    await reader.readuntil(b"reasoning_content")
    writer.close()
    chunks = await _events(server.base_url, _chat(stream=True))
    await server.aclose()
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
