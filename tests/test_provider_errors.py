"""Errors a person can act on, over a real socket: HTTP error bodies, broken and dropped streams,
a missing key, an unreachable server. The canary key must never appear in a message."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.config import parse_config
from ponder.events import Event, Failed
from ponder.registry import create_provider
from ponder.request import ChatRequest
from tests.replay import ReplayServer, Reply, json_reply, ndjson_chunks, schedule, sse_chunks
from tests.test_providers_replay import (
    CANARY,
    KEY_ENV,
    answer_text,
    config,
    run,
    thinking_text,
)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, CANARY)


# (provider kind, base path, request path)
KINDS = {
    "openai": ("/v1", "/v1/chat/completions"),
    "anthropic": ("", "/v1/messages"),
    "ollama": ("", "/api/chat"),
}

HTTP_ERRORS: list[tuple[str, int, dict[str, Any], str]] = [
    (
        "openai",
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {CANARY}. You can find your API key"
                " at https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        "Incorrect API key provided: [redacted]",
    ),
    (
        "openai",
        429,
        {"error": {"message": "Rate limit exceeded: free-models-per-day", "code": 429}},
        "Rate limit exceeded: free-models-per-day",
    ),
    (
        "openai",
        500,
        {"error": {"message": "Internal server error", "type": "internal_error"}},
        "Internal server error (internal_error)",
    ),
    (
        "anthropic",
        401,
        {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        },
        "invalid x-api-key (authentication_error)",
    ),
    (
        "anthropic",
        429,
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "Number of request tokens has exceeded your per-minute rate limit",
            },
        },
        "per-minute rate limit",
    ),
    (
        "anthropic",
        500,
        {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
        "Internal server error (api_error)",
    ),
    (
        "ollama",
        401,
        {"error": f"unauthorized: key {CANARY} is not valid"},
        "unauthorized: key [redacted] is not valid",
    ),
    ("ollama", 429, {"error": "too many requests, retry later"}, "too many requests"),
    (
        "ollama",
        500,
        {"error": "llama runner process has terminated: exit status 2"},
        "llama runner process has terminated",
    ),
]


def failure(events: list[Event]) -> Failed:
    last = events[-1]
    assert isinstance(last, Failed), events
    assert CANARY not in last.message
    return last


@pytest.mark.parametrize(("kind", "status", "body", "expected"), HTTP_ERRORS)
async def test_http_errors_surface_status_and_provider_message(
    replay: ReplayServer, kind: str, status: int, body: dict[str, Any], expected: str
) -> None:
    base, path = KINDS[kind]
    replay.route("POST", path, json_reply(status, body))
    events, _ = await run(config(replay, kind, base))
    failed = failure(events)
    assert failed.status == status
    assert failed.side == "upstream" and failed.code == "upstream_error"
    assert f"HTTP {status}" in failed.message
    assert expected in failed.message
    assert failed.retryable is (status != 401)


async def test_retry_after_is_passed_on(replay: ReplayServer) -> None:
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
    replay.route("POST", "/v1/messages", json_reply(429, body, {"retry-after": "20"}))
    # 20 s is more than the retry policy waits for: no retry, the 429 goes to the caller.
    events, _ = await run(config(replay, "anthropic", retries={"max_retry_after_ms": 10000}))
    failed = failure(events)
    assert failed.status == 429 and failed.retryable
    assert "Slow down (rate_limit_error) (retry after 20 s)" in failed.message
    assert len(replay.requests) == 1


async def test_error_chunk_mid_stream(replay: ReplayServer) -> None:
    # OpenRouter reports an upstream failure after the stream started as an error chunk.
    error = b'data: {"error": {"code": 502, "message": "Provider disconnected"}}\n\n'
    chunks = [*sse_chunks("openrouter_reasoning_details.sse")[:4], error]
    replay.route("POST", "/v1/chat/completions", Reply(chunks=schedule(chunks, [3.0])))
    events, _ = await run(config(replay, "openai", "/v1"))
    failed = failure(events)
    assert failed.code == "stream_broken"
    assert "Provider disconnected" in failed.message
    assert thinking_text(events) == "Paris is the capital"


def _openai_chunks() -> list[bytes]:
    return sse_chunks("deepseek_reasoning_content.sse")


MALFORMED = {
    "openai": [*_openai_chunks()[:4], b'data: {"choices": [{"delta": {"content": "oops"\n\n'],
    "anthropic": [
        *sse_chunks("anthropic_thinking.sse")[:4],
        b"event: content_block_delta\ndata: {not json}\n\n",
    ],
    "ollama": [*ndjson_chunks("ollama_chat_think.ndjson")[:2], b'{"message": {"content": "x"\n'],
}
KEPT_THOUGHTS = {"openai": "The user asks for 17", "anthropic": "I need to find", "ollama": "Okay,"}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_malformed_chunk_fails_and_keeps_what_arrived(
    replay: ReplayServer, kind: str
) -> None:
    base, path = KINDS[kind]
    replay.route("POST", path, Reply(chunks=schedule(MALFORMED[kind], [3.0])))
    events, _ = await run(config(replay, kind, base))
    failed = failure(events)
    assert failed.code == "stream_broken" and failed.side == "upstream"
    assert "malformed chunk" in failed.message
    assert thinking_text(events) == KEPT_THOUGHTS[kind]


DROPPED = {
    # keep-alive, role, 7 thoughts, the first answer chunk; then the connection dies
    "openai": (_openai_chunks()[:10], "17 + 25"),
    # up to and including the first text_delta
    "anthropic": (sse_chunks("anthropic_thinking.sse")[:12], "27 × 453"),
    # 7 thinking lines and the first content line
    "ollama": (ndjson_chunks("ollama_chat_think.ndjson")[:8], "9²"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_connection_dropped_mid_stream_keeps_thoughts_and_answer(
    replay: ReplayServer, kind: str
) -> None:
    base, path = KINDS[kind]
    chunks, answer = DROPPED[kind]
    replay.route("POST", path, Reply(chunks=schedule(chunks, [3.0]), drop=True))
    events, _ = await run(config(replay, kind, base))
    failed = failure(events)
    assert failed.code == "stream_broken" and failed.retryable
    assert "connection dropped in the middle of the stream" in failed.message
    assert thinking_text(events)
    assert answer_text(events) == answer


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_stream_that_ends_without_finishing(replay: ReplayServer, kind: str) -> None:
    base, path = KINDS[kind]
    chunks, answer = DROPPED[kind]
    replay.route("POST", path, Reply(chunks=schedule(chunks, [1.0])))  # a clean, early end
    events, _ = await run(config(replay, kind, base))
    failed = failure(events)
    assert failed.code == "stream_broken"
    assert "ended before" in failed.message
    assert answer_text(events) == answer


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_missing_key_names_the_env_var(
    replay: ReplayServer, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    base, _ = KINDS[kind]
    cfg = config(replay, kind, base)
    events, _ = await run(cfg)
    failed = failure(events)
    assert failed.code == "missing_api_key" and failed.side == "config"
    assert KEY_ENV in failed.message
    assert replay.requests == []  # nothing was sent
    provider = create_provider(cfg.model("m"))
    availability = await provider.check()
    await provider.aclose()
    assert not availability.usable and KEY_ENV in availability.detail


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_unreachable_server(kind: str) -> None:
    cfg = parse_config(
        {"models": {"m": {"provider": kind, "base_url": "http://127.0.0.1:9", "model": "x"}}}
    )
    events, _ = await run(cfg)
    failed = failure(events)
    assert failed.code == "upstream_unreachable" and failed.side == "network"
    assert failed.retryable
    assert "127.0.0.1:9" in failed.message


PROBES = {"openai": "/v1/models", "anthropic": "/v1/models", "ollama": "/api/tags"}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_check_reports_reachable_and_rejected(replay: ReplayServer, kind: str) -> None:
    base, _ = KINDS[kind]
    provider = create_provider(config(replay, kind, base).model("m"))
    try:
        replay.route("GET", PROBES[kind], json_reply(200, {"data": [], "models": []}))
        ready = await provider.check()
        assert ready.usable and ready.detail == "ready"
        replay.route("GET", PROBES[kind], json_reply(401, {"error": {"message": "bad key"}}))
        rejected = await provider.check()
        assert not rejected.usable
        assert "HTTP 401" in rejected.detail and "bad key" in rejected.detail
    finally:
        await provider.aclose()
    sent = [r for r in replay.requests if r.method == "GET"]
    assert len(sent) == 2 and all(r.path == PROBES[kind] for r in sent)


async def test_request_is_not_sent_twice_with_retries_off(replay: ReplayServer) -> None:
    replay.route("POST", "/v1/chat/completions", json_reply(503, {"error": "overloaded"}))
    cfg = config(replay, "openai", "/v1", retries={"attempts": 1})
    await run(cfg, ChatRequest.from_prompt("q", model="m"))
    assert len(replay.requests) == 1
