"""The OpenAI Responses front door through a real ``ponder serve``, driven by the official
``openai`` SDK's ``responses`` API: the embedded model, a Kimi-style thinking model and an
Anthropic model (replay upstreams that refuse what those APIs refuse), in tool loops with
thinking — stateless as Codex CLI runs them (``store: false``, every item sent back with its
``encrypted_content``) and stateful (``previous_response_id``), streamed and not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.responses import Response

from ponder.server.signing import PREFIX
from tests.agent_rig import QUESTION, Rig, agent_rig, expected_answer, run_sql
from tests.agent_upstreams import QUERIES, TOOL
from tests.gateway_harness import finished_trace as trace
from tests.gateway_harness import serve_subprocess

FUNCTION = {"type": "function", **TOOL["function"]}  # type: ignore[dict-item]
INCLUDE = ["reasoning.encrypted_content"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    env = {"PONDER_SIGNING_KEY": "responses-test-key-0123456789"}
    with agent_rig(tmp_path_factory.mktemp("responses"), priced=True, env=env) as rig:
        yield rig


def one_turn(client: openai.OpenAI, stream: bool, **kwargs: Any) -> Response:
    if stream:
        with client.responses.stream(tools=[FUNCTION], **kwargs) as events:  # type: ignore[list-item]
            kinds = [event.type for event in events]
            response = events.get_final_response()
        assert kinds[:2] == ["response.created", "response.in_progress"]
        assert kinds[-1] == "response.completed"
        return response
    return client.responses.create(tools=[FUNCTION], **kwargs)  # type: ignore[list-item]


def run_calls(rig: Rig, response: Response) -> list[dict[str, Any]]:
    return [
        {"type": "function_call_output", "call_id": item.call_id,
         "output": run_sql(rig.shop, item.arguments)}
        for item in response.output
        if item.type == "function_call"
    ]  # fmt: skip


def stateless_loop(
    rig: Rig, model: str, stream: bool, base_url: str | None = None
) -> tuple[str, list[Response]]:
    """Codex's way: store false, every output item sent back, reasoning encrypted."""
    client = rig.openai_client(base_url)
    items: list[Any] = [{"role": "user", "content": QUESTION}]
    responses: list[Response] = []
    for _ in range(len(QUERIES) + 2):
        response = one_turn(
            client, stream, model=model, input=items, store=False, include=INCLUDE,
            reasoning={"effort": "medium", "summary": "auto"}, instructions="Use the tool.",
        )  # fmt: skip
        responses.append(response)
        assert response.output[0].type == "reasoning"
        items += [item.model_dump(exclude_none=True) for item in response.output]
        outputs = run_calls(rig, response)
        if not outputs:
            return response.output_text, responses
        items += outputs
    raise AssertionError("the loop did not end")


def stateful_loop(rig: Rig, model: str, stream: bool) -> tuple[str, list[Response]]:
    """previous_response_id: only the new items are sent; ponder's store has the rest."""
    client = rig.openai_client()
    new: list[Any] = [{"role": "user", "content": QUESTION}]
    previous: str | None = None
    responses: list[Response] = []
    for _ in range(len(QUERIES) + 2):
        extra = {"previous_response_id": previous} if previous else {}
        response = one_turn(client, stream, model=model, input=new, **extra)
        responses.append(response)
        previous = response.id
        new = run_calls(rig, response)
        if not new:
            return response.output_text, responses
    raise AssertionError("the loop did not end")


@pytest.mark.parametrize("model", ["kimi", "kimi-json", "claude"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("loop", [stateless_loop, stateful_loop], ids=["stateless", "stateful"])
def test_tool_loop_with_thinking_round_trips_reasoning(
    rig: Rig, model: str, stream: bool, loop: Any
) -> None:
    upstream = rig.upstream(model)
    before = len(upstream.requests)
    final, responses = loop(rig, model, stream)

    assert final == expected_answer(rig.shop)
    assert upstream.refusals == [] and upstream.mismatches == []
    sent = upstream.requests[before:]
    assert len(sent) == len(QUERIES) + 1
    turns = [m for m in sent[-1]["messages"] if m["role"] == "assistant"]
    if model == "claude":
        assert [t["content"][0]["type"] for t in turns] == ["thinking"] * len(QUERIES)
    else:
        issued = [upstream.issued[t["tool_calls"][0]["id"]] for t in turns]
        assert [t["reasoning_content"] for t in turns] == issued
    first = responses[0]
    assert [item.type for item in first.output] == ["reasoning", "function_call"]
    assert first.usage is not None and first.usage.output_tokens > 0
    record = trace(rig.served.base_url, "req_" + first.id.removeprefix("resp_"))
    assert record["door"] == "responses" and record["finish_reason"] == "tool_calls"


def test_encrypted_content_alone_restores_reasoning_on_another_gateway(
    rig: Rig, tmp_path: Path
) -> None:
    """No store, no reasoning memory, same signing key: the items are all it has."""
    before = len(rig.kimi.refusals)
    with serve_subprocess(rig.config, tmp_path / "unused.db", "--no-store", env=rig.env) as other:
        final, responses = stateless_loop(rig, "kimi", False, base_url=other.base_url)
    assert final == expected_answer(rig.shop)
    assert rig.kimi.refusals[before:] == []
    token = responses[0].output[0].encrypted_content  # type: ignore[union-attr]
    assert token is not None and token.startswith(PREFIX)


def test_tampered_encrypted_content_is_a_clear_400(rig: Rig) -> None:
    client = rig.openai_client()
    items: list[Any] = [{"role": "user", "content": QUESTION}]
    response = one_turn(client, False, model="kimi", input=items, store=False, include=INCLUDE)
    sent_back = [item.model_dump(exclude_none=True) for item in response.output]
    token = sent_back[0]["encrypted_content"]
    payload, mac = token.removeprefix(PREFIX).rsplit(".", 1)
    forged = json.loads(json.dumps(sent_back))
    forged[0]["encrypted_content"] = PREFIX + payload[:-3] + "AAA" + "." + mac
    before = len(rig.kimi.requests)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="kimi", input=[*items, *forged, *run_calls(rig, response)], store=False,
            tools=[FUNCTION],  # type: ignore[list-item]
        )  # fmt: skip
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == "input[1].encrypted_content"
    assert "does not verify" in body["message"]
    assert len(rig.kimi.requests) == before


def test_embedded_model_streams_reasoning_text_then_the_answer(rig: Rig) -> None:
    client = rig.openai_client()
    with client.responses.stream(model="deep", input="What is 4821 * 37?") as events:
        kinds = [event.type for event in events]
        response = events.get_final_response()
    assert "response.reasoning_text.delta" in kinds and "response.output_text.delta" in kinds
    assert kinds.index("response.reasoning_text.delta") < kinds.index("response.output_text.delta")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].content and response.output[0].content[0].text  # type: ignore[union-attr]
    assert "178377" in response.output_text
    # and continues by id: the stored conversation comes first
    follow = client.responses.create(
        model="deep", input="What is 347 * 28?", previous_response_id=response.id
    )
    assert "9716" in follow.output_text
    summary = client.responses.create(
        model="deep", input="What is 4821 * 37?", reasoning={"summary": "auto"}
    )
    assert summary.output[0].summary and summary.output[0].summary[0].text  # type: ignore[union-attr]


def test_a_stored_response_is_retrieved_as_it_was_returned(rig: Rig) -> None:
    client = rig.openai_client()
    made = client.responses.create(model="deep", input="What is 4821 * 37?")
    trace(rig.served.base_url, made.ponder["request_id"])  # type: ignore[attr-defined]  # stored
    got = client.responses.retrieve(made.id)
    assert (got.id, got.status, got.model, got.output_text) == (
        made.id, "completed", made.model, made.output_text)  # fmt: skip
    assert "178377" in got.output_text
    assert [item.type for item in got.output] == ["reasoning", "message"]
    assert got.output[0].summary[0].text == made.output[0].content[0].text  # type: ignore[union-attr]
    assert got.usage is not None and made.usage is not None
    assert (got.usage.output_tokens, got.usage.output_tokens_details.reasoning_tokens) == (
        made.usage.output_tokens, made.usage.output_tokens_details.reasoning_tokens)  # fmt: skip
    sealed = client.responses.retrieve(made.id, include=INCLUDE)  # type: ignore[arg-type]
    token = sealed.output[0].encrypted_content  # type: ignore[union-attr]
    assert token is not None and token.startswith(PREFIX)
    # The token restores the reasoning: sent back statelessly, it verifies.
    follow = client.responses.create(
        model="deep", store=False, include=INCLUDE,  # type: ignore[arg-type]
        input=[*[i.model_dump(exclude_none=True) for i in sealed.output],
               {"role": "user", "content": "What is 347 * 28?"}],  # type: ignore[list-item]
    )
    assert "9716" in follow.output_text


def test_unstored_and_unknown_responses_are_not_found(rig: Rig) -> None:
    client = rig.openai_client()
    unstored = client.responses.create(model="fast", input="What is 2 + 2?", store=False)
    for response_id in (unstored.id, "resp_nope"):
        with pytest.raises(openai.NotFoundError) as info:
            client.responses.retrieve(response_id)
        body = info.value.body
        assert isinstance(body, dict) and response_id in body["message"], body


def test_unknown_previous_response_and_bad_items_are_400s(rig: Rig) -> None:
    client = rig.openai_client()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"previous_response_id": "resp_nope", "input": "hi"}, "previous_response_id"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"input": "hi", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"input": "hi", "background": True}, "background"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model="deep", **kwargs)
        body = info.value.body
        assert isinstance(body, dict) and body["param"] == param, body
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-9", input="hi")


def test_non_function_tools_are_left_out_with_a_note(rig: Rig) -> None:
    response = rig.openai_client().responses.create(
        model="kimi", input=QUESTION,
        tools=[FUNCTION, {"type": "web_search"}, {"type": "local_shell"}],  # type: ignore[list-item]
    )  # fmt: skip
    assert [item.type for item in response.output] == ["reasoning", "function_call"]
    notes = (response.model_extra or {})["ponder"]["notes"]
    assert any("left out: web_search, local_shell" in n for n in notes)


def test_auto_routes_through_the_door_and_says_why(rig: Rig) -> None:
    response = rig.openai_client().responses.create(model="auto", input="What is 4821 * 37?")
    ponder = (response.model_extra or {})["ponder"]
    assert response.model == ponder["model"] == ponder["mode"] and ponder["reason"]
    record = trace(rig.served.base_url, ponder["request_id"])
    assert record["requested_model"] == "auto" and record["door"] == "responses"


def test_previous_response_id_survives_a_restart_through_the_store(
    rig: Rig, tmp_path: Path
) -> None:
    db = tmp_path / "traces.db"
    with serve_subprocess(rig.config, db, env=rig.env) as first:
        response = one_turn(rig.openai_client(first.base_url), False, model="kimi", input=QUESTION)
    before = len(rig.kimi.requests)
    with serve_subprocess(rig.config, db, env=rig.env) as second:
        follow = one_turn(
            rig.openai_client(second.base_url), True, model="kimi", input=run_calls(rig, response),
            previous_response_id=response.id,
        )  # fmt: skip
    assert [item.type for item in follow.output] == ["reasoning", "function_call"]
    (sent,) = rig.kimi.requests[before:]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
    call_id = sent["messages"][1]["tool_calls"][0]["id"]
    assert sent["messages"][1]["reasoning_content"] == rig.kimi.issued[call_id]


def test_the_next_turn_finds_the_response_on_another_gateway_at_once(
    rig: Rig, tmp_path: Path
) -> None:
    """Two gateways on one store: the turn after a stored response goes to the other one the
    moment the first answered, and finds the conversation there (it is in the database
    before the response's last bytes go out, not one writer batch later)."""
    db = tmp_path / "traces.db"
    with (
        serve_subprocess(rig.config, db, env=rig.env) as first,
        serve_subprocess(rig.config, db, env=rig.env) as second,
    ):
        to_first, to_second = rig.openai_client(first.base_url), rig.openai_client(second.base_url)
        for stream in (False, True):
            response = one_turn(to_first, stream, model="kimi", input=QUESTION)
            follow = one_turn(
                to_second, stream, model="kimi",
                input=run_calls(rig, response), previous_response_id=response.id,
            )  # fmt: skip
            assert [item.type for item in follow.output] == ["reasoning", "function_call"]


def test_cost_rides_in_the_ponder_extras(rig: Rig) -> None:
    client = rig.openai_client()
    for stream in (False, True):
        response = one_turn(client, stream, model="kimi-priced", input=QUESTION)
        cost = (response.model_extra or {})["ponder"]["cost"]
        assert cost["total_usd"] > 0
