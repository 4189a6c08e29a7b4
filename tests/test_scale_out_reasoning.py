"""A tool conversation whose turns land on different gateways keeps its reasoning.

Turn 1 goes to gateway A: a DeepSeek-style upstream (a real local HTTP server that checks
requests as DeepSeek's thinking mode does) thinks, then calls a tool. The client, like most
OpenAI clients, sends the history back without ``reasoning_content``. Turn 2 goes to
gateway B, which never saw turn 1: it finds the reasoning in the shared PostgreSQL and puts
it back, so the upstream accepts the turn. A gateway on a store of its own cannot, and says
so: the restoring is the shared database's doing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.gateway_harness import CANARY_ENV, CANARY_KEY, Served, ThreadServer, serve_subprocess

THOUGHT = "The user wants the weather in Paris; I should call get_weather."
CALL = {"id": "call_0_7f3a", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}  # fmt: skip
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]  # fmt: skip
DOCS = "https://api-docs.deepseek.com/guides/thinking_mode#tool-calls"


def deepseek_app(seen: list[dict[str, Any]]) -> Starlette:
    async def completions(request: Request) -> Response:
        body = json.loads(await request.body())
        seen.append(body)
        for index, message in enumerate(body["messages"]):
            tool_turn = message.get("role") == "assistant" and message.get("tool_calls")
            if tool_turn and message.get("reasoning_content") != THOUGHT:
                error = {"message": f"Missing `reasoning_content` field in the assistant"
                         f" message at message index {index}. For more information, please"
                         f" refer to {DOCS}", "type": "invalid_request_error",
                         "param": None, "code": "invalid_request_error"}  # fmt: skip
                return JSONResponse({"error": error}, status_code=400)
        follow_up = body["messages"][-1]["role"] == "tool"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            obj = {"id": "ds-1", "object": "chat.completion.chunk", "model": body["model"],
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
            return b"data: " + json.dumps(obj).encode() + b"\n\n"

        async def frames() -> AsyncIterator[bytes]:
            yield chunk({"role": "assistant", "content": None, "reasoning_content": ""})
            if follow_up:
                yield chunk({"reasoning_content": "The tool said sunny."})
                yield chunk({"content": "It is sunny in Paris."})
                yield chunk({}, "stop")
            else:
                yield chunk({"reasoning_content": THOUGHT})
                yield chunk({"tool_calls": [{"index": 0, **CALL}]})
                yield chunk({}, "tool_calls")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(frames(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


@pytest.fixture
def upstream() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    with ThreadServer(deepseek_app(seen)) as server:
        yield server.base_url, seen


def config_for(directory: Path, base_url: str) -> Path:
    path = directory / "ponder.toml"
    path.write_text(
        f"""
[models.ds]
provider = "openai"
base_url = "{base_url}/v1"
model = "deepseek-reasoner"
api_key_env = "{CANARY_ENV}"
thinking = {{ enabled = true, flavour = "deepseek" }}
""",
        encoding="utf-8",
    )
    return path


def turn(served: Served, messages: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    body = {"model": "ds", "messages": messages, "tools": TOOLS, "stream": True}
    chunks: list[dict[str, Any]] = []
    with httpx.stream("POST", served.base_url + "/v1/chat/completions", json=body,
                      timeout=30) as response:  # fmt: skip
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunks.append(json.loads(line[6:]))
        return response.status_code, chunks


def test_reasoning_restored_when_the_next_turn_lands_on_another_gateway(
    upstream: tuple[str, list[dict[str, Any]]], pg_dsn: str, tmp_path: Path
) -> None:
    base_url, seen = upstream
    config = config_for(tmp_path, base_url)
    env = {CANARY_ENV: CANARY_KEY}
    with ExitStack() as stack:
        a, b, alone = (
            stack.enter_context(serve_subprocess(
                config, db, "--journal-dir", str(tmp_path / f"journal-{name}"), env=env,
                log=tmp_path / f"{name}.log",
            ))
            for name, db in (("a", pg_dsn), ("b", pg_dsn), ("alone", str(tmp_path / "own.db")))
        )
        question = {"role": "user", "content": "What is the weather in Paris?"}
        status, chunks = turn(a, [question])
        assert status == 200
        calls = [c for chunk in chunks for choice in chunk.get("choices", [])
                 for c in choice["delta"].get("tool_calls", [])]  # fmt: skip
        assert [c["id"] for c in calls if c.get("id")] == [CALL["id"]]
        history = [
            question,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},  # no reasoning back
            {"role": "tool", "tool_call_id": CALL["id"], "content": "sunny, 24 °C"},
        ]
        status_b, chunks_b = turn(b, history)
        status_alone, chunks_alone = turn(alone, history)
    answer = "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks_b for choice in chunk.get("choices", [])
    )  # fmt: skip
    assert status_b == 200 and answer == "It is sunny in Paris."
    assert seen[1]["messages"][1]["reasoning_content"] == THOUGHT  # B sent it upstream
    # On a store of its own, the same turn has no reasoning to restore: ponder refuses it
    # itself, saying why, and never sends DeepSeek a turn DeepSeek would refuse.
    assert len(seen) == 2
    errors = [chunk["error"]["message"] for chunk in chunks_alone if "error" in chunk]
    assert status_alone == 200 and len(errors) == 1  # the stream had begun: an error event
    assert "has none to restore" in errors[0] and CALL["id"] in errors[0]
