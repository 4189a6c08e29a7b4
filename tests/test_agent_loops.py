"""Agent loops through a real ``ponder serve``, driven by the official ``openai`` SDK, with a
real tool (read-only SQL over the bench's SQLite shop database), against replay upstreams
that refuse what DeepSeek/Kimi and Anthropic refuse (tests/agent_upstreams.py).

The point: reasoning is never lost between turns. A client that keeps ``reasoning_content``
and one that drops it (as most OpenAI clients do) both finish the loop, and the upstream
receives, on every turn, exactly the reasoning (and, for Anthropic, the signature) it issued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.agent_rig import QUESTION, Rig, agent_rig, expected_answer, run_sql
from tests.agent_upstreams import QUERIES, TOOL
from tests.gateway_harness import finished_trace as trace
from tests.gateway_harness import serve_subprocess


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with agent_rig(tmp_path_factory.mktemp("agent")) as rig:
        yield rig


def one_turn(
    client: openai.OpenAI, model: str, messages: list[dict[str, Any]], stream: bool
) -> tuple[str, str, list[dict[str, str]], str | None, str | None]:
    """(content, reasoning, tool calls, finish reason, request id) of one completion."""
    if not stream:
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=messages, tools=[TOOL]  # type: ignore[arg-type, list-item]
        )
        response = raw.parse()
        message = response.choices[0].message
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in message.tool_calls or []
            if c.type == "function"
        ]
        reasoning = (message.model_extra or {}).get("reasoning_content") or ""
        request_id = raw.headers.get("x-ponder-request-id")
        finish = response.choices[0].finish_reason
        return message.content or "", reasoning, calls, finish, request_id
    content, reasoning, finish = "", "", None
    slots: dict[int, dict[str, str]] = {}
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=messages, tools=[TOOL], stream=True  # type: ignore[arg-type, list-item]
    ) as raw:
        request_id = raw.headers.get("x-ponder-request-id")
        for chunk in raw.parse():
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta
            content += delta.content or ""
            reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
            for call in delta.tool_calls or []:
                slot = slots.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = call.id or slot["id"]
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return content, reasoning, [slots[i] for i in sorted(slots)], finish, request_id


def agent_loop(
    rig: Rig, model: str, *, stream: bool, keep: bool, messages: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]], list[str]]:
    """Run the loop to its answer: (answer, the history, the request ids)."""
    client = rig.openai_client()
    history = messages if messages is not None else [{"role": "user", "content": QUESTION}]
    ids: list[str] = []
    for _ in range(len(QUERIES) + 2):
        content, reasoning, calls, finish, request_id = one_turn(client, model, history, stream)
        assert request_id is not None
        ids.append(request_id)
        assert reasoning, "the thoughts reach the client"
        turn: dict[str, Any] = {"role": "assistant", "content": content or None}
        if calls:
            turn["tool_calls"] = [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls
            ]  # fmt: skip
        if keep:
            turn["reasoning_content"] = reasoning
        history.append(turn)
        if not calls:
            assert finish == "stop"
            return content, history, ids
        assert finish == "tool_calls"
        for call in calls:
            assert call["name"] == "run_sql" and call["id"]
            result = run_sql(rig.shop, call["arguments"])
            history.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    raise AssertionError("the loop did not end")


@pytest.mark.parametrize("model", ["kimi", "kimi-json", "claude"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("keep", [True, False], ids=["keeps-reasoning", "drops-reasoning"])
def test_agent_loop_never_loses_reasoning(rig: Rig, model: str, stream: bool, keep: bool) -> None:
    upstream = rig.upstream(model)
    before = len(upstream.requests)
    final, _, ids = agent_loop(rig, model, stream=stream, keep=keep)

    assert final == expected_answer(rig.shop)
    assert upstream.refusals == [] and upstream.mismatches == []
    sent = upstream.requests[before:]
    assert len(sent) == len(QUERIES) + 1
    # The last request carries every earlier turn's reasoning, exactly as issued.
    if model == "claude":
        turns = [m for m in sent[-1]["messages"] if m["role"] == "assistant"]
        assert [t["content"][0]["type"] for t in turns] == ["thinking"] * len(QUERIES)
        assert [t["content"][1]["id"] in upstream.issued for t in turns] == [True] * len(QUERIES)
    else:
        turns = [m for m in sent[-1]["messages"] if m["role"] == "assistant"]
        issued = [upstream.issued[t["tool_calls"][0]["id"]] for t in turns]
        assert [t["reasoning_content"] for t in turns] == issued
    # The trace of the last turn says whether ponder had to restore the reasoning: always
    # for Anthropic (no client keeps a signature), only when dropped for Kimi.
    notes = trace(rig.served.base_url, ids[-1])["notes"]
    restored = any(n.startswith("restored the reasoning") for n in notes)
    assert restored == (model == "claude" or not keep)
    # Tool-call turns are traced with their calls.
    first = trace(rig.served.base_url, ids[0])
    assert first["finish_reason"] == "tool_calls"
    assert [c["name"] for c in first["tool_calls"]] == ["run_sql"]
    assert json.loads(first["tool_calls"][0]["arguments"]) == {"query": QUERIES[0]}


def test_reasoning_survives_a_restart_through_the_store(rig: Rig, tmp_path: Path) -> None:
    """Turn 1 on one gateway, the rest on a fresh process over the same SQLite store."""
    db = tmp_path / "traces.db"
    history: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    with serve_subprocess(rig.config, db, env=rig.env) as first:
        client = rig.openai_client(first.base_url)
        _, _, calls, finish, _ = one_turn(client, "kimi", history, True)
    assert finish == "tool_calls"
    history.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": calls[0]["id"], "type": "function",
         "function": {"name": "run_sql", "arguments": calls[0]["arguments"]}}]})  # fmt: skip
    history.append({"role": "tool", "tool_call_id": calls[0]["id"],
                    "content": run_sql(rig.shop, calls[0]["arguments"])})  # fmt: skip
    with serve_subprocess(rig.config, db, env=rig.env) as second:
        later = Rig(second, rig.shop, rig.kimi, rig.claude, rig.config, rig.env)
        final, _, _ = agent_loop(later, "kimi", stream=True, keep=False, messages=history)
    assert final == expected_answer(rig.shop)
    assert rig.kimi.refusals == []


def test_nothing_to_restore_is_a_clear_400(rig: Rig, tmp_path: Path) -> None:
    """A dropped reasoning the gateway never saw (another process, no store): ponder refuses
    before the upstream would, saying what is missing and what to do."""
    history: list[dict[str, Any]] = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_elsewhere", "type": "function",
             "function": {"name": "run_sql", "arguments": json.dumps({"query": QUERIES[0]})}}]},
        {"role": "tool", "tool_call_id": "call_elsewhere", "content": "[[1]]"},
    ]  # fmt: skip
    for model, upstream in (("kimi", rig.kimi), ("claude", rig.claude)):
        before = len(upstream.requests)
        with pytest.raises(openai.BadRequestError) as info:
            rig.openai_client().chat.completions.create(
                model=model, messages=history, tools=[TOOL]  # type: ignore[arg-type, list-item]
            )
        error = info.value.body
        assert isinstance(error, dict)
        assert error["code"] == "reasoning_missing" and error["param"] == "messages"
        assert "call_elsewhere" in error["message"] and "reasoning_effort" in error["message"]
        assert len(upstream.requests) == before  # refused before anything was sent


def test_switching_provider_mid_loop_converts_or_drops_reasoning(rig: Rig) -> None:
    """Claude's signed thinking goes to Kimi as plain text (it takes text); Kimi's thinking
    cannot go to Claude as a signed block, so ponder says so rather than forging one."""
    client = rig.openai_client()
    history: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    _, reasoning, calls, _, _ = one_turn(client, "claude", history, True)
    history += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": calls[0]["id"], "type": "function",
             "function": {"name": "run_sql", "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": calls[0]["id"],
         "content": run_sql(rig.shop, calls[0]["arguments"])},
    ]  # fmt: skip
    before = len(rig.kimi.requests)
    one_turn(client, "kimi", history, True)
    sent = rig.kimi.requests[before]
    (turn,) = [m for m in sent["messages"] if m["role"] == "assistant"]
    assert turn["reasoning_content"] == reasoning
    assert "signature" not in json.dumps(turn)
    assert rig.kimi.refusals == []

    history = [{"role": "user", "content": QUESTION}]
    _, _, calls, _, _ = one_turn(client, "kimi", history, True)
    history += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": calls[0]["id"], "type": "function",
             "function": {"name": "run_sql", "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "[[3]]"},
    ]  # fmt: skip
    before = len(rig.claude.requests)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="claude", messages=history, tools=[TOOL])  # type: ignore[arg-type, list-item]
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "reasoning_missing"
    assert len(rig.claude.requests) == before


def test_anthropic_forced_tool_choice_under_thinking_is_refused_by_ponder(rig: Rig) -> None:
    before = len(rig.claude.requests)
    with pytest.raises(openai.BadRequestError) as info:
        rig.openai_client().chat.completions.create(
            model="claude",
            messages=[{"role": "user", "content": QUESTION}],
            tools=[TOOL],  # type: ignore[list-item]
            tool_choice="required",
        )
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == "tool_choice"
    assert "auto or none" in body["message"]
    assert len(rig.claude.requests) == before


def test_open_webui_request_shape_on_the_embedded_model(rig: Rig) -> None:
    """Open WebUI offers its tools on every chat and sends no tool_choice: the embedded model
    answers without them, and the trace says the tools were not offered to it."""
    body = {
        "model": "deep",
        "stream": True,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is 4821 * 37?"},
        ],
        "tools": [TOOL, {"type": "function", "function": {"name": "web_search",
                                                           "parameters": {"type": "object"}}}],
    }  # fmt: skip
    with httpx.stream("POST", rig.served.base_url + "/v1/chat/completions", json=body,
                      timeout=60) as response:  # fmt: skip
        assert response.status_code == 200
        request_id = response.headers["x-ponder-request-id"]
        chunks = [json.loads(line[6:]) for line in response.iter_lines()
                  if line.startswith("data: {")]  # fmt: skip
    deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
    text = "".join(d.get("content") or "" for d in deltas)
    assert "178377" in text
    notices = [c["ponder"]["text"] for c in chunks if c.get("ponder", {}).get("event") == "notice"]
    assert len(notices) == 1 and "run_sql, web_search" in notices[0]
    assert any("cannot call tools" in n for n in trace(rig.served.base_url, request_id)["notes"])


def test_forcing_a_tool_call_on_the_embedded_model_names_models_that_can(rig: Rig) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        rig.openai_client().chat.completions.create(
            model="fast",
            messages=[{"role": "user", "content": "2+2"}],
            tools=[TOOL],  # type: ignore[list-item]
            tool_choice={"type": "function", "function": {"name": "run_sql"}},
        )
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == "tool_choice"
    assert "claude, kimi, kimi-json" in body["message"]
