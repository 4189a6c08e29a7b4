"""The local provider, exactly: the generation plan each request becomes (prompt, token limits,
budget, sampling, seed, a folder's own template), what it refuses and says before running the
model, and the counts and events of a run of the real shipped model.

Fast (the embedded model answers a level-1 question in a few tokens), so
``benchmarks/mutation.py`` can run them per mutant.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from ponder.config import ModelConfig, ThinkingConfig, default_models
from ponder.errors import ConfigError, InvalidRequestError, UnsupportedRequestError
from ponder.events import Answer, Event, Finished, Notice, Thinking, Usage
from ponder.models import chat_format
from ponder.providers import local
from ponder.providers.local import LocalProvider, embedded_model_path, load_engine
from ponder.providers.local_question import OUT_OF_DOMAIN, OUT_OF_DOMAIN_HEAD
from ponder.request import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingSettings,
    ToolChoice,
    ToolSpec,
)
from tests.provider_exact import plain

QUESTION = "What is 347 * 28?"
ENGINE = load_engine(embedded_model_path())


def embedded(mode: str) -> LocalProvider:
    return LocalProvider(default_models()[mode])


def folder(deep: bool = True, opens: bool = False, **options: Any) -> LocalProvider:
    """The shipped folder, configured as a user-supplied one (``path =``)."""
    thinking = ThinkingConfig(enabled=deep, opens_in_template=opens)
    return LocalProvider(
        ModelConfig("mine", "local", thinking=thinking,
                    options={"path": str(embedded_model_path()), **options})
    )  # fmt: skip


def plan(p: LocalProvider, request: ChatRequest, prompt: str = QUESTION) -> Any:
    thinking = p.thinking_for(request)
    return p._plan(ENGINE, request, prompt, thinking.enabled, thinking.budget)


def ask(text: str = QUESTION, **fields: Any) -> ChatRequest:
    return ChatRequest.from_prompt(text, model="m", **fields)


async def collect(p: LocalProvider, request: ChatRequest) -> list[Event]:
    return [event async for event in p.generate(request)]


# -- configuration and readiness ---------------------------------------------------------------


def test_path_must_be_a_string() -> None:
    with pytest.raises(ConfigError) as caught:
        LocalProvider(ModelConfig("mine", "local", options={"path": 3}))
    assert caught.value.message == "[models.mine] path must be a string (a model folder)."


def test_path_is_expanded_and_the_default_is_the_embedded_model() -> None:
    mine = LocalProvider(ModelConfig("mine", "local", options={"path": "~/models/q"}))
    assert (mine.path, mine.embedded) == (Path.home() / "models" / "q", False)
    shipped = embedded("fast")
    assert (shipped.path, shipped.embedded) == (embedded_model_path(), True)


async def test_check_says_what_it_serves(tmp_path: Path) -> None:
    ready = await embedded("deep").check()
    assert (ready.usable, ready.detail) == (True, "ready (embedded model)")
    mine = await folder().check()
    assert (mine.usable, mine.detail) == (True, f"ready ({embedded_model_path()})")
    missing = LocalProvider(ModelConfig("x", "local", options={"path": str(tmp_path)}))
    absent = await missing.check()
    assert (absent.usable, absent.detail) == (
        False,
        f"no ONNX Runtime GenAI model at {str(tmp_path)!r}",
    )


def test_a_folder_without_genai_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_engine(tmp_path)
    assert caught.value.message == (
        f"{str(tmp_path.resolve())!r} is not an ONNX Runtime GenAI model folder (no"
        " genai_config.json). Point path = at a folder made by onnxruntime_genai.models.builder."
    )


def genai_folder(tmp_path: Path, **model_section: Any) -> Path:
    """The shipped weights in a folder of their own, ``genai_config.json``'s model section
    changed as given."""
    for item in embedded_model_path().iterdir():
        if item.name != "genai_config.json":
            (tmp_path / item.name).symlink_to(item)
    config = json.loads((embedded_model_path() / "genai_config.json").read_text("utf-8"))
    config["model"].update(model_section)
    (tmp_path / "genai_config.json").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


async def test_a_folders_engine_reads_its_genai_config(tmp_path: Path) -> None:
    folder_path = genai_folder(tmp_path, eos_token_id=1, context_length=512)
    engine = load_engine(folder_path / ".")
    assert load_engine(folder_path) is engine  # loaded once
    assert (engine.path, engine.context_length, engine.eos_ids) == (
        folder_path.resolve(), 512, frozenset({1})
    )
    # the end-of-sequence id ends generation: the answer stops where the model ends it
    template = chat_format.render_prompt("{prompt}", thinking=False)
    p = LocalProvider(
        ModelConfig("mine", "local", thinking=ThinkingConfig(enabled=False),
                    options={"path": str(folder_path), "template": template, "fast_suffix": ""})
    )  # fmt: skip
    events = await collect(p, ask("What is 23 + 4?"))
    assert "".join(e.text for e in events if isinstance(e, Answer)) == "27"
    assert plain(events[-2:]) == [
        ("usage", len(engine.encode(template.replace("{prompt}", "What is 23 + 4?"))), 0, 2,
         False, None, None),
        ("finished", "stop", None, None, None, None),
    ]  # fmt: skip


def test_several_end_of_sequence_ids(tmp_path: Path) -> None:
    engine = load_engine(genai_folder(tmp_path, eos_token_id=[1, 7]))
    assert engine.eos_ids == frozenset({1, 7})


def test_the_shipped_engine() -> None:
    assert ENGINE.path == embedded_model_path().resolve()
    assert (ENGINE.context_length, ENGINE.eos_ids) == (1024, frozenset({1}))
    assert ENGINE.encode(chat_format.THINK_CLOSE) == [5]


# -- the plan ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "deep"])
def test_the_embedded_plan(mode: str) -> None:
    deep = mode == "deep"
    p = plan(embedded(mode), ask(temperature=0.7, top_p=0.8))
    prompt_ids = ENGINE.encode(chat_format.render_prompt(QUESTION, thinking=deep))
    assert p.prompt_ids == prompt_ids
    assert (p.starts_in_thoughts, p.close_text, p.close_ids) == (deep, "</think>", [5])
    assert p.max_new == 1024 - len(prompt_ids) - 1
    assert (p.temperature, p.top_p, p.budget, p.seed) == (0.7, 0.8, None, None)


@pytest.mark.parametrize(
    ("max_tokens", "max_new"), [(0, 1), (1, 1), (7, 7), (10_000, None), (-5, 1)]
)
def test_max_tokens_is_clamped_to_the_room(max_tokens: int, max_new: int | None) -> None:
    p = plan(embedded("fast"), ask(max_tokens=max_tokens))
    room = 1024 - len(p.prompt_ids) - len(p.close_ids)
    assert p.max_new == (room if max_new is None else max_new)


def test_the_budget_counts_in_deep_mode_only() -> None:
    assert plan(embedded("deep"), ask(thinking=ThinkingSettings(budget=1))).budget == 1
    assert plan(embedded("deep"), ask(thinking=ThinkingSettings(budget=30))).budget == 30
    assert plan(embedded("fast"), ask(thinking=ThinkingSettings(budget=30))).budget is None
    for budget in (0, -1):
        with pytest.raises(InvalidRequestError) as caught:
            plan(embedded("deep"), ask(thinking=ThinkingSettings(budget=budget)))
        assert caught.value.message == "The thinking budget must be at least 1 token."


def test_a_prompt_longer_than_the_context_is_refused() -> None:
    long = "7 " * 2000
    ids = ENGINE.encode(chat_format.render_prompt(long, thinking=True))
    with pytest.raises(InvalidRequestError) as caught:
        plan(embedded("deep"), ask(long), long)
    assert caught.value.message == f"The prompt is {len(ids)} tokens; the model's context is 1024."


def test_the_prompt_that_just_fits_and_the_one_that_does_not() -> None:
    # a template of n copies of one token: prompt n tokens, close 1 token, context 1024
    one = ENGINE.encode("7")
    assert len(one) == 1
    fits = plan(folder(template="7" * 1022 + "{prompt}", fast_suffix=""), ask(""), "")
    assert (len(fits.prompt_ids), fits.max_new) == (1022, 1)
    with pytest.raises(InvalidRequestError, match="The prompt is 1023 tokens"):
        plan(folder(template="7" * 1023 + "{prompt}", fast_suffix=""), ask(""), "")


def test_the_seed_option() -> None:
    assert plan(folder(template="{prompt}", seed=42), ask()).seed == 42
    assert plan(folder(template="{prompt}", seed="42"), ask()).seed is None


def test_a_folders_template_fast_suffix_and_close() -> None:
    request = ask(thinking=ThinkingSettings(enabled=False))
    fast = plan(folder(template="Q: {prompt} A:"), request)
    assert fast.prompt_ids == ENGINE.encode(f"Q: {QUESTION} A:<think>\n\n</think>\n\n")
    assert (fast.starts_in_thoughts, fast.close_text) == (False, "</think>")
    custom = plan(folder(template="{prompt}", fast_suffix="!", think_close="<end>"), request)
    assert custom.prompt_ids == ENGINE.encode(QUESTION + "!")
    assert (custom.close_text, custom.close_ids) == ("<end>", ENGINE.encode("<end>"))
    deep = plan(folder(template="{prompt}"), ask())
    assert deep.prompt_ids == ENGINE.encode(QUESTION)
    assert deep.starts_in_thoughts is False
    opened = plan(folder(opens=True, template="{prompt}<think>"), ask())
    assert opened.starts_in_thoughts is True
    assert plan(folder(opens=True, template="{prompt}"), request).starts_in_thoughts is False


TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_a_folders_own_chat_template_gets_every_message(tmp_path: Path) -> None:
    # the shipped weights in a folder of their own, with a chat template in its tokenizer
    # config (as exported Qwen3 folders have)
    for item in embedded_model_path().iterdir():
        if item.name != "tokenizer_config.json":
            (tmp_path / item.name).symlink_to(item)
    config = json.loads((embedded_model_path() / "tokenizer_config.json").read_text("utf-8"))
    config["chat_template"] = TEMPLATE
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    engine = load_engine(tmp_path)
    p = LocalProvider(ModelConfig("mine", "local", options={"path": str(tmp_path)}))
    request = ChatRequest(
        messages=(Message("system", "Be brief."), Message("user", "Q1"),
                  Message("assistant", "A1"), Message("user", QUESTION)),
        model="mine",
    )  # fmt: skip
    deep = p._plan(engine, request, QUESTION, True, None)
    text = f"<|system|>Be brief.<|user|>Q1<|assistant|>A1<|user|>{QUESTION}<|assistant|>"
    assert deep.prompt_ids == engine.encode(text)
    fast = p._plan(engine, request, QUESTION, False, None)
    assert fast.prompt_ids == engine.encode(text + "<think>\n\n</think>\n\n")


def test_a_folder_without_a_chat_template_needs_the_template_option() -> None:
    with pytest.raises(ConfigError) as caught:
        plan(folder(), ask())
    assert caught.value.message.startswith(
        f"The model at {str(ENGINE.path)!r} has no usable chat template ("
    )
    assert caught.value.message.endswith(
        '). Set template = "...{prompt}..." in its [models.<name>] table.'
    )


# -- before the model runs ---------------------------------------------------------------------


async def test_a_json_format_is_refused() -> None:
    with pytest.raises(UnsupportedRequestError) as caught:
        await collect(embedded("fast"), ask(response_format=ResponseFormat("json_object")))
    assert caught.value.param == "response_format"
    assert caught.value.message == (
        "Model 'fast' (a local ONNX model) cannot be held to a JSON format; leave"
        " response_format out, or configure a model that supports it."
    )


async def test_offered_tools_are_announced_and_not_offered() -> None:
    tools = (ToolSpec("run_sql"), ToolSpec("ping"))
    events = await collect(embedded("fast"), ask("What is 23 + 4?", tools=tools, max_tokens=4))
    assert plain(events[:1]) == [
        (
            "notice",
            "fast cannot call tools, so the 2 offered (run_sql, ping) were not offered to the"
            " model; it answered without them.",
        )
    ]
    quiet = await collect(
        embedded("fast"),
        ask("What is 23 + 4?", tools=tools, tool_choice=ToolChoice("none"), max_tokens=4),
    )
    assert not any(isinstance(e, Notice) for e in quiet)


@pytest.mark.parametrize("text", ["", "  \n"])
async def test_no_user_text_is_refused(text: str) -> None:
    request = ChatRequest(messages=(Message("system", "S"), Message("user", text)), model="m")
    with pytest.raises(InvalidRequestError) as caught:
        await collect(embedded("fast"), request)
    assert caught.value.message == "The request has no user message to answer."


def declined(reason: str) -> list[tuple[Any, ...]]:
    head = OUT_OF_DOMAIN_HEAD.format(reason=reason)
    paragraphs = [head, *OUT_OF_DOMAIN.split("\n\n")]
    answers = [("answer", p + "\n\n") for p in paragraphs[:-1]] + [("answer", paragraphs[-1])]
    return [*answers, ("usage", 0, 0, 0, False, None, None), ("finished", "declined", None,
            None, None, None)]  # fmt: skip


async def test_an_untrained_question_is_declined_exactly() -> None:
    events = plain(await collect(embedded("deep"), ask("Write a haiku about autumn.")))
    assert events == declined("This question is outside them.")
    text = "".join(e[1] for e in events if e[0] == "answer")
    assert text == (
        "I'm ponder's small embedded model, trained offline for two kinds of question only."
        " This question is outside them. So I won't guess at it.\n\n" + OUT_OF_DOMAIN
    )


async def test_the_question_after_context_blocks_in_the_same_turn() -> None:
    parts = (
        TextPart("<context>files, tools</context>"), TextPart(" "), TextPart("What is 23 + 4?")
    )
    request = ChatRequest(messages=(Message("user", parts),), model="m", max_tokens=6)
    events = await collect(embedded("fast"), request)
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
    assert "".join(e.text for e in events if isinstance(e, Answer)).strip() == "27"
    # the last user turn decides, and a turn with one text part is the whole prompt
    one = ChatRequest(
        messages=(Message("user", (TextPart("What is 23 + 4?"),)),
                  Message("assistant", "5"), Message("user", "<context>x</context>")),
        model="m",
    )  # fmt: skip
    assert plain(await collect(embedded("fast"), one))[-1][1] == "declined"
    later = ChatRequest(
        messages=(Message("user", (TextPart("<context>x</context>"), TextPart("What is 23 + 4?"))),
                  Message("user", (TextPart("a"), TextPart("Write a haiku."))),),
        model="m",
    )  # fmt: skip
    assert plain(await collect(embedded("fast"), later))[-1][1] == "declined"


async def test_a_declined_question_after_context_blocks_is_declined_for_itself() -> None:
    # As Claude Code sends a turn: a reminder with today's date, then the question.
    reminder = TextPart("<system-reminder>Today's date is 2026-12-01.</system-reminder>")
    parts = (reminder, TextPart("What is 4821 * 37? Reply in French."))
    request = ChatRequest(messages=(Message("user", parts),), model="m")
    events = plain(await collect(embedded("deep"), request))
    assert events == declined(
        'I learned sums like 4821 × 37 only asked plainly ("What is 4821 * 37?"), with no'
        " other words around them."
    )
    # An aside on the answer's look is no reason to decline: the answers look like that.
    parts = (reminder, TextPart("What is 23 + 4? Reply with the number only."))
    request = ChatRequest(messages=(Message("user", parts),), model="m", max_tokens=6)
    events = await collect(embedded("fast"), request)
    assert "".join(e.text for e in events if isinstance(e, Answer)).strip() == "27"


@pytest.mark.parametrize(
    "parts",
    [
        (TextPart("<a>"), TextPart("<b>"), TextPart("What is 23 + 4?")),
        (TextPart("<a>"), TextPart("What is 23 + 4?"), TextPart("  ")),
        (TextPart("<a>"), ImagePart("https://example.test/x.png"), TextPart("What is 23 + 4?")),
    ],
)
async def test_the_last_non_blank_text_part_is_the_question(parts: tuple[Any, ...]) -> None:
    request = ChatRequest(messages=(Message("user", parts),), model="m", max_tokens=6)
    events = await collect(embedded("fast"), request)
    assert "".join(e.text for e in events if isinstance(e, Answer)).strip() == "27"


async def test_two_generations_at_once_are_counted() -> None:
    p = embedded("deep")
    streams = [p.generate(ask("What is 4821 * 37?")) for _ in range(2)]
    try:
        for stream in streams:
            async for event in stream:
                if isinstance(event, Thinking):
                    break
        assert local.active_generations() == 2
    finally:
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]
    for _ in range(500):
        if local.active_generations() == 0:
            break
        await asyncio.sleep(0.01)
    assert local.active_generations() == 0


async def test_mode_phrases_are_dropped_before_the_embedded_model() -> None:
    events = await collect(embedded("fast"), ask("Quick answer: What is 23 + 4?", max_tokens=6))
    assert "".join(e.text for e in events if isinstance(e, Answer)).strip() == "27"


# -- a run of the model ------------------------------------------------------------------------


async def test_fast_counts_exactly() -> None:
    before = (local.tokens_generated(), local.tokens_after_stop())
    events = await collect(embedded("fast"), ask("What is 23 + 4?"))
    # every token generated is counted, the end-of-sequence one too; none after a stop
    generated = events[-2].answer_tokens + 1  # type: ignore[union-attr]
    assert (local.tokens_generated(), local.tokens_after_stop()) == (
        before[0] + generated, before[1]
    )
    prompt = ENGINE.encode(chat_format.render_prompt("What is 23 + 4?", thinking=False))
    answer = "".join(e.text for e in events if isinstance(e, Answer))
    assert answer.strip() == "27"
    usage = [e for e in events if isinstance(e, Usage)]
    assert plain(usage) == [("usage", len(prompt), 0, len(ENGINE.encode(answer)), False, None,
                             None)]  # fmt: skip
    assert plain(events[-1:]) == [("finished", "stop", None, None, None, None)]
    assert not any(isinstance(e, Thinking) for e in events)


async def test_max_tokens_cuts_the_answer_and_the_thoughts() -> None:
    events = await collect(embedded("fast"), ask("What is 4821 * 37?", max_tokens=1))
    assert plain(events[-2:]) == [
        ("usage", events[-2].input_tokens, 0, 1, False, None, None),  # type: ignore[union-attr]
        ("finished", "length", None, None, None, None),
    ]
    deep = await collect(embedded("deep"), ask("What is 4821 * 37?", max_tokens=3))
    assert plain(deep[-2:])[0][2:4] == (3, 0)
    assert plain(deep[-1:]) == [("finished", "thinking_length", None, None, None, None)]


async def test_a_budget_of_one_thought_token() -> None:
    events = await collect(
        embedded("deep"), ask("What is 4821 * 37?", thinking=ThinkingSettings(budget=1))
    )
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.thinking_tokens == 1 and usage.answer_tokens > 0
    assert "</think>" not in "".join(e.text for e in events if isinstance(e, Thinking))
    assert plain(events[-1:]) == [("finished", "stop", None, None, None, None)]


async def test_a_tiny_top_p_samples_the_likeliest_token() -> None:
    p = folder(template=chat_format.render_prompt("{prompt}", thinking=True), seed=3)

    async def text(**fields: Any) -> str:
        events = await collect(p, ask("What is 4821 * 37?", max_tokens=40, **fields))
        return "".join(e.text for e in events if isinstance(e, Thinking | Answer))

    greedy = await text()
    assert await text(temperature=5.0, top_p=1e-6) == greedy
    assert await text(temperature=5.0) != greedy


async def test_greedy_decoding_needs_no_seed() -> None:
    async def text() -> str:
        events = await collect(embedded("deep"), ask("What is 4821 * 37?", max_tokens=40))
        return "".join(e.text for e in events if isinstance(e, Thinking | Answer))

    first = await text()
    assert [await text() for _ in range(3)] == [first] * 3


async def test_budget_forcing_keeps_the_last_thought_token() -> None:
    def thoughts(events: list[Event]) -> str:
        return "".join(e.text for e in events if isinstance(e, Thinking))

    question = "What is 4821 * 37?"
    cut = await collect(embedded("deep"), ask(question, max_tokens=10))
    forced = await collect(embedded("deep"), ask(question, thinking=ThinkingSettings(budget=10)))
    # greedy: the first ten thought tokens are the same whether the limit or the budget ends them
    assert thoughts(forced) == thoughts(cut)
    assert plain(cut[-1:]) == [("finished", "thinking_length", None, None, None, None)]


async def test_a_budget_at_the_token_limit_does_not_force_an_answer() -> None:
    request = ask("What is 4821 * 37?", max_tokens=5, thinking=ThinkingSettings(budget=5))
    events = await collect(embedded("deep"), request)
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.thinking_tokens, usage.answer_tokens) == (5, 0)
    assert plain(events[-1:]) == [("finished", "thinking_length", None, None, None, None)]


async def test_greedy_and_seeded_sampling_are_reproducible() -> None:
    p = folder(template=chat_format.render_prompt("{prompt}", thinking=True), seed=7)

    async def answer(**fields: Any) -> str:
        events = await collect(p, ask("What is 4821 * 37?", max_tokens=12, **fields))
        return "".join(e.text for e in events if isinstance(e, Thinking | Answer))

    greedy = await answer()
    assert greedy == await answer(temperature=0.0)
    assert greedy == await answer(temperature=-1.0, top_p=0.1)
    seeded = await answer(temperature=5.0)
    assert seeded == await answer(temperature=5.0)
    assert seeded != greedy


async def test_an_engine_failure_is_a_failed_event() -> None:
    broken = local.Engine(ENGINE.path, None, ENGINE.tokenizer, 1024, frozenset({1}))
    p = embedded("fast")
    request = ask("What is 23 + 4?")
    events = [e async for e in local._stream(broken, plan(p, request, "What is 23 + 4?"))]
    assert len(events) == 1 and events[0].type == "failed"
    assert (events[0].side, events[0].code) == ("ponder", "local_engine_error")  # type: ignore[union-attr]
    assert events[0].message.startswith("The local model failed: ")  # type: ignore[union-attr]
    # the worker counts itself out just after it reported: wait for it (bounded)
    for _ in range(500):
        if local.active_generations() == 0:
            break
        await asyncio.sleep(0.01)
    assert local.active_generations() == 0
