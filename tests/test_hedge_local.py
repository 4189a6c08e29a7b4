"""The hedge on the real embedded model: fast's right answer is accepted by the embedded
verifier and deep's generation really stops (the local engine counts tokens made after its
stream was closed); a wrong fast answer is rejected and deep answers."""

from __future__ import annotations

import asyncio
import time

from ponder import tasks
from ponder.config import parse_config
from ponder.engine import Engine
from ponder.events import Answer, Event, Finished, Progress, Usage
from ponder.providers.local import active_generations, tokens_after_stop, tokens_generated
from ponder.request import ChatRequest

# Deep may think 20 tokens before fast's verdict: on a loaded machine deep could otherwise
# answer first (a legitimate win) and the test would not see an acceptance to measure.
RACING = parse_config(
    {
        "models": {
            "race": {"provider": "hedge", "race": "always", "max_deep_tokens_before_verdict": 20}
        }
    }
)


async def _idle(timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while active_generations() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


async def hedged(prompt: str) -> list[Event]:
    engine = Engine(RACING)
    try:
        return await engine.collect(ChatRequest.from_prompt(prompt, model="race"))
    finally:
        await engine.aclose()


def answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, Answer))


async def test_accepted_fast_answer_stops_deep_within_five_tokens() -> None:
    engine = Engine(parse_config({}))
    try:
        for problem in tasks.generate("ledger", 1, 3, seed=11):
            alone = await engine.collect(ChatRequest.from_prompt(problem.prompt, model="deep"))
            deep_tokens = next(e for e in alone if isinstance(e, Usage)).output_tokens
            fast = await engine.collect(ChatRequest.from_prompt(problem.prompt, model="fast"))
            fast_tokens = next(e for e in fast if isinstance(e, Usage)).output_tokens
            await _idle()
            generated, after_stop = tokens_generated(), tokens_after_stop()
            events = await hedged(problem.prompt)
            await _idle()
            end = events[-1]
            assert isinstance(end, Finished) and end.served_by == "fast"
            assert tasks.verify(problem, answer(events)).ok
            assert active_generations() == 0
            # Deep stopped part-way (it did not run on unseen), and within 5 tokens of the stop.
            assert tokens_generated() - generated < fast_tokens + deep_tokens
            assert tokens_after_stop() - after_stop <= 5
    finally:
        await engine.aclose()


async def test_wrong_fast_answer_is_rejected_and_deep_answers() -> None:
    problem = tasks.generate("arith", 3, 1, seed=5)[0]
    events = await hedged(problem.prompt)
    end = events[-1]
    assert isinstance(end, Finished) and end.served_by == "deep"
    assert tasks.verify(problem, answer(events)).ok
    labels = [e.label for e in events if isinstance(e, Progress)]
    why = "fast's answer rejected: arith task verifier: expected"
    assert any(label.startswith(why) for label in labels)
