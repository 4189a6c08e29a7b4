"""How promptly a hedge stops deep once fast's answer is accepted, on the embedded model.

    python benchmarks/hedge_cancel.py            # 20 held-out problems per level
    python benchmarks/hedge_cancel.py --n 5      # a smoke run

Races fast against deep (``race = "always"``) on every level of arith and ledger and prints,
per level: how often fast's answer was accepted, the tokens the local engine generated after
deep's stream was closed (the issue's floor: at most 5 per acceptance), deep's thought tokens
when it was cancelled, and the verifier's and the cancellation's wall time. Requests run one
at a time with the model loaded first; on a shared machine the times are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from ponder import tasks
from ponder.config import parse_config
from ponder.engine import Engine
from ponder.events import Finished, Notice
from ponder.providers.local import active_generations, tokens_after_stop
from ponder.request import ChatRequest


async def idle() -> None:
    deadline = time.monotonic() + 10
    while active_generations() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)


async def main(n: int, seed: int) -> None:
    engine = Engine(parse_config({"models": {"race": {"provider": "hedge", "race": "always"}}}))
    warm = tasks.generate("arith", 1, 1, seed)[0]
    await engine.collect(ChatRequest.from_prompt(warm.prompt, model="deep"))
    header = ("level", "accepted", "after stop max", "total", "deep tokens p50")
    print(f"{header[0]:<10} {header[1]:>9} {header[2]:>15} {header[3]:>6} {header[4]:>16}")
    worst = 0
    for family, levels in tasks.families().items():
        for level in levels:
            accepted, after, deep_tokens = 0, [], []
            problems = tasks.generate(family, level, n, seed)
            for problem in problems:
                await idle()
                before = tokens_after_stop()
                events = await engine.collect(ChatRequest.from_prompt(problem.prompt, model="race"))
                await idle()
                end = events[-1]
                if isinstance(end, Finished) and end.served_by == "fast":
                    accepted += 1
                    after.append(tokens_after_stop() - before)
                    deep_tokens.append((end.cancelled_tokens or {}).get("deep", 0))
                    assert any(isinstance(e, Notice) for e in events)
            worst = max([worst, *after])
            p50 = f"{statistics.median(deep_tokens):.0f}" if deep_tokens else "—"
            print(
                f"{family} L{level:<4} {accepted:>4}/{len(problems):<4} {max(after, default=0):>15}"
                f" {sum(after):>6} {p50:>16}"
            )
    print(f"worst tokens generated after an accepted fast answer stopped deep: {worst}")
    await engine.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="problems per level (default 20)")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.seed))
