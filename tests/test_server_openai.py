"""The gateway against the official ``openai`` SDK: a real ``ponder serve`` subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.gateway_harness import Served, serve_subprocess, write_config


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("serve")
    with serve_subprocess(write_config(directory), directory / "traces.db") as server:
        yield server


@pytest.fixture()
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url + "/v1", api_key="unused", max_retries=0)


def _extra(obj: Any) -> dict[str, Any]:
    return dict(obj.model_extra or {})


def test_streaming_carries_thoughts_answer_progress_and_ponder_events(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "What is 4821 × 37?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    ponder = [_extra(c)["ponder"] for c in chunks if "ponder" in _extra(c)]
    assert ponder[0]["event"] == "started"
    assert ponder[0]["mode"] == "deep" and ponder[0]["model"] == "deep"
    assert "arithmetic" in ponder[0]["reason"]
    assert ponder[0]["request_id"].startswith("req_")
    assert any(p["event"] == "progress" and p["label"] for p in ponder)
    finished = ponder[-1]
    assert finished["event"] == "finished" and finished["finish_reason"] == "stop"
    assert finished["timings"]["ttfa_ms"] >= finished["timings"]["ttft_ms"] > 0
    assert finished["usage"] == {"input_tokens": 12, "thinking_tokens": 20, "answer_tokens": 2,
                                 "estimated": False}  # fmt: skip

    thoughts = "".join(
        _extra(c.choices[0].delta).get("reasoning_content") or "" for c in chunks if c.choices
    )
    answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert thoughts.startswith("The question asks for a product.")
    assert answer == "178377"
    first_answer = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    last_thought = max(
        i
        for i, c in enumerate(chunks)
        if c.choices and _extra(c.choices[0].delta).get("reasoning_content")
    )
    assert last_thought < first_answer
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["stop"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.completion_tokens == 22 and usage.prompt_tokens == 12
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 20


def test_streaming_without_include_usage_sends_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Paris is the capital."


def test_non_streaming_has_reasoning_content_and_ponder_object(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="deep", messages=[{"role": "user", "content": "What is 4821 × 37?"}]
    )
    message = response.choices[0].message
    assert message.content == "178377"
    assert _extra(message)["reasoning_content"].startswith("The question asks")
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.completion_tokens_details is not None
    assert response.usage.completion_tokens_details.reasoning_tokens == 20
    ponder = _extra(response)["ponder"]
    assert ponder["mode"] == "deep" and ponder["finish_reason"] == "stop"
    assert ponder["progress"] and all(isinstance(p, str) for p in ponder["progress"])
    assert ponder["timings"]["e2e_ms"] > 0


def test_auto_routes_small_talk_fast_and_says_why(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hello there!"}]
    )
    ponder = _extra(response)["ponder"]
    assert ponder["mode"] == "fast" and response.model == "fast"
    assert "small talk" in ponder["reason"]


def test_latency_budget_header_forces_fast(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Think step by step: what is 4821 × 37?"}],
        extra_headers={"x-ponder-max-ttfa-ms": "1"},
    )
    ponder = _extra(response)["ponder"]
    assert ponder["mode"] == "fast"
    assert "latency budget 1 ms" in ponder["reason"]
    assert ponder["estimates"]["max_ttfa_ms"] == 1


def test_thinking_extra_and_reasoning_effort_are_accepted(client: openai.OpenAI) -> None:
    off = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Refactor this function"}],
        extra_body={"thinking": {"enabled": False}},
        temperature=0.2,
        max_completion_tokens=64,
    )
    assert _extra(off)["ponder"]["mode"] == "fast"
    on = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], reasoning_effort="high",
        extra_body={"thinking": {"enabled": True, "budget": 256}},
    )  # fmt: skip
    assert _extra(on)["ponder"]["mode"] == "deep"


def test_request_id_header_matches_trace_and_is_on_every_response(served: Served) -> None:
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(served.base_url + "/v1/chat/completions", json=body)
    request_id = response.headers["x-ponder-request-id"]
    assert response.json()["ponder"]["request_id"] == request_id
    for path in ("/healthz", "/v1/models", "/metrics", "/nowhere"):
        assert httpx.get(served.base_url + path).headers["x-ponder-request-id"].startswith("req_")


def test_models_lists_modes_and_aliases(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"fast", "deep", "auto", "slow"} <= ids
    assert client.models.retrieve("auto").id == "auto"
    assert client.models.retrieve("slow").id == "slow"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-9")


def test_traces_api_pages_and_rejects_bad_parameters(served: Served, client: openai.OpenAI) -> None:
    for _ in range(3):
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "page"}])
    url = served.base_url + "/api/traces"
    import time

    deadline = time.monotonic() + 5
    while len(httpx.get(url, params={"q": "page"}).json()["data"]) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first = httpx.get(url, params={"q": "page", "limit": 2}).json()["data"]
    rest = httpx.get(url, params={"q": "page", "before": first[-1]["created_at"]}).json()["data"]
    assert len(first) == 2 and len(rest) >= 1
    assert {t["request_id"] for t in first}.isdisjoint(t["request_id"] for t in rest)
    for params in ({"limit": "0"}, {"limit": "x"}, {"status": "weird"}, {"since": "yesterday"}):
        response = httpx.get(url, params=params)
        assert response.status_code == 400
        assert response.json()["error"]["param"] == next(iter(params))


def test_traces_and_config_apis(served: Served, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="deep", messages=[{"role": "user", "content": "zebra-marker 4821 × 37"}]
    )
    import time

    deadline = time.monotonic() + 5
    while True:
        data = httpx.get(served.base_url + "/api/traces", params={"q": "zebra-marker"}).json()[
            "data"
        ]
        if data or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(data) == 1
    trace = data[0]
    assert trace["mode"] == "deep" and trace["status"] == "ok" and trace["ttfa_ms"] > 0
    assert trace["thinking_tokens"] == 20 and trace["tokens_estimated"] is False
    detail = httpx.get(served.base_url + f"/api/traces/{trace['request_id']}").json()
    assert detail["thinking"].startswith("The question asks")
    only_fast = httpx.get(served.base_url + "/api/traces", params={"mode": "fast"}).json()["data"]
    assert all(t["mode"] == "fast" for t in only_fast)
    config = httpx.get(served.base_url + "/api/config").json()
    assert config["modes"] == ["fast", "deep", "auto"]
    assert {m["name"] for m in config["models"]} >= {"fast", "deep"}
    assert "base_url" not in str(config) and "api_key" not in str(config)


def test_metrics_expose_genai_and_ponder_series(served: Served, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "4821 × 37"}]
    )
    text = httpx.get(served.base_url + "/metrics").text
    for name in (
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_server_time_to_first_token_seconds_count",
        "ponder_time_to_first_answer_token_seconds_sum",
        'gen_ai_client_token_usage_count{gen_ai_operation_name="chat",gen_ai_request_model="auto"',
        'gen_ai_token_type="reasoning"',
        'gen_ai_token_type="answer"',
        'gen_ai_token_type="input"',
        'ponder_route_decisions_total{mode="deep",reason="multi-digit arithmetic',
    ):
        assert name in text, name


def test_health(served: Served) -> None:
    assert httpx.get(served.base_url + "/healthz").json()["status"] == "ok"


def test_db_file_is_created(served: Served) -> None:
    assert Path(served.db).exists()
