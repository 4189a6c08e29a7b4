"""How the embedded model does on ledger sizes it was never trained on (deep, greedy).

    python benchmarks/ledger_sizes.py            # 40 ledgers per size
    python benchmarks/ledger_sizes.py --n 100

The embedded model learned three ledger shapes (``ponder.tasks.ledger.SHAPES``). This prints
its accuracy on those and on other sizes, which is why the ``local`` provider declines a ledger
of an untrained size (:func:`ponder.tasks.untrained`) instead of guessing. The gate is
bypassed here by serving the shipped folder as a user-supplied model with its own template.
"""

from __future__ import annotations

import argparse
import asyncio
import random

from ponder import tasks
from ponder.config import ModelConfig, ThinkingConfig
from ponder.events import Answer
from ponder.models import chat_format
from ponder.providers.local import LocalProvider, embedded_model_path
from ponder.request import ChatRequest
from ponder.tasks import ledger
from ponder.tasks.common import Problem

# (customers, orders, refunds, top k): the trained shapes, then neighbours of them
OTHER_SIZES = (
    (2, 2, 1, 1), (2, 3, 1, 1), (3, 3, 1, 1), (3, 4, 2, 1), (3, 5, 2, 2), (4, 4, 2, 2),
    (4, 5, 1, 2), (4, 5, 3, 2), (4, 6, 2, 2), (5, 6, 2, 2), (5, 7, 3, 2), (5, 6, 3, 1),
    (6, 7, 3, 2),
)  # fmt: skip


def deep_without_the_gate() -> LocalProvider:
    template = f"{chat_format.USER}{{prompt}}{chat_format.ASSISTANT}{chat_format.THINK_OPEN}"
    thinking = ThinkingConfig(enabled=True, opens_in_template=True)
    options = {"path": str(embedded_model_path()), "template": template}
    return LocalProvider(ModelConfig("deep-ungated", "local", thinking=thinking, options=options))


def problems(size: tuple[int, int, int, int], n: int) -> list[Problem]:
    """``n`` random ledgers of one size, drawn as the task generator draws its levels."""
    rng = random.Random(f"sizes:{size}")
    out: list[Problem] = []
    while len(out) < n:
        drawn = ledger.draw(size, rng)
        if drawn is None:
            continue
        template, question = rng.choice(ledger.TEMPLATES), rng.choice(ledger.QUESTIONS)
        prompt = ledger.phrase(drawn, template, question)
        out.append(Problem(id=f"{size}-{len(out)}", family="ledger", level=0,
                           template="sizes", prompt=prompt, answer=ledger.answer(drawn)))
    return out


async def accuracy(p: LocalProvider, batch: list[Problem]) -> float:
    right = 0
    for problem in batch:
        answer = ""
        async for event in p.stream(ChatRequest.from_prompt(problem.prompt, model=p.name)):
            if isinstance(event, Answer):
                answer += event.text
        right += tasks.verify(problem, answer).ok
    return right / len(batch)


async def main_async(n: int) -> None:
    p = deep_without_the_gate()
    print("customers orders refunds top  trained  deep acc")
    for size in (*ledger.SHAPES.values(), *OTHER_SIZES):
        trained = size in ledger.SHAPES.values()
        acc = await accuracy(p, problems(size, n))
        c, o, r, k = size
        print(f"{c:>9} {o:>6} {r:>7} {k:>4}  {'yes' if trained else 'no':>7}  {100 * acc:>7.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="ledgers per size")
    asyncio.run(main_async(parser.parse_args().n))


if __name__ == "__main__":
    main()
