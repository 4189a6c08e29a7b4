"""The local provider with the real shipped model: both modes, budget, cancellation, OOD."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from ponder import tasks
from ponder.config import ModelConfig, ThinkingConfig, default_models
from ponder.errors import ConfigError
from ponder.events import Answer, Event, Finished, Started, Thinking, Usage
from ponder.models import chat_format
from ponder.providers.local import (
    LocalProvider,
    active_generations,
    embedded_model_path,
    load_engine,
    tokens_after_stop,
)
from ponder.providers.local_question import OUT_OF_DOMAIN, without_asides
from ponder.registry import provider_class
from ponder.request import ChatRequest, ThinkingSettings


def provider(mode: str) -> LocalProvider:
    p = provider_class("local")(default_models()[mode])
    assert isinstance(p, LocalProvider)
    return p


async def collect(p: LocalProvider, request: ChatRequest) -> list[Event]:
    return [event async for event in p.stream(request)]


def text(events: list[Event], kind: type[Thinking] | type[Answer]) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def usage(events: list[Event]) -> Usage:
    found = [e for e in events if isinstance(e, Usage)]
    assert len(found) == 1
    return found[0]


def sample() -> list[tasks.Problem]:
    """Two held-out problems per family and level."""
    return [
        problem
        for family, levels in tasks.families().items()
        for level in levels
        for problem in tasks.generate(family, level, 2, seed=11)
    ]


def test_registered_and_ships_its_model() -> None:
    assert provider_class("local") is LocalProvider
    folder = embedded_model_path()
    for name in ("genai_config.json", "model.onnx", "model.onnx.data", "tokenizer.json"):
        assert (folder / name).is_file(), name
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 20 * 2**20  # a few MB


def test_engine_is_loaded_once_per_folder() -> None:
    assert load_engine(embedded_model_path()) is load_engine(embedded_model_path())


async def test_deep_thinks_then_answers_correctly() -> None:
    p = provider("deep")
    problems = sample()
    right = 0
    for problem in problems:
        events = await collect(p, ChatRequest.from_prompt(problem.prompt, model="deep"))
        assert isinstance(events[0], Started) and events[0].mode == "deep"
        assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
        kinds = [e.type for e in events if isinstance(e, Thinking | Answer)]
        # all thoughts come before the answer
        assert kinds and kinds[0] == "thinking" and "answer" in kinds
        assert kinds.index("answer") > max(i for i, k in enumerate(kinds) if k == "thinking")
        assert chat_format.THINK_CLOSE not in text(events, Thinking)
        u = usage(events)
        assert u.thinking_tokens > 0 and u.answer_tokens > 0 and not u.estimated
        prompt_ids = load_engine(embedded_model_path()).encode(
            chat_format.render_prompt(problem.prompt, thinking=True)
        )
        assert u.input_tokens == len(prompt_ids)  # counted by the engine, not estimated
        right += tasks.verify(problem, text(events, Answer)).ok
    # The shipped model's measured held-out accuracy (benchmarks/local_model.py) is 76-100% by
    # level; this guards against a broken export, tokenizer or prompt format.
    assert right >= 0.75 * len(problems), f"deep: {right}/{len(problems)} right"


async def test_fast_answers_at_once_without_thoughts() -> None:
    p = provider("fast")
    right = 0
    for problem in tasks.generate("arith", 1, 6, seed=5) + tasks.generate("ledger", 1, 6, seed=5):
        events = await collect(p, ChatRequest.from_prompt(problem.prompt, model="fast"))
        assert not any(isinstance(e, Thinking) for e in events)
        u = usage(events)
        assert u.thinking_tokens == 0 and 0 < u.answer_tokens <= 12
        assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"
        # an answer of the right shape (a number, or customer names), right or wrong
        verdict = tasks.verify(problem, text(events, Answer))
        assert verdict.extracted is not None
        right += verdict.ok
    # Level 1 is where a direct answer is within the model's reach (held-out: 96% arith,
    # 93% ledger in benchmarks/local_model.py): fast must be a real option there.
    assert right >= 10, f"fast on level 1: {right}/12 right"


async def test_deep_beats_fast_where_thinking_pays() -> None:
    hard = tasks.generate("arith", 3, 8, seed=9) + tasks.generate("arith", 4, 8, seed=9)
    scores = {}
    for mode in ("fast", "deep"):
        p = provider(mode)
        right = 0
        for problem in hard:
            events = await collect(p, ChatRequest.from_prompt(problem.prompt, model=mode))
            right += tasks.verify(problem, text(events, Answer)).ok
        scores[mode] = right
    assert scores["deep"] >= scores["fast"] + 4, scores


async def test_thinking_budget_caps_thought_tokens_and_forces_an_answer() -> None:
    p = provider("deep")
    problem = tasks.generate("arith", 4, 1, seed=1)[0]
    full = await collect(p, ChatRequest.from_prompt(problem.prompt))
    assert usage(full).thinking_tokens > 40
    for budget in (1, 10, 40):
        request = ChatRequest.from_prompt(problem.prompt, thinking=ThinkingSettings(budget=budget))
        events = await collect(p, request)
        u = usage(events)
        assert 1 <= u.thinking_tokens <= budget
        assert u.answer_tokens > 0 and text(events, Answer).strip()
        assert isinstance(events[-1], Finished) and events[-1].finish_reason == "stop"


async def test_max_tokens_ends_in_thoughts() -> None:
    p = provider("deep")
    problem = tasks.generate("ledger", 3, 1, seed=1)[0]
    events = await collect(p, ChatRequest.from_prompt(problem.prompt, max_tokens=12))
    u = usage(events)
    assert u.thinking_tokens == 12 and u.answer_tokens == 0
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "thinking_length"


async def test_temperature_samples_and_still_streams_cleanly() -> None:
    p = provider("deep")
    problem = tasks.generate("arith", 2, 1, seed=2)[0]
    request = ChatRequest.from_prompt(problem.prompt, temperature=1.5)
    events = await collect(p, request)
    assert isinstance(events[-1], Finished)
    assert usage(events).output_tokens > 0


async def _wait_idle(timeout: float = 30.0) -> None:
    """Until no worker generates (the timeout only bounds a hung test; how fast it stops is
    asserted by the token count, not by time: a loaded machine cannot fail it)."""
    start = time.perf_counter()
    while active_generations() and time.perf_counter() - start < timeout:
        await asyncio.sleep(0.002)
    assert active_generations() == 0


async def test_closing_the_stream_stops_generation_promptly() -> None:
    p = provider("deep")
    problem = tasks.generate("ledger", 3, 1, seed=3)[0]
    stream = p.stream(ChatRequest.from_prompt(problem.prompt))
    seen = 0
    async for event in stream:
        if isinstance(event, Thinking):
            seen += 1
            if seen == 3:
                break
    assert active_generations() == 1
    before = tokens_after_stop()
    await stream.aclose()
    await _wait_idle()
    assert tokens_after_stop() - before <= 1  # at most the token in flight when it closed


async def test_cancelling_the_task_stops_generation_promptly() -> None:
    p = provider("deep")
    problem = tasks.generate("ledger", 3, 1, seed=4)[0]
    first = asyncio.Event()

    async def consume() -> None:
        async for event in p.stream(ChatRequest.from_prompt(problem.prompt)):
            if isinstance(event, Thinking):
                first.set()
                await asyncio.sleep(3600)  # a reader that stalls, then is cancelled

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    await asyncio.sleep(0.2)
    assert active_generations() == 1  # held back by the stalled reader, not finished
    before = tokens_after_stop()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _wait_idle()
    assert tokens_after_stop() - before <= 1  # at most the token in flight when cancelled


@pytest.mark.parametrize("mode", ["fast", "deep"])
async def test_out_of_domain_says_what_it_knows(mode: str) -> None:
    p = provider(mode)
    events = await collect(p, ChatRequest.from_prompt("Write a haiku about autumn."))
    assert not any(isinstance(e, Thinking) for e in events)
    answer = text(events, Answer)
    assert "arithmetic" in answer and "ledger" in answer and "ponder.toml" in answer
    # a canned reply, marked as such: consumers label it and leave it out of timings
    assert isinstance(events[-1], Finished) and events[-1].finish_reason == "declined"
    assert active_generations() == 0


@pytest.mark.parametrize("mode", ["fast", "deep"])
async def test_a_ledger_of_an_untrained_size_is_not_guessed_at(mode: str) -> None:
    # 3 customers and 5 orders: on sizes it never saw the model is right 5-85% of the time
    # (benchmarks/ledger_sizes.py), so it says so rather than answering
    prompt = (
        "Orders: ann 30, bob 50, ann 7, cy 45, bob 20. Refunds: bob 50, bob 20. Who are the"
        " top 2 spenders, excluding customers who refunded more than half of their orders?"
    )
    events = await collect(provider(mode), ChatRequest.from_prompt(prompt))
    assert not any(isinstance(e, Thinking) for e in events)
    answer = text(events, Answer)
    assert "3 customers, 5 orders and 2 refunds" in answer and "ponder.toml" in answer
    assert usage(events).input_tokens == 0


def test_the_replys_own_ledger_example_is_one_the_model_learned() -> None:
    example = re.search(r'\("(Orders: [^"]*\.) \.\.\."\)', OUT_OF_DOMAIN)
    assert example is not None
    prompt = example.group(1) + (
        " Who are the top 2 spenders, excluding customers who refunded more than half of their"
        " orders?"
    )
    assert tasks.recognise(prompt) == "ledger" and tasks.untrained(prompt) is None


async def test_path_option_serves_any_genai_folder_with_its_template(tmp_path: Path) -> None:
    # The shipped folder, used as a user-supplied one: its own template, given in the config.
    template = f"{chat_format.USER}{{prompt}}{chat_format.ASSISTANT}{chat_format.THINK_OPEN}"
    config = ModelConfig(
        "mine",
        "local",
        thinking=ThinkingConfig(enabled=True, opens_in_template=True),
        options={"path": str(embedded_model_path()), "template": template},
    )
    p = LocalProvider(config)
    assert (await p.check()).usable
    problem = tasks.generate("arith", 3, 1, seed=8)[0]
    events = await collect(p, ChatRequest.from_prompt(problem.prompt, model="mine"))
    same = await collect(provider("deep"), ChatRequest.from_prompt(problem.prompt))
    # the same weights behind the same prompt format: the same greedy thoughts and answer
    assert text(events, Thinking) and text(events, Thinking) == text(same, Thinking)
    assert text(events, Answer) == text(same, Answer)
    # a user-supplied model is never second-guessed as out of domain: the engine runs the
    # prompt (the canned out-of-domain reply counts no input tokens), whatever it then writes
    haiku = ChatRequest.from_prompt("Write a haiku about autumn.", model="mine", max_tokens=30)
    events = await collect(p, haiku)
    assert "ponder.toml" not in text(events, Answer) + text(events, Thinking)
    assert usage(events).input_tokens > 0

    missing = LocalProvider(ModelConfig("x", "local", options={"path": str(tmp_path)}))
    assert not (await missing.check()).usable
    with pytest.raises(ConfigError):
        await collect(missing, ChatRequest.from_prompt("What is 2+2?"))


@pytest.mark.parametrize(
    ("prompt", "question"),
    [
        ("Think step by step: what is 4821 * 37?", "what is 4821 * 37?"),
        ("Quick answer: 347*28", "347*28"),
        ("347*28, quick answer please", "347*28"),
        ("What is 4821 × 37? Double-check it.", "What is 4821 × 37?"),
        ("Take your time. Think hard: 347*28", "347*28"),
        # a clause with a number in it is part of the question, and a prompt that is all
        # mode phrase stays as it is
        ("Quick answer 347*28", "Quick answer 347*28"),
        ("Think step by step.", "Think step by step."),
        ("What is 347 × 28?", "What is 347 × 28?"),
        # how the answer should look: the model's answers already do
        ("What is 4821 * 37? Reply with the number only.", "What is 4821 * 37?"),
        ("What is 4821 * 37? Answer with just the number.", "What is 4821 * 37?"),
        ("Just the number: 347*28", "347*28"),
        ("347*28. No explanation, please respond with only the answer.", "347*28."),
        ("What is 347 * 28? Number only!", "What is 347 * 28?"),
        ("What is 347 * 28? Be brief.", "What is 347 * 28?"),
        # what is not only about the answer's look stays
        ("What is 347 * 28? Reply in French.", "What is 347 * 28? Reply in French."),
        ("What is 347 * 28? Answer with 3 digits.", "What is 347 * 28? Answer with 3 digits."),
        ("Explain the answer. What is 347 * 28?", "Explain the answer. What is 347 * 28?"),
    ],
)
def test_mode_phrases_and_answer_formats_are_dropped_before_the_embedded_model(
    prompt: str, question: str
) -> None:
    assert without_asides(prompt) == question
