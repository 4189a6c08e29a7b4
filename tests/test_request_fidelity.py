"""What ponder sends upstream: a table of client requests and the exact body each provider must
send, asserted field by field against what a validating local upstream received.

Every row is driven twice: through the provider directly (the client body parsed as the gateway
parses it, then the provider's own stream) and end to end through a real ``ponder serve``
(``POST /v1/chat/completions``), so the whole parse → ChatRequest → provider chain is defended.
A row's ``why`` says what the provider drops or renames and why. To add a row, add a
:class:`Row` to ``ROWS``: the model table (without ``base_url``), the client's fields (without
``model``/``stream``) and the body that must arrive.

The local provider has no wire: its rows assert the generation plan (the prompt the model is
conditioned on, the token limit, the sampling settings) it builds from the same client bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ponder.config import parse_config
from ponder.engine import Engine
from ponder.events import Failed, Finished
from ponder.models import chat_format
from ponder.providers.local import LocalProvider, embedded_model_path, load_engine
from ponder.registry import create_provider
from ponder.server.parse import parse_chat
from tests.gateway_harness import serve_subprocess
from tests.replay import Recorded, ReplayServer
from tests.upstream_recorder import UPSTREAMS, toml_table

KEY_ENV = "PONDER_FIDELITY_KEY"
KEY = "sk-fidelity-3b9e"

SYSTEM = {"role": "system", "content": "Answer in French."}
DEVELOPER = {"role": "developer", "content": "Be brief."}
TURNS = [
    {"role": "user", "content": "Capital of Italy?"},
    {"role": "assistant", "content": "Rome."},
    {"role": "user", "content": "And of France?"},
]
CHAT = [SYSTEM, DEVELOPER, *TURNS]
# What an OpenAI-compatible server receives for CHAT: developer is read as system (OpenAI
# treats the two alike, and vLLM, llama.cpp, DeepSeek and Ollama know only system).
CHAT_SENT = [SYSTEM, {"role": "system", "content": "Be brief."}, *TURNS]
SAMPLING = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 300, "stop": ["\n\n", "END"]}
STREAMED = {"stream": True, "stream_options": {"include_usage": True}}
TOOL = {
    "type": "function",
    "function": {
        "name": "run_sql",
        "description": "Run SQL",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
}
QUERY = '{"query": "SELECT COUNT(*) FROM orders"}'
# A tool loop's history, as an OpenAI client sends it back (no reasoning: thinking is off).
TOOL_TURNS = [
    {"role": "user", "content": "How many orders?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "run_sql", "arguments": QUERY}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "[[42]]"},
]  # fmt: skip


@dataclass(frozen=True)
class Row:
    id: str
    model: dict[str, Any]  # the model's table in ponder.toml, without base_url
    client: dict[str, Any]  # the client's request, without model and stream
    upstream: dict[str, Any]  # the exact body the provider must send
    why: str = ""  # what is dropped or renamed, and why
    headers: dict[str, str] = field(default_factory=dict)  # headers that must be sent

    @property
    def provider(self) -> str:
        return str(self.model["provider"])


def openai(thinking: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"provider": "openai", "model": "upstream-model", **options}
    if thinking is not None:
        table["thinking"] = thinking
    return table


def anthropic(thinking: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"provider": "anthropic", "model": "claude-test", **options}
    if thinking is not None:
        table["thinking"] = thinking
    return table


def ollama(thinking: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"provider": "ollama", "model": "qwen3:test", **options}
    if thinking is not None:
        table["thinking"] = thinking
    return table


BEARER = {"authorization": f"Bearer {KEY}"}
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
ANTHROPIC_SYSTEM = "Answer in French.\n\nBe brief."

ROWS: list[Row] = [
    # -- openai: the request as it came, thinking spelled per flavour ---------------------------
    Row(
        "openai_plain",
        openai({"flavour": "none"}),
        {"messages": CHAT, **SAMPLING},
        {"model": "upstream-model", "messages": CHAT_SENT, **STREAMED, **SAMPLING},
        "developer becomes system; flavour none sends no thinking switch",
        BEARER,
    ),
    Row(
        "openai_max_completion_tokens",
        openai({"flavour": "none"}),
        {"messages": TURNS, "max_completion_tokens": 77, "max_tokens": 5, "stop": "END"},
        {"model": "upstream-model", "messages": TURNS, **STREAMED, "max_tokens": 77,
         "stop": ["END"]},
        "max_completion_tokens wins over max_tokens; a single stop string becomes a list",
    ),
    Row(
        "openai_tools",
        openai({"flavour": "none"}),
        {"messages": TOOL_TURNS, "tools": [TOOL], "tool_choice": "required",
         "parallel_tool_calls": False, "response_format": {"type": "json_object"}},
        {"model": "upstream-model", "messages": TOOL_TURNS, **STREAMED, "tools": [TOOL],
         "tool_choice": "required", "parallel_tool_calls": False,
         "response_format": {"type": "json_object"}},
        "tools, tool_choice, parallel_tool_calls, response_format and the tool loop's history"
        " go out as the client sent them",
    ),
    Row(
        "openai_no_stream",
        openai({"flavour": "none"}, stream=False),
        {"messages": TURNS, "temperature": 0},
        {"model": "upstream-model", "messages": TURNS, "stream": False, "temperature": 0.0},
        "stream = false: no stream_options (servers refuse it without streaming)",
    ),
    Row(
        "openai_deepseek_on",
        openai({"flavour": "deepseek", "enabled": False}),
        {"messages": CHAT, "thinking": {"enabled": True}, **SAMPLING},
        {"model": "upstream-model", "messages": CHAT_SENT, **STREAMED, **SAMPLING,
         "thinking": {"type": "enabled"}},
        "the client's thinking switch overrides the model's",
    ),
    Row(
        "openai_deepseek_off_history",
        openai({"flavour": "deepseek"}),
        {
            "messages": [
                TURNS[0],
                {"role": "assistant", "content": "Rome.", "reasoning_content": "Italy: Rome."},
                TURNS[2],
            ],
            "reasoning_effort": "none",
        },
        {
            "model": "upstream-model",
            "messages": [
                TURNS[0],
                {"role": "assistant", "content": "Rome.", "reasoning_content": "Italy: Rome."},
                TURNS[2],
            ],
            **STREAMED,
            "thinking": {"type": "disabled"},
        },
        "reasoning_effort none switches thinking off; history thoughts go back for deepseek",
    ),
    Row(
        "openai_qwen_off",
        openai({"flavour": "qwen"}, extra_body={"top_k": 20}),
        {"messages": TURNS, "thinking": {"enabled": False}, "temperature": 0.7},
        {"model": "upstream-model", "messages": TURNS, **STREAMED, "temperature": 0.7,
         "top_k": 20, "chat_template_kwargs": {"enable_thinking": False}},
        "extra_body is merged in; qwen's switch is the chat template's enable_thinking",
    ),
    Row(
        "openai_reasoning_effort",
        openai({"flavour": "openai"}, model="o4-mini"),
        {"messages": CHAT, "reasoning_effort": "high", "max_tokens": 300, "stop": ["END"]},
        {"model": "o4-mini", "messages": CHAT_SENT, **STREAMED, "reasoning_effort": "high",
         "max_completion_tokens": 300, "stop": ["END"]},
        "reasoning models refuse max_tokens: it is sent as max_completion_tokens",
    ),
    Row(
        "openai_minimal_effort",
        openai({"flavour": "openai"}, model="o4-mini"),
        {"messages": TURNS, "reasoning_effort": "minimal"},
        {"model": "o4-mini", "messages": TURNS, **STREAMED, "reasoning_effort": "minimal"},
        "OpenAI's own finer efforts are sent as the client spelled them",
    ),
    Row(
        "openai_xhigh_effort",
        openai({"flavour": "openai"}, model="gpt-5.1-codex-max"),
        {"messages": TURNS, "reasoning_effort": "xhigh"},
        {"model": "gpt-5.1-codex-max", "messages": TURNS, **STREAMED, "reasoning_effort": "xhigh"},
    ),
    Row(
        "openai_reasoning_sampling_dropped",
        openai({"flavour": "openai"}, model="o4-mini"),
        {"messages": TURNS, "temperature": 0.2, "top_p": 0.9},
        {"model": "o4-mini", "messages": TURNS, **STREAMED},
        "OpenAI reasoning models refuse any temperature or top_p but the default",
    ),
    Row(
        "openai_reasoning_default_sampling_kept",
        openai({"flavour": "openai"}, model="o4-mini"),
        {"messages": TURNS, "temperature": 1, "top_p": 1},
        {"model": "o4-mini", "messages": TURNS, **STREAMED, "temperature": 1, "top_p": 1},
    ),
    Row(
        "openai_minimal_elsewhere_is_low",
        openai({"flavour": "deepseek"}),
        {"messages": TURNS, "reasoning_effort": "minimal"},
        {"model": "upstream-model", "messages": TURNS, **STREAMED,
         "thinking": {"type": "enabled"}},
        "a flavour without efforts sends only the switch",
    ),
    Row(
        "openai_budget_to_effort",
        openai({"flavour": "openai"}, model="o4-mini"),
        {"messages": TURNS, "thinking": {"budget": 20000}},
        {"model": "o4-mini", "messages": TURNS, **STREAMED, "reasoning_effort": "high"},
        "OpenAI takes no budget: the nearest effort is sent",
    ),
    Row(
        "openai_thinking_off",
        openai({"flavour": "openai"}, model="o4-mini"),
        {"messages": TURNS, "thinking": {"enabled": False}},
        {"model": "o4-mini", "messages": TURNS, **STREAMED, "reasoning_effort": "minimal"},
        "o-series models cannot stop reasoning: off is the lowest effort",
    ),
    Row(
        "openai_openrouter_budget",
        openai({"flavour": "openrouter"}),
        {"messages": CHAT, "thinking": {"budget": 3000}, "top_p": 0.5},
        {"model": "upstream-model", "messages": CHAT_SENT, **STREAMED, "top_p": 0.5,
         "reasoning": {"max_tokens": 3000}},
    ),
    Row(
        "openai_openrouter_effort",
        openai({"flavour": "openrouter"}),
        {"messages": TURNS, "reasoning_effort": "low"},
        {"model": "upstream-model", "messages": TURNS, **STREAMED,
         "reasoning": {"effort": "low"}},
    ),
    Row(
        "openai_openrouter_minimal_xhigh",
        openai({"flavour": "openrouter"}),
        {"messages": TURNS, "reasoning_effort": "xhigh"},
        {"model": "upstream-model", "messages": TURNS, **STREAMED,
         "reasoning": {"effort": "high"}},
        "OpenRouter's efforts stop at high: xhigh is sent as high",
    ),
    # -- anthropic: system lifted out, thinking and its constraints ----------------------------
    Row(
        "anthropic_tools",
        anthropic({"enabled": False}),
        {"messages": TOOL_TURNS, "tools": [TOOL], "tool_choice": "required",
         "parallel_tool_calls": False},
        {"model": "claude-test", "stream": True, "max_tokens": 8192,
         "messages": [
             {"role": "user", "content": "How many orders?"},
             {"role": "assistant", "content": [
                 {"type": "tool_use", "id": "call_1", "name": "run_sql",
                  "input": {"query": "SELECT COUNT(*) FROM orders"}}]},
             {"role": "user", "content": [
                 {"type": "tool_result", "tool_use_id": "call_1", "content": "[[42]]"}]},
         ],
         "tools": [{"name": "run_sql", "description": "Run SQL",
                    "input_schema": TOOL["function"]["parameters"]}],  # type: ignore[index]
         "tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
        "calls become tool_use blocks (arguments as an object), tool turns a user turn of"
        " tool_result blocks; required is any; parallel_tool_calls false is"
        " disable_parallel_tool_use",
        ANTHROPIC_HEADERS,
    ),
    Row(
        "anthropic_off",
        anthropic({"enabled": False}),
        {"messages": CHAT, **SAMPLING},
        {"model": "claude-test", "system": ANTHROPIC_SYSTEM, "messages": TURNS, "stream": True,
         "max_tokens": 300, "temperature": 0.3, "top_p": 0.9,
         "stop_sequences": ["\n\n", "END"]},
        "system and developer turns are joined into system (the API has no system role)",
        ANTHROPIC_HEADERS,
    ),
    Row(
        "anthropic_budget",
        anthropic(),
        {"messages": CHAT, **SAMPLING, "thinking": {"budget": 2000}},
        {"model": "claude-test", "system": ANTHROPIC_SYSTEM, "messages": TURNS, "stream": True,
         "max_tokens": 2300, "thinking": {"type": "enabled", "budget_tokens": 2000},
         "stop_sequences": ["\n\n", "END"]},
        "thinking on: temperature and top_p < 0.95 dropped (refused); max_tokens = budget + answer",
    ),
    Row(
        "anthropic_default_budget",
        anthropic(),
        {"messages": TURNS, "top_p": 0.97},
        {"model": "claude-test", "messages": TURNS, "stream": True, "max_tokens": 8192,
         "top_p": 0.97, "thinking": {"type": "enabled", "budget_tokens": 4096}},
        "no client limit: the model's default max_tokens; top_p ≥ 0.95 is allowed while thinking",
    ),
    Row(
        "anthropic_small_budget",
        anthropic(max_tokens=1000),
        {"messages": TURNS, "thinking": {"budget": 500}},
        {"model": "claude-test", "messages": TURNS, "stream": True, "max_tokens": 5120,
         "thinking": {"type": "enabled", "budget_tokens": 1024}},
        "budget raised to the API's minimum 1024; max_tokens raised to leave the answer room",
    ),
    Row(
        "anthropic_effort",
        anthropic(),
        {"messages": TURNS, "reasoning_effort": "medium", "max_tokens": 600},
        {"model": "claude-test", "messages": TURNS, "stream": True, "max_tokens": 600,
         "thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}},
        "an effort without a budget is adaptive thinking; max_tokens is the client's",
    ),
    # -- ollama: everything in options -----------------------------------------------------------
    Row(
        "ollama_sampling",
        ollama({"enabled": False}),
        {"messages": CHAT, **SAMPLING},
        {"model": "qwen3:test", "messages": CHAT_SENT, "stream": True, "think": False,
         "options": {"num_predict": 300, "temperature": 0.3, "top_p": 0.9,
                     "stop": ["\n\n", "END"]}},
        "sampling settings live in options; max_tokens is num_predict",
    ),
    Row(
        "ollama_history_thinking",
        ollama(),
        {
            "messages": [
                TURNS[0],
                {"role": "assistant", "content": "Rome.", "reasoning_content": "Italy: Rome."},
                TURNS[2],
            ]
        },
        {
            "model": "qwen3:test",
            "messages": [
                TURNS[0],
                {"role": "assistant", "content": "Rome.", "thinking": "Italy: Rome."},
                TURNS[2],
            ],
            "stream": True,
            "think": True,
        },
        "history thoughts go back as thinking; no options when the client set none",
    ),
    Row(
        "ollama_tools",
        ollama({"enabled": False}),
        {"messages": TOOL_TURNS, "tools": [TOOL]},
        {"model": "qwen3:test", "stream": True, "think": False, "tools": [TOOL],
         "messages": [
             {"role": "user", "content": "How many orders?"},
             {"role": "assistant", "content": "", "tool_calls": [
                 {"function": {"name": "run_sql",
                               "arguments": {"query": "SELECT COUNT(*) FROM orders"}}}]},
             {"role": "tool", "content": "[[42]]", "tool_name": "run_sql"},
         ]},
        "calls go back with object arguments and no id (Ollama has none); a tool turn names"
        " its tool",
    ),
    Row(
        "ollama_think_levels",
        ollama(think_levels=True),
        {"messages": TURNS, "reasoning_effort": "high"},
        {"model": "qwen3:test", "messages": TURNS, "stream": True, "think": "high"},
        "GPT-OSS on Ollama takes the effort as the think value",
    ),
]


def model_table(row: Row, replay_url: str) -> dict[str, Any]:
    upstream = UPSTREAMS[row.provider]
    return {**row.model, "base_url": replay_url + upstream.base_path, "api_key_env": KEY_ENV}


def sent(replay: ReplayServer, row: Row) -> Recorded:
    path = UPSTREAMS[row.provider].path
    posted = [r for r in replay.requests if r.method == "POST" and r.path == path]
    assert len(posted) == 1, [r.path for r in replay.requests]
    return posted[0]


def assert_body(recorded: Recorded, row: Row) -> None:
    body = recorded.json()
    assert sorted(body) == sorted(row.upstream), f"{row.id}: fields sent {sorted(body)}"
    for key, expected in row.upstream.items():
        assert body[key] == expected, f"{row.id}: {key} sent {body[key]!r}, not {expected!r}"
    for name, value in row.headers.items():
        assert recorded.headers.get(name) == value, f"{row.id}: header {name}"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def route(replay: ReplayServer, row: Row) -> None:
    upstream = UPSTREAMS[row.provider]
    replay.route("POST", upstream.path, upstream.respond)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_provider_sends(replay: ReplayServer, row: Row) -> None:
    route(replay, row)
    cfg = parse_config({"models": {"m": model_table(row, replay.url)}})
    chat = parse_chat({**row.client, "model": "m"}, {}, "req_fidelity").chat
    provider = create_provider(cfg.model("m"))
    try:
        events = [event async for event in provider.stream(chat)]
    finally:
        await provider.aclose()
    assert isinstance(events[-1], Finished), events[-1]  # the validating upstream accepted it
    assert_body(sent(replay, row), row)


@pytest.fixture(scope="module")
def gateway(
    _replay_session: ReplayServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("fidelity")
    tables = [toml_table(r.id, model_table(r, _replay_session.url)) for r in ROWS]
    config = directory / "ponder.toml"
    config.write_text('[router]\nkind = "rules"\n\n' + "\n".join(tables), encoding="utf-8")
    with serve_subprocess(config, directory / "traces.db", env={KEY_ENV: KEY}) as served:
        yield served.base_url


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_gateway_sends(gateway: str, replay: ReplayServer, row: Row) -> None:
    route(replay, row)
    body = {**row.client, "model": row.id, "stream": False}
    response = httpx.post(gateway + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "ok"
    assert_body(sent(replay, row), row)


# -- the validating upstreams refuse what the real APIs refuse -----------------------------------


@pytest.mark.parametrize(
    ("provider", "body", "message"),
    [
        ("anthropic", {"model": "c", "messages": TURNS}, "max_tokens: Field required"),
        ("anthropic", {"model": "c", "max_tokens": 9, "messages": CHAT_SENT}, "Unexpected role"),
        (
            "anthropic",
            {"model": "c", "max_tokens": 9, "messages": TURNS, "stream_options": {}},
            "stream_options: Extra inputs are not permitted",
        ),
        (
            "anthropic",
            {"model": "c", "max_tokens": 2000, "messages": TURNS, "temperature": 0.3,
             "thinking": {"type": "enabled", "budget_tokens": 1024}},
            "`temperature` may only be set to 1",
        ),
        (
            "anthropic",
            {"model": "c", "max_tokens": 1024, "messages": TURNS,
             "thinking": {"type": "enabled", "budget_tokens": 1024}},
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            "anthropic",
            {"model": "c", "max_tokens": 9000, "messages": TURNS,
             "thinking": {"type": "enabled", "budget_tokens": 500}},
            "greater than or equal to 1024",
        ),
        (
            "anthropic",
            {"model": "c", "max_tokens": 9000, "messages": TURNS, "top_p": 0.9,
             "thinking": {"type": "adaptive"}},
            "`top_p` must be between 0.95 and 1",
        ),
        ("openai", {"model": "o3", "messages": TURNS, "max_tokens": 5}, "max_completion_tokens"),
        ("openai", {"model": "m", "messages": []}, "too short - 'messages'"),
        ("openai", {"model": "m", "messages": TURNS, "stream_options": {}}, "only allowed when"),
        ("openai", {"model": "m", "messages": TURNS, "stop": list("abcde")}, "too long - 'stop'"),
        ("ollama", {"messages": TURNS}, "model is required"),
        ("ollama", {"model": "q", "messages": [{"role": "robot"}]}, "invalid role: robot"),
    ],
)
def test_upstreams_refuse_like_the_real_apis(
    replay: ReplayServer, provider: str, body: dict[str, Any], message: str
) -> None:
    upstream = UPSTREAMS[provider]
    replay.route("POST", upstream.path, upstream.respond)
    response = httpx.post(replay.url + upstream.path, json=body, timeout=10)
    assert response.status_code == 400
    assert message in response.text


async def test_a_refused_body_reaches_the_client_as_the_providers_error(
    replay: ReplayServer,
) -> None:
    """What the validating upstream refuses fails the request with the API's own message."""
    route(replay, ROWS[0])
    # flavour none does not rename max_tokens, which a reasoning model refuses
    table = model_table(ROWS[0], replay.url) | {"model": "o3"}
    engine = Engine(parse_config({"models": {"m": table}}))
    chat = parse_chat({"messages": TURNS, "max_tokens": 5, "model": "m"}, {}, "r").chat
    try:
        events = await engine.collect(chat)
    finally:
        await engine.aclose()
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.side == "upstream", failed
    assert "Use 'max_completion_tokens' instead" in failed.message


# -- local: the plan the embedded model is run with ---------------------------------------------

QUESTION = "What is 347 * 28?"


@dataclass(frozen=True)
class LocalRow:
    id: str
    mode: str  # the embedded model's fast or deep table
    client: dict[str, Any]
    prompt: str  # the text the model is conditioned on
    max_new: int | None  # None: the context's room
    temperature: float | None
    top_p: float | None
    budget: int | None
    why: str = ""


LOCAL_ROWS = [
    LocalRow(
        "deep_history_dropped",
        "deep",
        {"messages": [SYSTEM, *TURNS[:2], {"role": "user", "content": QUESTION}], **SAMPLING},
        chat_format.render_prompt(QUESTION, thinking=True),
        300,
        0.3,
        0.9,
        None,
        "trained on single questions: the last user message only; stop is not applied",
    ),
    LocalRow(
        "deep_budget",
        "deep",
        {"messages": [{"role": "user", "content": QUESTION}], "thinking": {"budget": 12}},
        chat_format.render_prompt(QUESTION, thinking=True),
        None,
        None,
        None,
        12,
    ),
    LocalRow(
        "fast_budget_ignored",
        "fast",
        {"messages": [{"role": "user", "content": QUESTION}], "thinking": {"budget": 12},
         "max_tokens": 8},
        chat_format.render_prompt(QUESTION, thinking=False),
        8,
        None,
        None,
        None,
        "fast mode does not think, so a budget has nothing to cap",
    ),
    LocalRow(
        "deep_switched_off",
        "deep",
        {"messages": [{"role": "user", "content": QUESTION}], "reasoning_effort": "none"},
        chat_format.render_prompt(QUESTION, thinking=False),
        None,
        None,
        None,
        None,
    ),
]


@pytest.mark.parametrize("row", LOCAL_ROWS, ids=[r.id for r in LOCAL_ROWS])
def test_local_plan(row: LocalRow) -> None:
    provider = create_provider(parse_config({}).model(row.mode))
    assert isinstance(provider, LocalProvider)
    engine = load_engine(provider.path)
    chat = parse_chat({**row.client, "model": row.mode}, {}, "r").chat
    thinking = provider.thinking_for(chat)
    plan = provider._plan(engine, chat, chat.last_user_text, thinking.enabled, thinking.budget)
    assert plan.prompt_ids == engine.encode(row.prompt)
    assert plan.starts_in_thoughts is row.prompt.endswith(chat_format.THINK_OPEN)
    room = engine.context_length - len(plan.prompt_ids) - len(plan.close_ids)
    assert plan.max_new == (room if row.max_new is None else row.max_new)
    assert (plan.temperature, plan.top_p, plan.budget) == (row.temperature, row.top_p, row.budget)


def test_local_through_the_gateway_sees_only_the_question(gateway: str) -> None:
    """The gateway's prompt_tokens is the plan's prompt length: history and system dropped."""
    engine = load_engine(embedded_model_path())
    alone = len(engine.encode(chat_format.render_prompt(QUESTION, thinking=False)))
    messages = [SYSTEM, *TURNS[:2], {"role": "user", "content": QUESTION}]
    body = {"model": "fast", "messages": messages, "max_tokens": 3, "stream": False}
    response = httpx.post(gateway + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == alone
    assert usage["completion_tokens"] <= 3


def test_the_table_covers_every_provider_once_per_id() -> None:
    ids = [r.id for r in ROWS] + [r.id for r in LOCAL_ROWS]
    assert len(ids) == len(set(ids))
    assert {r.provider for r in ROWS} == set(UPSTREAMS)
