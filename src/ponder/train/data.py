"""Training examples: task problems rendered in the chat format, tokenized, with a loss mask."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tokenizers import Tokenizer

from ponder import tasks
from ponder.models.chat_format import END, THINK_CLOSE, render_completion, render_prompt
from ponder.tasks import ledger
from ponder.train.tokenizer import build_tokenizer

__all__ = ["IGNORE", "MIXTURE", "Example", "Stream", "build_tokenizer", "eval_set", "example"]

IGNORE = -100

# (family, level, deep?) -> share of training examples. Harder levels get more deep
# examples (ledger level 3 alone is about 42% of the tokens, the ledger 70%). Fast examples
# are short, about 5% of the tokens for 27% of the examples, and go mostly to the easiest
# levels, where a direct answer is within a small model's reach: that is where routing to fast
# pays (fast arithmetic level 1 rose from 0.09 to 0.12 after one run left it at 42%).
MIXTURE: dict[tuple[str, int, bool], float] = {
    ("arith", 1, True): 0.015,
    ("arith", 2, True): 0.12,
    ("arith", 3, True): 0.025,
    ("arith", 4, True): 0.13,
    ("ledger", 1, True): 0.02,
    ("ledger", 2, True): 0.165,
    ("ledger", 3, True): 0.255,
    ("arith", 1, False): 0.12,
    ("arith", 2, False): 0.02,
    ("arith", 3, False): 0.02,
    ("arith", 4, False): 0.01,
    ("ledger", 1, False): 0.07,
    ("ledger", 2, False): 0.02,
    ("ledger", 3, False): 0.01,
}
# Share of deep examples whose thought is cut short and closed, as budget forcing does:
# the model learns to answer (a guess) right after a forced </think>.
FORCED_SHARE = 0.05
# Share of deep ledger examples (levels 2 and 3) drawn again until their ranking has a
# comparison only the units digit decides (``051 vs 052``): about one problem in six has one
# naturally, and they were where v6's rankings went wrong.
CLOSE_SHARE = 0.3


@dataclass(frozen=True)
class Example:
    ids: list[int]
    labels: list[int]
    family: str
    level: int
    deep: bool


def encode(tok: Tokenizer, prompt_text: str, completion: str, family: str, level: int,
           deep: bool) -> Example:
    p = tok.encode(prompt_text).ids
    c = tok.encode(completion).ids
    return Example(p + c, [IGNORE] * len(p) + c, family, level, deep)


def example(tok: Tokenizer, problem: tasks.Problem, deep: bool, rng: random.Random,
            forced: bool = False) -> Example:
    solution = tasks.solve(problem.prompt)
    assert solution is not None and solution.answer == problem.answer, problem
    if forced:
        cut = rng.randint(0, max(0, len(solution.thoughts) - 1))
        prompt_text = render_prompt(problem.prompt, thinking=True) + solution.thoughts[:cut]
        return encode(tok, prompt_text + THINK_CLOSE, solution.answer + END,
                      problem.family, problem.level, True)
    return encode(tok, render_prompt(problem.prompt, thinking=deep),
                  render_completion(solution.thoughts, solution.answer, thinking=deep),
                  problem.family, problem.level, deep)


class Stream:
    """An endless, seeded stream of training examples drawn from the train split."""

    def __init__(self, tok: Tokenizer, seed: int) -> None:
        self.tok = tok
        self.rng = random.Random(seed)
        self.keys = list(MIXTURE)
        self.weights = [MIXTURE[k] for k in self.keys]
        self.count = 0

    def next(self) -> Example:
        family, level, deep = self.rng.choices(self.keys, self.weights)[0]
        self.count += 1
        problem = self._problem(family, level)
        if family == "ledger" and deep and level > 1 and self.rng.random() < CLOSE_SHARE:
            while not ledger.close_calls(_parsed(problem)):
                problem = self._problem(family, level)
        forced = deep and self.rng.random() < FORCED_SHARE
        return example(self.tok, problem, deep, self.rng, forced)

    def _problem(self, family: str, level: int) -> tasks.Problem:
        return tasks.generate(family, level, 1, seed=self.rng.getrandbits(48), split="train")[0]


def _parsed(problem: tasks.Problem) -> ledger.Ledger:
    parsed = ledger.parse(problem.prompt)
    assert parsed is not None, problem
    return parsed


def eval_set(tok: Tokenizer, n: int, seed: int) -> list[Example]:
    """Held-out examples in both modes, ``n`` per family, level and mode."""
    rng = random.Random(seed)
    out = []
    for family, levels in tasks.families().items():
        for level in levels:
            for problem in tasks.generate(family, level, n, seed=seed, split="heldout"):
                for deep in (True, False):
                    out.append(example(tok, problem, deep, rng))
    return out
