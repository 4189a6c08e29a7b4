"""Failures through ``/v1/responses``: OpenAI-shaped errors before any output, a
``response.failed`` event after it, and a trace that says so."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.gateway_harness import CANARY_KEY, Served
from tests.test_messages_errors import served, trace  # noqa: F401  (the scripted gateway)


def post(served: Served, body: dict[str, Any]) -> httpx.Response:  # noqa: F811  (a parameter)
    return httpx.post(served.base_url + "/v1/responses", json=body, timeout=30)


def test_failure_before_output_is_an_openai_error(served: Served) -> None:  # noqa: F811
    response = post(served, {"model": "down", "input": "hi"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert "service unavailable" in error["message"]
    record = trace(served, response.headers["x-ponder-request-id"])
    assert record["door"] == "responses" and record["status"] == "error"


def test_failure_mid_stream_is_response_failed_after_what_arrived(served: Served) -> None:  # noqa: F811
    body = {"model": "midfail", "input": "hi", "stream": True}
    with httpx.stream("POST", served.base_url + "/v1/responses", json=body, timeout=30) as r:
        assert r.status_code == 200
        data = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    kinds = [d["type"] for d in data]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.failed"
    failed = data[-1]["response"]
    assert failed["status"] == "failed" and "upstream dropped" in failed["error"]["message"]
    assert [item["type"] for item in failed["output"]] == ["message"]  # what arrived is kept
    assert [d["sequence_number"] for d in data] == list(range(len(data)))


def test_upstream_key_never_leaks(served: Served) -> None:  # noqa: F811
    client = openai.OpenAI(base_url=served.base_url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="leaky", input="hi")
    assert info.value.status_code == 502 and "[redacted]" in str(info.value.body)
    assert CANARY_KEY not in json.dumps(info.value.body)
