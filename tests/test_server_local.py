"""The gateway on the embedded model (the built-in ``fast`` and ``deep``), via the SDK."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from ponder.store import TraceQuery, read
from tests.gateway_harness import Served, serve_subprocess


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("local")
    config = directory / "ponder.toml"
    config.write_text('[router]\nkind = "rules"\n', encoding="utf-8")  # built-in fast/deep
    with serve_subprocess(config, directory / "traces.db") as server:
        yield server


@pytest.fixture()
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url + "/v1", api_key="unused", max_retries=0)


def _extra(obj: Any) -> dict[str, Any]:
    return dict(obj.model_extra or {})


def test_deep_streams_through_the_gateway_with_exact_usage(
    served: Served, client: openai.OpenAI
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "What is 4821 * 37?"}],
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=256,
        )
    )
    events = [_extra(c)["ponder"] for c in chunks if "ponder" in _extra(c)]
    assert events[0]["event"] == "started" and events[0]["mode"] == "deep"
    assert events[0]["model"] == "deep" and "arithmetic" in events[0]["reason"]
    assert events[-1]["event"] == "finished"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert (
        usage.completion_tokens_details.reasoning_tokens == events[-1]["usage"]["thinking_tokens"]
    )
    assert events[-1]["usage"]["estimated"] is False  # the embedded model counts exactly
    thoughts = "".join(
        _extra(c.choices[0].delta).get("reasoning_content") or "" for c in chunks if c.choices
    )
    assert "<think>" not in thoughts and "</think>" not in thoughts
    deadline = time.monotonic() + 5
    request_id = events[0]["request_id"]
    while not read(served.db, TraceQuery(request_id=request_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    trace = read(served.db, TraceQuery(request_id=request_id))[0]
    assert trace.mode == "deep" and trace.status == "ok" and trace.tokens_estimated is False


def test_fast_answers_without_thoughts(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "What is 347 * 28?"}]
    )
    assert "reasoning_content" not in _extra(response.choices[0].message)
    ponder = _extra(response)["ponder"]
    assert ponder["mode"] == "fast" and ponder["usage"]["thinking_tokens"] == 0


def test_small_talk_routes_fast_and_gets_an_answer(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hello!"}]
    )
    assert _extra(response)["ponder"]["mode"] == "fast"
    assert response.choices[0].message.content


@pytest.mark.parametrize(
    "prompt, expected", [("What is 4821 * 37?", "178377"), ("What's 564 times 3?", "1692")]
)
def test_deep_gets_the_arithmetic_right(client: openai.OpenAI, prompt: str, expected: str) -> None:
    # Greedy decoding of the shipped model: deterministic. A retrained model that gets these
    # wrong should fail here, not be skipped.
    response = client.chat.completions.create(
        model="deep", messages=[{"role": "user", "content": prompt}]
    )
    answer = response.choices[0].message.content or ""
    assert re.sub(r"[^\d]", "", answer).endswith(expected)
    assert _extra(response.choices[0].message)["reasoning_content"]


def test_a_canned_reply_finishes_declined_and_stays_out_of_the_timings(
    served: Served, client: openai.OpenAI
) -> None:
    import httpx

    def ttfa_count() -> int:
        text = httpx.get(served.base_url + "/metrics", timeout=5).text
        counts = re.findall(
            r'^ponder_time_to_first_answer_token_seconds_count\{[^}]*\} (\d+)', text, re.M
        )
        return sum(int(c) for c in counts)

    client.chat.completions.create(
        model="deep", messages=[{"role": "user", "content": "What is 4821 * 37?"}]
    )
    time.sleep(0.2)
    before = ttfa_count()
    chunks = list(
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "What is 52 + 77?"}],
            stream=True,
        )
    )
    finished = [_extra(c)["ponder"] for c in chunks if "ponder" in _extra(c)][-1]
    assert finished["event"] == "finished" and finished["finish_reason"] == "declined"
    assert chunks[-1].choices[0].finish_reason == "stop"  # OpenAI clients see a normal end
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "52 + 77 is 2-digit + 2-digit" in text
    time.sleep(0.2)
    assert ttfa_count() == before  # no 0 ms among the TTFA figures
    (trace,) = read(served.db, TraceQuery(text="52 + 77"))
    assert trace.finish_reason == "declined" and trace.status == "ok" and not trace.timed
