"""Test doubles for the bench: a toy suite and a deterministic ``fake`` provider.

The toy suite asks ``L<level>: what is A+B?``. The fake provider answers it: with
``think = true`` it thinks first; levels in ``wrong_first`` are answered wrong on the first
attempt and right after feedback; levels in ``never`` are always wrong.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

from ponder.bench.suite import Task, Verdict
from ponder.config import Config, ModelConfig, ThinkingConfig
from ponder.events import Answer, Event, Finished, Thinking
from ponder.providers.base import Provider
from ponder.registry import register
from ponder.request import ChatRequest

_TOY = re.compile(r"L(\d+): what is (\d+)\+(\d+)\?")


@register("fake")
class FakeProvider(Provider):
    calls: ClassVar[int] = 0

    async def generate(self, request: ChatRequest) -> AsyncIterator[Event]:
        type(self).calls += 1
        options = self.config.options
        first = request.messages[0].content
        attempt = sum(1 for m in request.messages if m.role == "user")
        match = _TOY.search(first)
        if match is None:
            yield Answer("I cannot answer that.")
            yield Finished("stop")
            return
        level, a, b = (int(g) for g in match.groups())
        right = a + b
        wrong_first: list[int] = list(options.get("wrong_first", []))
        never: list[int] = list(options.get("never", []))
        value = right
        if level in never or (level in wrong_first and attempt == 1):
            value = right + 1
        if self.thinking_for(request).enabled:
            await asyncio.sleep(0.002)
            yield Thinking(f"Adding {a} and {b}.")
        await asyncio.sleep(0.001)
        yield Answer(f"The answer is {value}.")
        yield Finished("stop")


class ToySuite:
    name = "toy"
    description = "A+B, for tests"

    def levels(self) -> list[int]:
        return [1, 2]

    def generate(self, n_per_level: int, seed: int, workdir: Path) -> list[Task]:
        tasks = []
        for level in self.levels():
            for i in range(n_per_level):
                a, b = seed + i, 10 * level + i
                tasks.append(
                    Task(
                        id=f"toy-{level}-{i}",
                        suite="toy",
                        family="toy",
                        level=level,
                        template="plain",
                        prompt=f"L{level}: what is {a}+{b}?",
                        seed=seed,
                        data={"answer": a + b},
                        reference=str(a + b),
                    )
                )
        return tasks

    def verify(self, task: Task, answer: str) -> Verdict:
        numbers = re.findall(r"-?\d+", answer)
        if not numbers:
            return Verdict(False, "no number in the answer")
        got = int(numbers[-1])
        if got != task.data["answer"]:
            return Verdict(False, f"{got} is not the sum", str(got))
        return Verdict(True, "exact", str(got))


def fake_config(**fast_options: Any) -> Config:
    """``fast``: no thinking, wrong first on level 2 by default; ``deep``: thinks, always right."""
    options = {"wrong_first": [2], **fast_options}
    return Config(
        models={
            "fast": ModelConfig(
                "fast", "fake", thinking=ThinkingConfig(enabled=False), options=options
            ),
            "deep": ModelConfig("deep", "fake", thinking=ThinkingConfig(enabled=True)),
        }
    )
